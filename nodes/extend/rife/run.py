"""A clip through RIFE: pad, make the in-betweens pair by pair, crop, stream into the output.

Padding follows the reference: zeros on the right and bottom up to a multiple of the
architecture's modulo (32 for 4.7/4.17, 64 for 4.26), or of modulo / scale when scale is below
1 (the coarsest block then sees the frame scaled down further), cropped off afterwards.

Memory stays flat on long clips: the output IMAGE is allocated once (on the CPU, as ComfyUI
keeps IMAGEs) and filled pair by pair; on the device only the current pair, its encoder
features (each frame is encoded once and reused for the next pair) and one batch of at most
_TIMESTEPS_PER_BATCH in-betweens exist at a time.
"""

from __future__ import annotations

import math
from typing import Any

from ...comfy import Progress, throw_if_interrupted, torch_device
from ..preview import frame_preview
from .architectures import SCALES, Architecture
from .weights import RifeWeightsError, architecture_of, load_model

_TIMESTEPS_PER_BATCH = 4


def validate_rife_options(architecture: Architecture, scale: float, ensemble: bool) -> None:
    """Raise a ValueError naming the input when the options do not fit these weights."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or float(scale) not in SCALES:
        raise ValueError(f"scale: {scale!r} is not allowed; use one of {', '.join(map(str, SCALES))}")
    if not isinstance(ensemble, bool):
        raise ValueError(f"ensemble: {ensemble!r} is not allowed; use true or false")
    if ensemble and not architecture.supports_ensemble:
        raise ValueError(
            f"ensemble: RIFE {architecture.name} weights have no ensemble mode; turn ensemble off "
            "or choose a 4.7 or 4.17 file"
        )


def interpolate_rife(
    images,
    fps: float,
    multiplier: int,
    weights_path: str,
    scale: float = 1.0,
    ensemble: bool = False,
    progress: Any = None,
    device: Any = None,
):
    """Return (frames [(n-1)*k+1, H, W, 3] float32 0..1, fps * k) made by the RIFE weights at
    `weights_path`. Original frames are copied to positions 0, k, 2k, ...; `progress` advances
    and Cancel is checked once per pair (and per batch of in-betweens)."""
    import torch

    architecture = architecture_of(weights_path)
    if architecture is None:
        raise RifeWeightsError(f"method: {weights_path!r} has no supported RIFE layout")
    validate_rife_options(architecture, scale, ensemble)
    device = device if device is not None else torch_device()
    model = load_model(weights_path, device)

    frames, height, width = int(images.shape[0]), int(images.shape[1]), int(images.shape[2])
    multiple = architecture.padding_multiple(float(scale))
    padded = (math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple)
    out = torch.empty(((frames - 1) * multiplier + 1 if frames else 0, height, width, 3), dtype=torch.float32)
    if frames == 0:
        return out, float(fps) * multiplier
    out[0] = images[0, ..., :3].to(device="cpu", dtype=torch.float32)
    if progress is None:
        progress = Progress(max(frames - 1, 1))
    timesteps = torch.tensor([step / multiplier for step in range(1, multiplier)], dtype=torch.float32)

    def prepared(index: int):
        frame = images[index, ..., :3].to(device=device, dtype=torch.float32).permute(2, 0, 1).unsqueeze(0)
        return torch.nn.functional.pad(frame, (0, padded[1] - width, 0, padded[0] - height))

    with torch.inference_mode():
        previous = prepared(0)
        previous_features = model.features(previous)
        for pair in range(frames - 1):
            throw_if_interrupted()
            current = prepared(pair + 1)
            current_features = model.features(current)
            base = pair * multiplier
            for start in range(0, multiplier - 1, _TIMESTEPS_PER_BATCH):
                throw_if_interrupted()
                batch = timesteps[start : start + _TIMESTEPS_PER_BATCH]
                count = batch.shape[0]
                middle = model(
                    previous.expand(count, -1, -1, -1),
                    current.expand(count, -1, -1, -1),
                    batch.to(device),
                    previous_features.expand(count, -1, -1, -1),
                    current_features.expand(count, -1, -1, -1),
                    scale=float(scale),
                    ensemble=ensemble,
                )
                cropped = middle[:, :, :height, :width].permute(0, 2, 3, 1).clamp(0.0, 1.0)
                out[base + 1 + start : base + 1 + start + count] = cropped.to(
                    device="cpu", dtype=torch.float32
                )
            out[base + multiplier] = images[pair + 1, ..., :3].to(device="cpu", dtype=torch.float32)
            previous, previous_features = current, current_features
            progress.update(pair + 1, preview=frame_preview(out[base + multiplier // 2]))
    return out, float(fps) * multiplier
