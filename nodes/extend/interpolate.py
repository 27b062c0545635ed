"""Frame interpolation by dense optical flow: k-1 new frames between every pair of frames.

How the in-betweens between frames A and B are made:
0. Motion is found on scaled-down copies when the frames are large (flow.working_sizes):
   at most 256 px on the longest side, the candidate search on at most 160..256 px.
1. DIS optical flow both ways (A->B, B->A) on 8-bit grey copies. A pair the flow cannot
   explain at all (a scene cut, a flash) gets a plain cross-fade instead.
2. The motion is refined both ways by a candidate search that holds up on textured scenes
   (flow.py: exhaustive block search, propagation, sub-pixel fit, edge and occlusion handling);
   DIS alone hugged the nearer frame when a small object moved over texture.
3. Each frame at time t is made by forward-splatting that motion and blending both neighbours
   where they see the spot (splat.py); the motion and visibility are scaled up and the
   full-size frames warped, so no detail is lost to the smaller working copies.

On a CUDA device (ComfyUI's, nodes/comfy.py) steps 2-3 run in torch there, both directions and
all in-betweens of a pair batched (flow_torch.py, splat_torch.py); DIS, the scene-cut test and
the occlusion fill stay on OpenCV. On a CPU the OpenCV/NumPy path runs: measured faster there.

Memory: the output is allocated once and filled pair by pair; only the current pair's frames,
their working copies and flow fields exist at any time, so long clips stream. The interrupt
flag is checked per pair (a pair takes well under a second at 1024x576 on a CPU).
"""

from __future__ import annotations

from typing import Any

from ..comfy import Progress, throw_if_interrupted, torch_device
from .flow import DIS_MIN_SIDE, PreparedFrame, dis_flow, pixel_grid, refined_flows, working_sizes
from .preview import frame_preview
from .splat import consistency, frame_at

MULTIPLIER_RANGE = (2, 8)
FPS_RANGE = (0.01, 120.0)

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


