"""SVD image to video on whichever engine is available: local first, then hosted providers.

Engines are tried in the order the user gives. Local runs only when an SVD_MODEL is connected;
a provider only when its key is configured (otherwise it is skipped, and the summary says so).
A failing engine falls through to the next; a user interrupt never does.

Every engine gets the same `SVDParams`. Local passes them to the one image-to-video routine;
each provider module turns them into its own inputs (`inputs_for_svd`), fitting values into its
schema table's ranges. The node (in remote/nodes.py) is async, like the remote nodes: its remote
attempts wait on the provider without holding up other nodes of the prompt. The local engine
runs inline, as any ComfyUI node does.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import comfy
from ..svd.params import SVDParams
from .config import PROVIDERS, has_key

log = logging.getLogger("svd_suite")

ENGINES = ("local", "fal", "replicate", "segmind", "siliconflow")
# SiliconFlow runs Wan 2.2, not SVD, and needs a prompt: it is there for those who name it.
DEFAULT_ENGINES = "local,fal,replicate,segmind"


async def _run_fal(image, params: SVDParams, prompt: str, timeout_s: float, node_id):
    from .fal import AUTO_APP, fal_image_to_video, inputs_for_svd

    inputs = inputs_for_svd(params)
    return await fal_image_to_video(image, AUTO_APP, timeout_s, node_id=node_id, **inputs)


async def _run_replicate(image, params: SVDParams, prompt: str, timeout_s: float, node_id):
    from .replicate import inputs_for_svd, replicate_image_to_video

    return await replicate_image_to_video(image, timeout_s, node_id=node_id, **inputs_for_svd(params))


async def _run_segmind(image, params: SVDParams, prompt: str, timeout_s: float, node_id):
    from .segmind import inputs_for_svd, segmind_image_to_video

    return await segmind_image_to_video(image, timeout_s, node_id=node_id, **inputs_for_svd(params))


async def _run_siliconflow(image, params: SVDParams, prompt: str, timeout_s: float, node_id):
    from .siliconflow import inputs_for_image, siliconflow_video

    return await siliconflow_video(
        image, timeout_s=timeout_s, node_id=node_id, **inputs_for_image(image, params, prompt)
    )


# The hosted engines (they ignore width/height, steps and guidance: the providers choose those).
REMOTE_RUNNERS: dict[str, Callable[..., Any]] = {
    "fal": _run_fal,
    "replicate": _run_replicate,
    "segmind": _run_segmind,
    "siliconflow": _run_siliconflow,
}
NEEDS_PROMPT = {"siliconflow"}


def _run_local(svd_model, image, params: SVDParams, node_id):
    from ..svd.generate import image_to_video, total_progress_steps

    if params.seed < 0:  # the auto node's -1 means random, as on the remote nodes
        params = params.but(seed=random.randrange(2**32))
    progress = comfy.Progress(total_progress_steps(svd_model, params), node_id=node_id)
    return image_to_video(svd_model, image, params, progress=progress)


@dataclass
class AutoResult:
    images: Any
    fps: float
    engine: str
    video: Any = None  # RemoteVideo for hosted engines
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return "; ".join([*self.notes, f"{self.engine}: used"])


def parse_engines(engines: str) -> list[str]:
    names = [name.strip().lower() for name in (engines or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown or not names:
        raise ValueError(
            f"engines={engines!r}: use a comma-separated order of {', '.join(ENGINES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return list(dict.fromkeys(names))


async def auto_image_to_video(
    image,
    engines: str = DEFAULT_ENGINES,
    svd_model=None,
    params: SVDParams | None = None,
    timeout_s: float = 600,
    prompt: str = "",
    node_id: str | None = None,
    **values: Any,
) -> AutoResult:
    """Try each engine in order; returns the first success, or raises with every engine's reason.

    `params` (keyword `values` override single parameters) go to every engine; their seed
    defaults to -1 here: random.
    """
    params = (params or SVDParams(seed=-1)).but(**values)
    prompt = (prompt or "").strip()
    notes: list[str] = []
    for engine in parse_engines(engines):
        if engine == "local" and svd_model is None:
            notes.append("local: skipped (no svd_model connected)")
            continue
        if engine != "local" and not has_key(engine):
            notes.append(f"{engine}: skipped (no key: set {PROVIDERS[engine].key_help})")
            continue
        if engine in NEEDS_PROMPT and not prompt:
            notes.append(f"{engine}: skipped (needs a prompt: fill in `prompt`)")
            continue
        comfy.throw_if_interrupted()
        try:
            if engine == "local":
                images, out_fps = _run_local(svd_model, image, params, node_id)
                result = AutoResult(images, float(out_fps), engine, None, notes)
            else:
                video = await REMOTE_RUNNERS[engine](image, params, prompt, timeout_s, node_id)
                result = AutoResult(video.images, video.fps, engine, video, notes)
        except Exception as exc:
            if comfy.is_interrupt(exc):
                raise  # a cancel is the user's decision: never try the next engine
            notes.append(f"{engine}: failed ({exc})")
            log.warning("SVD Suite auto engine: %s failed, trying the next engine: %s", engine, exc)
            continue
        log.info("SVD Suite auto engine: %s", result.summary)
        return result
    raise RuntimeError("no engine could make the video: " + "; ".join(notes))
