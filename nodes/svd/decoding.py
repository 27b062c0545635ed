"""Chunked temporal VAE decode of an SVD latent into ComfyUI IMAGE frames.

The temporal decoder mixes frames only inside a chunk, so decode_chunk_size changes the video
(larger = smoother, more memory), not just the memory use. Frames are written chunk by chunk into
one preallocated output so no full-resolution copy of the video exists twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import comfy
from .memory import decode_working_bytes
from .params import DECODE_PARAMS, SVDParams
from .placement import in_use
from .types import SVDModel

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEFAULT_FPS = 7.0  # SVD's training fps, for latents that did not come from our sampler


def _latent_samples(latent: Any) -> torch.Tensor:
    import torch

    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor) or samples.ndim != 4 or samples.shape[0] == 0:
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"samples: expected a LATENT with samples [frames, 4, H/8, W/8], got {shape}")
    return samples


def decode_latents(
    model: SVDModel, latent: dict, decode_chunk_size: int = 8, progress: Any = None
) -> tuple[torch.Tensor, float]:
    """LATENT → (IMAGE [F, H, W, 3] float32 0..1 on the CPU, fps).

    `latent["samples"]` are unscaled VAE latents (what vae.decode consumes); `svd_fps` (set by
    sample_latents) is passed through, otherwise 7. A model loaded with a decode_chunk_size hint
    never decodes larger chunks than the hint.
    """
    SVDParams(decode_chunk_size=decode_chunk_size).check(DECODE_PARAMS)
    if model.decode_chunk_size:  # the model's hint is a memory cap chosen at load time
        decode_chunk_size = min(decode_chunk_size, model.decode_chunk_size)
    samples = _latent_samples(latent)
    channels = model.vae.config.latent_channels
    if samples.shape[1] != channels:
        raise ValueError(f"samples: latent has {samples.shape[1]} channels, the SVD VAE needs {channels}")
    import torch

    frames = samples.shape[0]
    scale = model.latent_scale
    height, width = samples.shape[2] * scale, samples.shape[3] * scale
    out = torch.empty((frames, height, width, 3), dtype=torch.float32)
    vae = model.vae
    chunks = range(0, frames, decode_chunk_size)
    working = decode_working_bytes(vae.dtype, min(decode_chunk_size, frames), height, width)
    with in_use(model, vae, working), torch.no_grad():
        for done, start in enumerate(chunks, 1):
            comfy.throw_if_interrupted()
            chunk = samples[start : start + decode_chunk_size].to(model.device, vae.dtype)
            decoded = vae.decode(chunk, num_frames=chunk.shape[0]).sample
            del chunk
            # The pipeline's postprocess, in its order: to float, *0.5+0.5, clamp.
            out[start : start + decoded.shape[0]] = (
                (decoded.float() * 0.5 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)
            )
            del decoded
            if progress is not None:
                progress.update(done)
    fps = latent.get("svd_fps", DEFAULT_FPS)
    return out, float(fps)


def decode_steps(frames: int, decode_chunk_size: int) -> int:
    """How many progress updates decode_latents makes (for sizing a progress bar)."""
    return max(1, -(-frames // decode_chunk_size))
