"""Start every fake provider on loopback at once, with the environment that points the pack at them."""

from __future__ import annotations

from types import SimpleNamespace

from .fal import FakeFal
from .media import make_mp4
from .replicate import FakeReplicate
from .segmind import FakeSegmind
from .siliconflow import FakeSiliconFlow


def start_fakes(tmp_dir) -> SimpleNamespace:
    video = make_mp4()
    fal, replicate, segmind = FakeFal(video).start(), FakeReplicate(video).start(), FakeSegmind(video).start()
    siliconflow = FakeSiliconFlow(video).start()
    fakes = (fal, replicate, segmind, siliconflow)
    env = {
        "SVD_SUITE_FAL_QUEUE_URL": fal.url,
        "SVD_SUITE_REPLICATE_API_URL": replicate.url,
        "SVD_SUITE_SEGMIND_API_URL": segmind.url,
        "FAL_KEY": fal.key,
        "REPLICATE_API_TOKEN": replicate.key,
        "SEGMIND_API_KEY": segmind.key,
        "SVD_SUITE_SILICONFLOW_API_URL": f"{siliconflow.url}/v1",
        "SILICONFLOW_API_KEY": siliconflow.key,
        "SVD_SUITE_POLL_MIN_S": "0.05",
        "SVD_SUITE_POLL_MAX_S": "0.2",
        "SVD_SUITE_CONFIG": str(tmp_dir / "no-such-config.json"),
    }

    def stop():
        for fake in fakes:
            fake.stop()

    def reset():
        for fake in fakes:
            fake.reset()

    return SimpleNamespace(
        env=env,
        fal=fal,
        replicate=replicate,
        segmind=segmind,
        siliconflow=siliconflow,
        video=video,
        keys=tuple(fake.key for fake in fakes),
        stop=stop,
        reset=reset,
    )
