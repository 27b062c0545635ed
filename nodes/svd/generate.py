"""Image to video in one call: conditioning, sampling and decoding with one progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conditioning import prepare_conditioning
from .decoding import decode_latents, decode_steps
from .sampling import check_sampling_params, sample_latents
from .types import SVDModel
from .validation import check_int

if TYPE_CHECKING:  # pragma: no cover
    import torch


class OffsetProgress:
    """Maps a stage's own step counter onto a shared bar (sampling steps, then decode chunks)."""

    def __init__(self, progress: Any, offset: int):
        self.progress, self.offset = progress, offset

    def update(self, value: int, preview: Any = None) -> None:
        if self.progress is not None:
            self.progress.update(self.offset + value, preview=preview)


def effective_chunk(model: SVDModel, decode_chunk_size: int) -> int:
    """The decode chunk actually used: the model's load-time hint (if any) caps the request."""
    return min(decode_chunk_size, model.decode_chunk_size or decode_chunk_size)


def total_progress_steps(model: SVDModel, steps: int, num_frames: int, decode_chunk_size: int) -> int:
    """Progress updates image_to_video makes: one per sampling step, one per decoded chunk."""
    return steps + decode_steps(num_frames or model.num_frames, effective_chunk(model, decode_chunk_size))


def image_to_video(
    model: SVDModel,
    image: torch.Tensor,
    width: int = 1024,
    height: int = 576,
    resize: str = "crop",
    num_frames: int = 0,
    fps: int = 7,
    motion_bucket_id: int = 127,
    cond_aug: float = 0.02,
    seed: int = 0,
    steps: int = 25,
    min_guidance_scale: float = 1.0,
    max_guidance_scale: float = 3.0,
    decode_chunk_size: int = 8,
    progress: Any = None,
) -> tuple[torch.Tensor, float]:
    """(IMAGE [F, H, W, 3], fps) for `image`; every input is checked before any model runs."""
    check_sampling_params(seed, steps, min_guidance_scale, max_guidance_scale)
    check_int("decode_chunk_size", decode_chunk_size, 1, 128)
    cond = prepare_conditioning(
        model, image, width, height, resize, num_frames, fps, motion_bucket_id, cond_aug
    )
    latent = sample_latents(
        model, cond, seed, steps, min_guidance_scale, max_guidance_scale, progress=OffsetProgress(progress, 0)
    )
    del cond
    return decode_latents(model, latent, decode_chunk_size, progress=OffsetProgress(progress, steps))
