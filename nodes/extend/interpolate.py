"""Frame interpolation by dense optical flow: k-1 new frames between every pair of frames.

How one in-between frame at time t (0 < t < 1) between frames A and B is made:
1. Dense flow both ways (A->B and B->A) on 8-bit grey copies, with OpenCV's DIS estimator.
2. The A->B motion is *forward-splatted* to where each pixel is at time t (A's pixels travel t
   of their flow, B's pixels 1-t of theirs backwards). Splatting, rather than reading the flow
   at the same position (the cheap "linear flow" guess), keeps a moving object in one piece
   instead of a ghosted double image. Where several pixels land on one spot, the one whose
   colour agrees between A and B wins (a soft z-buffer), so the background does not overwrite
   a foreground object moving over it.
3. Spots no pixel reached (holes) get the flow of their surroundings (normalised blur), and
   failing that the linear-flow guess.
4. Both neighbours are warped to time t with cv2.remap and blended with weights (1-t, t),
   each weighted by whether that neighbour actually sees the spot (occlusion): a region that
   only exists in B (uncovered background) is taken from B alone.
A pair that the flow cannot explain at all (a scene cut) gets a plain cross-fade instead.

Memory: the output is allocated once and filled pair by pair; only the current pair's frames,
grey copies and flow fields exist at any time, so long clips stream.
"""

from __future__ import annotations

from typing import Any

from ..comfy import Progress, throw_if_interrupted
from .preview import frame_preview

MULTIPLIER_RANGE = (2, 8)
FPS_RANGE = (0.01, 120.0)

# Photo-consistency sharpness for the soft z-buffer (per unit of 0..1 grey difference).
_CONSISTENCY_SHARPNESS = 20.0
# How much splatted mass counts as "this neighbour sees the spot".
_VISIBLE_MASS = 0.5
# Above this share of unexplained pixels (both ways) a pair is a scene cut or a flash, not motion:
# measured 0.00-0.05 for pans, zooms, occluding objects and a 10% brightness change; 0.42-0.60
# for cuts between unrelated images (also low-contrast ones) and a 30% flash.
_SCENE_CUT_UNEXPLAINED = 0.3


def validate_interpolation(images: Any, fps: float, multiplier: int) -> None:
    """Raise a ValueError naming the input when the request cannot be served."""
    lo, hi = MULTIPLIER_RANGE
    if isinstance(multiplier, bool) or not isinstance(multiplier, int) or not lo <= multiplier <= hi:
        raise ValueError(f"multiplier: {multiplier!r} is not allowed; use a whole number from {lo} to {hi}")
    flo, fhi = FPS_RANGE
    if not isinstance(fps, (int, float)) or not flo <= float(fps) <= fhi:
        raise ValueError(f"fps: {fps!r} is not allowed; use a number from {flo} to {fhi}")
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[-1] not in (3, 4) or shape[0] < 1:
        raise ValueError(
            f"images: shape {shape} is not an IMAGE batch; expected [frames, height, width, 3] with at least 1 frame"
        )


def interpolated_frame_count(frames: int, multiplier: int) -> int:
    """(n - 1) * k + 1: every original frame kept, k - 1 new ones in each gap."""
    return (frames - 1) * multiplier + 1 if frames > 0 else 0


