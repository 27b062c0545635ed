"""pytest fixtures that start the fake provider servers for a whole session.

`fake_providers.env` holds the environment (base URLs, test keys, a tiny poll interval, a config
path that does not exist) that the ComfyUI server fixture passes to the real server, so remote
nodes inside it talk to these fakes. `fake_providers.fal/.replicate/.segmind/.siliconflow` are the
fakes.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

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


@pytest.fixture(scope="session")
def fake_providers(tmp_path_factory):
    fakes = start_fakes(tmp_path_factory.mktemp("fake-providers"))
    try:
        yield fakes
    finally:
        fakes.stop()


@pytest.fixture
def remote_env(fake_providers, monkeypatch, tmp_path):
    """Unit-test setting: fakes reset, their env applied, output/ in a temp dir, interrupt cleared.

    Yields the fakes namespace with `.output` (the svd-remote output folder).
    """
    from support.pack import load_pack

    load_pack()
    from svd_suite.nodes import comfy

    fake_providers.reset()
    for name in ("FAL_KEY_ID", "FAL_KEY_SECRET", "REPLICATE_BASE_URL", "SVD_SUITE_SILICONFLOW_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_providers.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(comfy, "_FALLBACK_BASE", str(tmp_path))
    comfy.request_interrupt(False)
    fake_providers.output = tmp_path / "output" / "svd-remote"
    yield fake_providers
    comfy.request_interrupt(False)
