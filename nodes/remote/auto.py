"""SVD image to video on whichever engine is available: local first, then hosted providers.

Engines are tried in the order the user gives. Local runs only when an SVD_MODEL is connected;
a provider only when its key is configured (otherwise it is skipped, and the summary says so).
A failing engine falls through to the next; a user interrupt never does.

The node is async (like the remote nodes): its remote attempts wait on the provider without
holding up other nodes of the prompt. The local engine runs inline, as any ComfyUI node does.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import comfy
from .config import PROVIDERS, has_key
from .widgets import CATEGORY, COND_AUG, HIDDEN, IMAGE_TIP, MOTION, SEED, TIMEOUT, is_changed_for_seed

log = logging.getLogger("svd_suite")

ENGINES = ("local", "fal", "replicate", "segmind", "siliconflow")
# SiliconFlow runs Wan 2.2, not SVD, and needs a prompt: it is there for those who name it.
DEFAULT_ENGINES = "local,fal,replicate,segmind"


def _clamp(value, low, high):
    return max(low, min(high, value))


async def _run_fal(image, p: dict, node_id):
    from .fal import fal_image_to_video

    return await fal_image_to_video(
        image,
        app="fal-ai/stable-video",
        motion_bucket_id=p["motion_bucket_id"],
        cond_aug=_clamp(p["cond_aug"], 0.0, 10.0),
        fps=_clamp(p["fps"], 10, 100),
        seed=p["seed"],
        timeout_s=p["timeout_s"],
        node_id=node_id,
    )


async def _run_replicate(image, p: dict, node_id):
    from .replicate import replicate_image_to_video

    length = "25_frames_with_svd_xt" if p["num_frames"] > 14 else "14_frames_with_svd"
    return await replicate_image_to_video(
        image,
        video_length=length,
        frames_per_second=_clamp(p["fps"], 5, 30),
        motion_bucket_id=p["motion_bucket_id"],
        cond_aug=p["cond_aug"],
        seed=p["seed"],
        timeout_s=p["timeout_s"],
        node_id=node_id,
    )


async def _run_segmind(image, p: dict, node_id):
    from .segmind import segmind_image_to_video

    return await segmind_image_to_video(
        image,
        fps=_clamp(p["fps"], 1, 60),
        motion=_clamp(p["motion_bucket_id"], 1, 180),
        seed=p["seed"],
        cond_aug=_clamp(p["cond_aug"], 0.0, 1.0),
        frames="25" if p["num_frames"] > 14 else "14",
        timeout_s=p["timeout_s"],
        node_id=node_id,
    )


def image_size_for(image) -> str:
    """SiliconFlow's size closest to the image's shape: landscape, portrait or square."""
    height, width = int(image.shape[1]), int(image.shape[2])
    if width > 1.2 * height:
        return "1280x720"
    if height > 1.2 * width:
        return "720x1280"
    return "960x960"


async def _run_siliconflow(image, p: dict, node_id):
    from .siliconflow import siliconflow_video

    return await siliconflow_video(
        image,
        model="Wan-AI/Wan2.2-I2V-A14B",
        prompt=p["prompt"],
        image_size=image_size_for(image),
        seed=p["seed"],
        timeout_s=p["timeout_s"],
        node_id=node_id,
    )


# How our shared SVD parameters map onto each hosted engine (remote engines ignore width/height,
# steps and guidance: the providers choose those; out-of-range values are clamped to the provider's range).
REMOTE_RUNNERS: dict[str, Callable[[Any, dict, Any], Any]] = {
    "fal": _run_fal,
    "replicate": _run_replicate,
    "segmind": _run_segmind,
    "siliconflow": _run_siliconflow,
}
NEEDS_PROMPT = {"siliconflow"}


def _run_local(svd_model, image, p: dict, node_id):
    from ..svd.generate import image_to_video, total_progress_steps

    seed = p["seed"] if p["seed"] >= 0 else random.randrange(2**32)
    progress = comfy.Progress(
        total_progress_steps(svd_model, p["steps"], p["num_frames"], 8), node_id=node_id
    )
    return image_to_video(
        svd_model,
        image,
        width=p["width"],
        height=p["height"],
        num_frames=p["num_frames"],
        fps=p["fps"],
        motion_bucket_id=p["motion_bucket_id"],
        cond_aug=p["cond_aug"],
        seed=seed,
        steps=p["steps"],
        min_guidance_scale=p["min_guidance_scale"],
        max_guidance_scale=p["max_guidance_scale"],
        progress=progress,
    )


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
    *,
    width: int = 1024,
    height: int = 576,
    num_frames: int = 0,
    fps: int = 7,
    motion_bucket_id: int = 127,
    cond_aug: float = 0.02,
    seed: int = -1,
    steps: int = 25,
    min_guidance_scale: float = 1.0,
    max_guidance_scale: float = 3.0,
    timeout_s: float = 600,
    prompt: str = "",
    node_id: str | None = None,
) -> AutoResult:
    """Try each engine in order; returns the first success, or raises with every engine's reason."""
    order = parse_engines(engines)
    params = {
        "width": width,
        "height": height,
        "num_frames": num_frames,
        "fps": fps,
        "motion_bucket_id": motion_bucket_id,
        "cond_aug": cond_aug,
        "seed": seed,
        "steps": steps,
        "min_guidance_scale": min_guidance_scale,
        "max_guidance_scale": max_guidance_scale,
        "timeout_s": timeout_s,
        "prompt": (prompt or "").strip(),
    }
    notes: list[str] = []
    for engine in order:
        if engine == "local" and svd_model is None:
            notes.append("local: skipped (no svd_model connected)")
            continue
        if engine != "local" and not has_key(engine):
            notes.append(f"{engine}: skipped (no key: set {PROVIDERS[engine].key_help})")
            continue
        if engine in NEEDS_PROMPT and not params["prompt"]:
            notes.append(f"{engine}: skipped (needs a prompt: fill in `prompt`)")
            continue
        comfy.throw_if_interrupted()
        try:
            if engine == "local":
                images, out_fps = _run_local(svd_model, image, params, node_id)
                result = AutoResult(images, float(out_fps), engine, None, notes)
            else:
                video = await REMOTE_RUNNERS[engine](image, params, node_id)
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