def interpolate_frames(images, fps: float, multiplier: int = 2, progress: Any = None):
    """Return (frames [(n-1)*k+1, H, W, 3] float32 0..1, fps * k).

    Original frames are copied unchanged to positions 0, k, 2k, ...; `progress` (optional, with
    `.update(value)`) advances once per pair, and the interrupt flag is checked per pair.
    """
    import torch

    validate_interpolation(images, fps, multiplier)
    frames, height, width = int(images.shape[0]), int(images.shape[1]), int(images.shape[2])
    out = torch.empty((interpolated_frame_count(frames, multiplier), height, width, 3), dtype=torch.float32)
    out[0] = images[0, ..., :3].to(device="cpu", dtype=torch.float32)
    if progress is None:
        progress = Progress(max(frames - 1, 1))
    previous = _PreparedFrame.from_tensor(images[0])
    for pair in range(frames - 1):
        throw_if_interrupted()
        current = _PreparedFrame.from_tensor(images[pair + 1])
        base = pair * multiplier
        for step, frame in enumerate(_in_betweens(previous, current, multiplier), start=1):
            out[base + step] = torch.from_numpy(frame)
        out[base + multiplier] = images[pair + 1, ..., :3].to(device="cpu", dtype=torch.float32)
        previous = current
        progress.update(pair + 1, preview=frame_preview(out[base + multiplier // 2]))
    return out, float(fps) * multiplier


class _PreparedFrame:
    """One frame as float32 RGB (for warping) and 8-bit grey (for flow), made once per frame."""

    __slots__ = ("rgb", "grey", "grey_float")

    def __init__(self, rgb):
        import cv2
        import numpy as np

        self.rgb = rgb
        self.grey_float = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self.grey = np.clip(self.grey_float * 255.0 + 0.5, 0, 255).astype(np.uint8)

    @classmethod
    def from_tensor(cls, frame) -> _PreparedFrame:
        import numpy as np

        rgb = frame[..., :3].detach().to("cpu").float().numpy()
        return cls(np.ascontiguousarray(rgb, dtype=np.float32))


def _dense_flow(source, target):
    """Flow field F with source(p) ~ target(p + F(p)), float32 [H, W, 2]."""
    import cv2

    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return estimator.calc(source, target, None)


def _in_betweens(a: _PreparedFrame, b: _PreparedFrame, multiplier: int):
    """Yield the multiplier - 1 frames strictly between a and b (float32 [H, W, 3])."""
    import numpy as np

    flow_ab = _dense_flow(a.grey, b.grey)
    flow_ba = _dense_flow(b.grey, a.grey)
    height, width = a.grey.shape
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    # How well each pixel's motion is explained: its colour at the other end of its flow.
    trust_a, unexplained_a = _consistency(a.grey_float, b.grey_float, flow_ab, grid_x, grid_y)
    trust_b, unexplained_b = _consistency(b.grey_float, a.grey_float, flow_ba, grid_x, grid_y)
    scene_cut = min(unexplained_a, unexplained_b) > _SCENE_CUT_UNEXPLAINED
    for step in range(1, multiplier):
        t = step / multiplier
        if scene_cut:  # no motion links the frames: warping would invent some, a dissolve does not
            yield ((1 - t) * a.rgb + t * b.rgb).astype(np.float32)
        else:
            yield _frame_at(a, b, flow_ab, flow_ba, trust_a, trust_b, t, grid_x, grid_y)


def _consistency(source, target, flow, grid_x, grid_y):
    """(per-pixel trust in 0..1, share of pixels the flow does not explain).

    A pixel is unexplained when its colour misses by more than half the frame's contrast (grey
    standard deviation), so the share means the same for dim and for contrasty footage.
    """
    import cv2
    import numpy as np

    landed = cv2.remap(
        target,
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    miss = np.abs(source - landed)
    unexplained = float((miss > max(0.01, 0.5 * float(source.std()))).mean())
    return np.exp(-_CONSISTENCY_SHARPNESS * miss).astype(np.float32), unexplained


def _splat(values, weights, dest_x, dest_y, height: int, width: int):
    """Bilinear forward splat: (sum of weighted values, sum of weights) per destination pixel.

    Splatting happens on a canvas with a one-pixel margin and destinations are clamped into it,
    so pixels that leave the frame land in the margin (dropped afterwards) instead of needing
    masks: one bincount per quantity over the four bilinear corners at once.
    """
    import numpy as np

    padded_w, padded_h = width + 2, height + 2
    x = np.clip(dest_x + 1.0, 0.0, padded_w - 1.0)
    y = np.clip(dest_y + 1.0, 0.0, padded_h - 1.0)
    x0 = np.minimum(np.floor(x), padded_w - 2)
    y0 = np.minimum(np.floor(y), padded_h - 2)
    fx = (x - x0).astype(np.float32)
    fy = (y - y0).astype(np.float32)
    corner = y0.astype(np.int64) * padded_w + x0.astype(np.int64)
    index = np.concatenate((corner, corner + 1, corner + padded_w, corner + padded_w + 1))
    weight = np.concatenate(((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy))
    weight *= np.tile(weights.astype(np.float32), 4)
    size = padded_h * padded_w

    def accumulate(per_source):
        canvas = (
            np.bincount(index, weight * np.tile(per_source, 4), size)
            if per_source is not None
            else (np.bincount(index, weight, size))
        )
        return canvas.reshape(padded_h, padded_w)[1:-1, 1:-1].astype(np.float32)

    flat_values = values.reshape(-1, values.shape[-1])
    sums = np.stack([accumulate(flat_values[:, channel]) for channel in range(values.shape[-1])])
    return sums, accumulate(None)


def _fill_holes(flow_sum, mass, fallback):
    """Flow where splatting left nothing: neighbours' flow (normalised blur), else `fallback`."""
    import cv2
    import numpy as np

    flow = np.empty(mass.shape + (2,), np.float32)
    covered = mass > 1e-3
    for channel in range(2):
        flow[..., channel] = np.where(covered, flow_sum[channel] / np.maximum(mass, 1e-3), 0.0)
    holes = ~covered
    if not holes.any():
        return flow
    weight = covered.astype(np.float32)
    sigma = max(2.0, 0.02 * max(mass.shape))
    blurred_weight = cv2.GaussianBlur(weight, (0, 0), sigma)
    for channel in range(2):
        blurred = cv2.GaussianBlur(flow[..., channel] * weight, (0, 0), sigma)
        filled = np.where(
            blurred_weight > 1e-3, blurred / np.maximum(blurred_weight, 1e-3), fallback[..., channel]
        )
        flow[..., channel] = np.where(holes, filled, flow[..., channel])
    return flow


def _frame_at(a, b, flow_ab, flow_ba, trust_a, trust_b, t, grid_x, grid_y):
    import cv2
    import numpy as np

    height, width = a.grey.shape
    # Motion over the whole A->B interval, carried to each pixel's position at time t.
    sum_a, mass_a = _splat(
        flow_ab,
        trust_a.ravel(),
        (grid_x + t * flow_ab[..., 0]).ravel(),
        (grid_y + t * flow_ab[..., 1]).ravel(),
        height,
        width,
    )
    sum_b, mass_b = _splat(
        -flow_ba,
        trust_b.ravel(),
        (grid_x + (1 - t) * flow_ba[..., 0]).ravel(),
        (grid_y + (1 - t) * flow_ba[..., 1]).ravel(),
        height,
        width,
    )
    linear_guess = (1 - t) * flow_ab - t * flow_ba
    motion = _fill_holes(sum_a + sum_b, mass_a + mass_b, linear_guess)
    from_a = cv2.remap(
        a.rgb,
        grid_x - t * motion[..., 0],
        grid_y - t * motion[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    from_b = cv2.remap(
        b.rgb,
        grid_x + (1 - t) * motion[..., 0],
        grid_y + (1 - t) * motion[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    weight_a = (1 - t) * np.clip(mass_a / _VISIBLE_MASS, 0.0, 1.0)
    weight_b = t * np.clip(mass_b / _VISIBLE_MASS, 0.0, 1.0)
    total = weight_a + weight_b
    unseen = total < 1e-3  # neither side claims the spot: plain time weights
    weight_a = np.where(unseen, 1 - t, weight_a / np.maximum(total, 1e-3))[..., None]
    weight_b = np.where(unseen, t, weight_b / np.maximum(total, 1e-3))[..., None]
    return np.clip(weight_a * from_a + weight_b * from_b, 0.0, 1.0).astype(np.float32)
