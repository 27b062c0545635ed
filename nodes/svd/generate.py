"""Image to video in one call: conditioning, sampling and decoding with one progress bar.

This is the one image-to-video routine: the Image to Video node, Long Video (once per segment)
and the auto engine's local path all call `image_to_video` with an `SVDParams`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conditioning import prepare_conditioning
from .decoding import decode_latents, decode_steps
from .params import SVDParams
from .sampling import sample_latents
from .types import SVDModel

if TYPE_CHECKING:  # pragma: no cover
    import torch


class OffsetProgress:
    """Maps a stage's own step counter onto a shared bar (sampling steps, then decode chunks;
    Long Video also shifts each segment's bar past the segments before it)."""

    def __init__(self, progress: Any, offset: int):
        self.progress, self.offset = progress, offset

    def update(self, value: int, preview: Any = None) -> None:
        if self.progress is not None:
            self.progress.update(self.offset + value, preview=preview)


def effective_chunk(model: SVDModel, decode_chunk_size: int) -> int:
    """The decode chunk actually used: the model's load-time hint (if any) caps the request."""
    return min(decode_chunk_size, getattr(model, "decode_chunk_size", 0) or decode_chunk_size)


def total_progress_steps(model: SVDModel, params: SVDParams) -> int:
    """Progress updates image_to_video makes: one per sampling step, one per decoded chunk."""
    frames = params.num_frames or model.num_frames
    return params.steps + decode_steps(frames, effective_chunk(model, params.decode_chunk_size))


def image_to_video(
    model: SVDModel,
    image: torch.Tensor,
    params: SVDParams | None = None,
    progress: Any = None,
    **values: Any,
) -> tuple[torch.Tensor, float]:
    """(IMAGE [F, H, W, 3], fps) for `image` with `params` (keyword `values` override single
    parameters: `image_to_video(model, image, seed=3)`). Every parameter is checked before any
    model runs."""
    params = (params or SVDParams()).but(**values).check()
    p = params
    cond = prepare_conditioning(
        model, image, p.width, p.height, p.resize, p.num_frames, p.fps, p.motion_bucket_id, p.cond_aug
    )
    latent = sample_latents(
        model, cond, p.seed, p.steps, p.min_guidance_scale, p.max_guidance_scale,
        progress=OffsetProgress(progress, 0),
    )  # fmt: skip
    del cond
    return decode_latents(model, latent, p.decode_chunk_size, progress=OffsetProgress(progress, p.steps))