def interpolate_frames(
    images,
    fps: float,
    multiplier: int = 2,
    progress: Any = None,
    device: Any = None,
    in_torch: bool | None = None,
):
    """Return (frames [(n-1)*k+1, H, W, 3] float32 0..1, fps * k).

    Original frames are copied unchanged to positions 0, k, 2k, ...; `progress` (optional, with
    `.update(value)`) advances once per pair, and the interrupt flag is checked per pair.
    `device` (default: ComfyUI's, nodes/comfy.py): on a CUDA device the candidate search,
    splatting and compositing run in torch there (flow_torch.py, splat_torch.py; DIS and the
    occlusion fill stay on OpenCV), elsewhere with OpenCV/NumPy (measured faster on a CPU);
    `in_torch` overrides that choice (tests and bench/ run the torch path on a CPU).
    """
    import torch

    validate_interpolation(images, fps, multiplier)
    device = torch.device(device) if device is not None else torch_device()
    compose_on = device if (device.type == "cuda" if in_torch is None else in_torch) else None
    frames, height, width = int(images.shape[0]), int(images.shape[1]), int(images.shape[2])
    out = torch.empty((interpolated_frame_count(frames, multiplier), height, width, 3), dtype=torch.float32)
    # Filled through a NumPy view: the frames are NumPy already, and small torch element-wise
    # copies on a busy CPU cost more than the copies themselves (its thread pool contends with
    # OpenCV's).
    out_array = out.numpy()
    if progress is None:
        progress = Progress(max(frames - 1, 1))
    previous = _Pair(images[0])
    out_array[0] = previous.rgb
    for pair in range(frames - 1):
        throw_if_interrupted()
        current = _Pair(images[pair + 1])
        base = pair * multiplier
        for step, frame in enumerate(_in_betweens(previous, current, multiplier, compose_on), start=1):
            out_array[base + step] = frame
        out_array[base + multiplier] = current.rgb
        previous = current
        progress.update(pair + 1, preview=frame_preview(out[base + multiplier // 2]))
    return out, float(fps) * multiplier


class _Pair:
    """One frame at the three sizes the in-betweens use (the same object where sizes agree):
    `search` for the candidate search, `motion` for the sub-pixel polish, splatting and
    visibility, `rgb` (float32, its own size) for the warps that make the output."""

    __slots__ = ("search", "motion", "rgb", "_on_device")

    def __init__(self, frame):
        import numpy as np

        self.rgb = np.ascontiguousarray(frame[..., :3].detach().to("cpu").float().numpy(), dtype=np.float32)
        height, width = self.rgb.shape[:2]
        motion_size, search_size = working_sizes(height, width)
        self.motion = PreparedFrame(_resized(self.rgb, motion_size))
        self.search = self.motion if search_size == motion_size else self.motion.resized(*search_size)
        self._on_device = None

    def on(self, device):
        """(full-size RGB, motion-size grey) as tensors on `device`; moved once, used by two pairs."""
        import torch

        if self._on_device is None:
            self._on_device = tuple(
                torch.from_numpy(array).to(device) for array in (self.rgb, self.motion.grey_float)
            )
        return self._on_device


def _resized(rgb, size):
    import cv2

    if size == (rgb.shape[1], rgb.shape[0]):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _cross_fade(first: _Pair, second: _Pair, multiplier: int):
    import numpy as np

    for step in range(1, multiplier):
        t = step / multiplier
        yield ((1 - t) * first.rgb + t * second.rgb).astype(np.float32)


def _in_betweens(first: _Pair, second: _Pair, multiplier: int, compose_on=None):
    """Yield the multiplier - 1 frames strictly between two frames (float32 [H, W, 3]); the
    search, splatting and compositing in torch on `compose_on` when given (batched per pair)."""
    import cv2
    import numpy as np

    a, b = first.search, second.search
    if min(a.grey.shape) < DIS_MIN_SIDE:
        yield from _cross_fade(first, second, multiplier)  # too small to estimate motion
        return
    dis_ab, dis_ba = dis_flow(a.grey, b.grey), dis_flow(b.grey, a.grey)
    grid = pixel_grid(*a.grey.shape)
    # Scene cut test on DIS's smooth fields (the thresholds were measured on them): the refined
    # fields search for the best match everywhere and would explain even unrelated images a bit.
    _, unexplained_a = consistency(a.grey_float, b.grey_float, dis_ab, grid)
    _, unexplained_b = consistency(b.grey_float, a.grey_float, dis_ba, grid)
    if min(unexplained_a, unexplained_b) > _SCENE_CUT_UNEXPLAINED:
        # No motion links the frames: warping would invent some, a dissolve does not.
        yield from _cross_fade(first, second, multiplier)
        return
    if compose_on is not None:
        from . import flow_torch

        flow_ab, flow_ba = flow_torch.refined_flows(a, b, dis_ab, dis_ba, compose_on)
        yield from _in_betweens_in_torch(first, second, flow_ab, flow_ba, multiplier, compose_on)
        return
    flow_ab, flow_ba = refined_flows(a, b, dis_ab, dis_ba)
    a, b = first.motion, second.motion
    if a is not first.search:
        # Motion found on the small search frames is scaled up and polished on the larger ones:
        # whole-pixel matches there are sub-pixel here.
        height, width = a.grey.shape
        grid = pixel_grid(height, width)
        factor = np.float32([width / dis_ab.shape[1], height / dis_ab.shape[0]])
        flow_ab, flow_ba = (
            cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * factor
            for flow in (flow_ab, flow_ba)
        )
    trust_a, _ = consistency(a.grey_float, b.grey_float, flow_ab, grid)
    trust_b, _ = consistency(b.grey_float, a.grey_float, flow_ba, grid)
    full = None if first.rgb.shape[:2] == a.grey.shape else (first.rgb, second.rgb)
    for step in range(1, multiplier):
        yield frame_at(a, b, flow_ab, flow_ba, trust_a, trust_b, step / multiplier, grid, full)


def _in_betweens_in_torch(first: _Pair, second: _Pair, flow_ab, flow_ba, multiplier: int, device):
    """The rest of _in_betweens in torch (splat_torch.py): the fields found at the search size
    are moved to `device`, scaled to the motion size, and all in-betweens made in one batch."""
    import torch

    from . import splat_torch

    (rgb_a, grey_a), (rgb_b, grey_b) = first.on(device), second.on(device)
    height, width = grey_a.shape
    flows = []
    for flow in (flow_ab, flow_ba):
        field = torch.from_numpy(flow).to(device).permute(2, 0, 1)
        if tuple(field.shape[1:]) != (height, width):
            scale = torch.tensor([width / field.shape[2], height / field.shape[1]], device=device)
            field = splat_torch.resized(field, height, width) * scale.view(2, 1, 1)
        flows.append(field.permute(1, 2, 0))
    trust_a, _ = splat_torch.consistency(grey_a, grey_b, flows[0])
    trust_b, _ = splat_torch.consistency(grey_b, grey_a, flows[1])
    times = [step / multiplier for step in range(1, multiplier)]
    frames = splat_torch.frames_at(grey_a, flows[0], flows[1], trust_a, trust_b, times, (rgb_a, rgb_b))
    yield from frames.cpu().numpy()
