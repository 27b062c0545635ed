"""SVD conditioning: the start frame resized to the video size, and its CLIP image embedding.

The VAE latent of the start frame is *not* computed here: SVD adds cond_aug noise to the pixels
before encoding, and that noise is the first draw of the sampler's seeded generator (the
diffusers order), so the sampler encodes. Conditioning is the part that depends only on the
image, so ComfyUI can cache it across seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .params import CONDITIONING_PARAMS, RESIZE_DESCRIPTIONS, SVDParams
from .placement import with_image_encoder
from .types import SVDConditioning, SVDModel

if TYPE_CHECKING:  # pragma: no cover
    import torch

CLIP_SIZE = (224, 224)  # every SVD image encoder is a 224px CLIP ViT


# --------------------------------------------------------------------------- resize modes


def _requested(image_hw: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    return width, height


def _image_rounded(image_hw: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    h, w = image_hw
    return (min(max(64, round(w / 64) * 64), 2048), min(max(64, round(h / 64) * 64), 2048))


def _scale(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic with antialiasing on [1,3,h,w] 0..1; the identity when the size already matches."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def _stretch(x: torch.Tensor, width: int, height: int) -> torch.Tensor:
    return _scale(x, (height, width))


def _cover_then_crop(x: torch.Tensor, width: int, height: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    factor = max(width / w, height / h)
    sh, sw = max(height, math.ceil(h * factor - 1e-6)), max(width, math.ceil(w * factor - 1e-6))
    x = _scale(x, (sh, sw))
    top, left = (sh - height) // 2, (sw - width) // 2
    return x[:, :, top : top + height, left : left + width]


def _fit_then_pad(x: torch.Tensor, width: int, height: int) -> torch.Tensor:
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    factor = min(width / w, height / h)
    sh, sw = min(height, max(1, round(h * factor))), min(width, max(1, round(w * factor)))
    x = _scale(x, (sh, sw))
    top, left = (height - sh) // 2, (width - sw) // 2
    return F.pad(x, (left, width - sw - left, top, height - sh - top), value=0.0)


@dataclass(frozen=True)
class ResizeMode:
    """How a resize choice picks the output size and fits the image into it."""

    size: Callable[[tuple[int, int], int, int], tuple[int, int]]
    fit: Callable[[torch.Tensor, int, int], torch.Tensor]
    description: str


_RESIZE_FUNCTIONS = {
    "crop": (_requested, _cover_then_crop),
    "pad": (_requested, _fit_then_pad),
    "stretch": (_requested, _stretch),
    "keep": (_image_rounded, _stretch),
}
# The resize choices: their names and descriptions are declared with the parameters (params.py).
RESIZE_MODES: dict[str, ResizeMode] = {
    name: ResizeMode(*_RESIZE_FUNCTIONS[name], description)
    for name, description in RESIZE_DESCRIPTIONS.items()
}


def resize_frame(frame_hwc: torch.Tensor, width: int, height: int, resize: str) -> torch.Tensor:
    """[1,h,w,3] 0..1 → [1,H,W,3] 0..1 (contiguous) following the resize mode."""
    mode = RESIZE_MODES[resize]
    out_w, out_h = mode.size(tuple(frame_hwc.shape[1:3]), width, height)
    resized = mode.fit(frame_hwc.permute(0, 3, 1, 2), out_w, out_h)
    return resized.permute(0, 2, 3, 1).contiguous()


# --------------------------------------------------------------------------- CLIP embedding


def clip_pixels(frame_hwc: torch.Tensor, mean, std) -> torch.Tensor:
    """The CLIP input exactly as the pipeline builds it (docs/svd_notes.md §4.1).

    -1..1, antialiased bicubic to 224 with align_corners=True, back to 0..1, then mean/std with
    no rescale, crop or resize. The channels-last view matches the pipeline's memory layout.
    """
    import torch
    from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
        _resize_with_antialiasing,
    )

    x = frame_hwc.permute(0, 3, 1, 2)
    x = x * 2.0 - 1.0
    x = _resize_with_antialiasing(x, CLIP_SIZE)
    x = (x + 1.0) / 2.0
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


def encode_image_embeds(model: SVDModel, frame_hwc: torch.Tensor) -> torch.Tensor:
    """The conditional CLIP image embedding [1, 1, D] of a [1,H,W,3] frame."""
    import torch

    pixels = clip_pixels(frame_hwc, model.image_mean, model.image_std)

    def run(encoder) -> torch.Tensor:
        dtype = next(encoder.parameters()).dtype
        with torch.no_grad():
            return encoder(pixels.to(device=model.device, dtype=dtype)).image_embeds.unsqueeze(1)

    return with_image_encoder(model, run)


# --------------------------------------------------------------------------- public


def _first_frame(image) -> torch.Tensor:
    import torch

    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[-1] not in (3, 4):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image: expected an IMAGE tensor [frames, H, W, 3], got {shape}")
    if image.shape[0] == 0:
        raise ValueError("image: the image batch is empty (0 frames); connect an image")
    if image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"image: frame size {tuple(image.shape[1:3])} is empty")
    # Only the first frame starts the video; alpha is dropped as ComfyUI's IMAGE convention says.
    return image[:1, :, :, :3].to(device="cpu", dtype=torch.float32).contiguous()


def prepare_conditioning(
    model: SVDModel,
    image: torch.Tensor,
    width: int = 1024,
    height: int = 576,
    resize: str = "crop",
    num_frames: int = 0,
    fps: int = 7,
    motion_bucket_id: int = 127,
    cond_aug: float = 0.02,
) -> SVDConditioning:
    """Resize the first frame of `image` and embed it with CLIP (all inputs validated first)."""
    SVDParams(
        width=width, height=height, resize=resize, num_frames=num_frames, fps=fps,
        motion_bucket_id=motion_bucket_id, cond_aug=cond_aug,
    ).check(CONDITIONING_PARAMS)  # fmt: skip
    frame = _first_frame(image)
    resized = resize_frame(frame, width, height, resize)
    out_h, out_w = resized.shape[1:3]
    embeds = encode_image_embeds(model, resized)
    # 2x-1 on the channels-last view, exactly the pipeline's VideoProcessor.preprocess.
    init_image = 2.0 * resized.permute(0, 3, 1, 2) - 1.0
    return SVDConditioning(
        image_embeds=embeds,
        init_image=init_image,
        width=int(out_w),
        height=int(out_h),
        num_frames=int(num_frames) or model.num_frames,
        fps=int(fps),
        motion_bucket_id=int(motion_bucket_id),
        cond_aug=float(cond_aug),
        frame=resized,
    )
