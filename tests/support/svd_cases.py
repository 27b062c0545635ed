"""Helpers shared by the SVD tests (no tests here): inputs, the pipeline oracle, our staged path.

The oracle is diffusers' own StableVideoDiffusionPipeline on the same model folder, fed a PIL
image of exactly the target size (no resize ambiguity); our path gets the same pixels as a
ComfyUI IMAGE tensor, built the way ComfyUI's LoadImage builds it.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dev.pack import load_pack

load_pack()

ATOL = 1e-4  # docs/svd_notes.md §3: fp32 SIMD results depend on memory alignment at the 1e-6 level


@dataclass(frozen=True)
class Case:
    """One generation's settings, named as in the pipeline's __call__ where they differ."""

    width: int = 64
    height: int = 64
    num_frames: int = 14
    steps: int = 2
    min_guidance_scale: float = 1.0
    max_guidance_scale: float = 3.0
    fps: int = 7
    motion_bucket_id: int = 127
    cond_aug: float = 0.02
    decode_chunk_size: int = 14
    seed: int = 1234

    def replace(self, **changes) -> Case:
        return Case(**{**asdict(self), **changes})


def random_image(width: int, height: int, seed: int = 0):
    """A smooth-ish random RGB PIL image (noise plus gradients, like a photo more than static)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx / max(width - 1, 1), yy / max(height - 1, 1), (xx + yy) / (width + height)], -1)
    pixels = np.clip(base * 200 + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def image_tensor(pil_image):
    """[1, H, W, 3] float32 0..1, exactly ComfyUI LoadImage's conversion."""
    import torch

    return torch.from_numpy(np.array(pil_image.convert("RGB")).astype(np.float32) / 255.0)[None]


@functools.lru_cache(maxsize=2)
def _pipeline(model_dir: str):
    from diffusers import StableVideoDiffusionPipeline

    pipe = StableVideoDiffusionPipeline.from_pretrained(model_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pipeline_frames(model_dir: Path, pil_image, case: Case) -> np.ndarray:
    """The oracle: diffusers' pipeline output_type="np" frames [F, H, W, 3]."""
    import torch

    pipe = _pipeline(str(model_dir))
    out = pipe(
        pil_image,
        height=case.height,
        width=case.width,
        num_frames=case.num_frames,
        num_inference_steps=case.steps,
        min_guidance_scale=case.min_guidance_scale,
        max_guidance_scale=case.max_guidance_scale,
        fps=case.fps,
        motion_bucket_id=case.motion_bucket_id,
        noise_aug_strength=case.cond_aug,
        decode_chunk_size=case.decode_chunk_size,
        generator=torch.Generator().manual_seed(case.seed),
        output_type="np",
    )
    return out.frames[0]


def staged_frames(model, image, case: Case, progress=None):
    """Our path: conditioning → sampler → decode; returns (frames tensor, fps)."""
    from svd_suite.nodes.svd import decode_latents, prepare_conditioning, sample_latents

    cond = prepare_conditioning(
        model,
        image,
        case.width,
        case.height,
        "crop",
        case.num_frames,
        case.fps,
        case.motion_bucket_id,
        case.cond_aug,
    )
    latent = sample_latents(
        model,
        cond,
        case.seed,
        case.steps,
        case.min_guidance_scale,
        case.max_guidance_scale,
        progress=progress,
    )
    return decode_latents(model, latent, case.decode_chunk_size)


class UNetCallCounter:
    """Counts UNet forward calls (a forward pre-hook) while used as a context manager."""

    def __init__(self, unet):
        self.unet, self.calls, self._handle = unet, 0, None

    def _hook(self, module, args):
        self.calls += 1

    def __enter__(self):
        self._handle = self.unet.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()