class SVDSuiteAutoImageToVideo:
    DESCRIPTION = (
        "Image to video on the first available engine: local SVD when a model is connected, then "
        "hosted providers with a configured key; falls back to the next engine on failure."
    )
    RETURN_TYPES = ("IMAGE", "FLOAT", "STRING")
    RETURN_NAMES = ("images", "fps", "engine")
    FUNCTION = "run"
    CATEGORY = CATEGORY
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": IMAGE_TIP}),
                "engines": (
                    "STRING",
                    {
                        "default": DEFAULT_ENGINES,
                        "tooltip": "Order to try, comma-separated: local, fal, replicate, segmind "
                        "(and siliconflow: Wan 2.2, needs a prompt).",
                    },
                ),
                "width": (
                    "INT",
                    {
                        "default": 1024,
                        "min": 64,
                        "max": 2048,
                        "step": 64,
                        "tooltip": "Output width (local engine; providers choose their own size).",
                    },
                ),
                "height": (
                    "INT",
                    {
                        "default": 576,
                        "min": 64,
                        "max": 2048,
                        "step": 64,
                        "tooltip": "Output height (local engine; providers choose their own size).",
                    },
                ),
                "num_frames": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 128,
                        "tooltip": "0 = model default; providers: >14 asks for 25 frames.",
                    },
                ),
                "fps": (
                    "INT",
                    {
                        "default": 7,
                        "min": 1,
                        "max": 60,
                        "tooltip": "Frames per second (clamped to each provider's range).",
                    },
                ),
                "motion_bucket_id": MOTION,
                "cond_aug": COND_AUG,
                "seed": SEED,
                "steps": (
                    "INT",
                    {"default": 25, "min": 1, "max": 200, "tooltip": "Sampling steps (local engine)."},
                ),
                "min_guidance_scale": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": 0.0,
                        "max": 20.0,
                        "step": 0.1,
                        "tooltip": "Guidance on the first frame (local engine).",
                    },
                ),
                "max_guidance_scale": (
                    "FLOAT",
                    {
                        "default": 3.0,
                        "min": 0.0,
                        "max": 20.0,
                        "step": 0.1,
                        "tooltip": "Guidance on the last frame (local engine).",
                    },
                ),
                "timeout_s": TIMEOUT,
            },
            "optional": {
                "svd_model": (
                    "SVD_MODEL",
                    {"tooltip": "Connect a loaded SVD model to allow the local engine."},
                ),
                "prompt": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "Text prompt for engines that take one (siliconflow); SVD engines ignore it.",
                    },
                ),
            },
            "hidden": HIDDEN,
        }

    @classmethod
    def IS_CHANGED(cls, seed=-1, **_):
        return is_changed_for_seed(seed)

    async def run(
        self,
        image,
        engines,
        width,
        height,
        num_frames,
        fps,
        motion_bucket_id,
        cond_aug,
        seed,
        steps,
        min_guidance_scale,
        max_guidance_scale,
        timeout_s,
        svd_model=None,
        prompt="",
        unique_id=None,
    ):
        result = await auto_image_to_video(
            image,
            engines,
            svd_model,
            width=width,
            height=height,
            num_frames=num_frames,
            fps=fps,
            motion_bucket_id=motion_bucket_id,
            cond_aug=cond_aug,
            seed=seed,
            steps=steps,
            min_guidance_scale=min_guidance_scale,
            max_guidance_scale=max_guidance_scale,
            timeout_s=timeout_s,
            prompt=prompt,
            node_id=unique_id,
        )
        ui = dict(result.video.ui()) if result.video is not None else {}
        ui["text"] = [result.summary]
        return {"ui": ui, "result": (result.images, result.fps, result.engine)}
