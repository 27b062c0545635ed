"""One in-between frame at time t from two frames and their motion both ways.

1. The motion is *forward-splatted* to where each pixel is at time t (A's pixels travel t of
   their flow, B's pixels 1-t of theirs backwards). Splatting, rather than reading the flow at
   the same position (the cheap "linear flow" guess), keeps a moving object in one piece
   instead of a ghosted double image.
2. Where several pixels land on one spot, the one whose colour agrees between A and B wins (a
   soft z-buffer: weight exp(-20 · grey mismatch)), so background hidden in the other frame
   does not overwrite a foreground object moving over it.
3. Whether a frame *sees* a spot at time t is how much of it landed there, counted without
   those weights: background that is about to be covered is still visible until it is
   covered, however badly it matches the other frame. (Counting with the weights made such
   spots "seen by neither" and they were cross-faded: a ghost of the object ahead of it.)
4. Spots nothing reached (holes) get the motion of their surroundings, failing that the
   linear guess; both neighbours are warped to time t and blended with weights (1-t, t),
   each only where it sees the spot, so uncovered background comes from the frame showing it.
"""

from __future__ import annotations

# Photo-consistency sharpness for the soft z-buffer (per unit of 0..1 grey difference).
_CONSISTENCY_SHARPNESS = 20.0
# How much landed mass counts as "this neighbour sees the spot".
_VISIBLE_MASS = 0.5


def consistency(source, target, flow, grid):
    """(per-pixel trust in 0..1, share of pixels the flow does not explain).

    A pixel is unexplained when its colour misses by more than half the frame's contrast (grey
    standard deviation), so the share means the same for dim and for contrasty footage.
    """
    import numpy as np

    from .flow import warp

    miss = np.abs(source - warp(target, flow, grid))
    unexplained = float((miss > max(0.01, 0.5 * float(source.std()))).mean())
    return np.exp(-_CONSISTENCY_SHARPNESS * miss).astype(np.float32), unexplained


def frame_at(a, b, flow_ab, flow_ba, trust_a, trust_b, t: float, grid, full=None):
    """The frame at time t (0 < t < 1) as float32 [H, W, 3] in 0..1.

    a, b, the flows, trusts and grid are at the working size; `full` is (A, B) as float32 RGB at
    the frame's own size when that is larger: the motion and visibility found small are scaled
    up and the full-size frames are warped with them, so detail is never lost to the working size.
    """
    import cv2
    import numpy as np

    from .flow import pixel_grid, warp

    motion, weight_a, weight_b = _motion_at(a, flow_ab, flow_ba, trust_a, trust_b, t, grid)
    rgb_a, rgb_b = (a.rgb, b.rgb) if full is None else full
    height, width = rgb_a.shape[:2]
    if (height, width) != a.grey.shape:
        size = (width, height)
        scale = np.float32([width / a.grey.shape[1], height / a.grey.shape[0]])
        motion = cv2.resize(motion, size, interpolation=cv2.INTER_LINEAR) * scale
        weight_a = cv2.resize(weight_a, size, interpolation=cv2.INTER_LINEAR)
        weight_b = cv2.resize(weight_b, size, interpolation=cv2.INTER_LINEAR)
        grid = pixel_grid(height, width)
    from_a = warp(rgb_a, -t * motion, grid)
    from_b = warp(rgb_b, (1 - t) * motion, grid)
    # OpenCV rather than NumPy broadcasting: at full size these few ops were a fifth of a pair.
    blended = cv2.add(
        cv2.multiply(from_a, cv2.merge([weight_a] * 3)), cv2.multiply(from_b, cv2.merge([weight_b] * 3))
    )
    return np.clip(blended, 0.0, 1.0, out=blended)


def _motion_at(a, flow_ab, flow_ba, trust_a, trust_b, t: float, grid):
    """(motion A->B of the content at each spot at time t, weight of A, weight of B) there."""
    import numpy as np

    height, width = a.grey.shape
    grid_x, grid_y = grid[..., 0], grid[..., 1]
    # Motion over the whole A->B interval, carried to each pixel's position at time t.
    sum_a, priority_a, mass_a = _splat(
        flow_ab,
        trust_a.ravel(),
        (grid_x + t * flow_ab[..., 0]).ravel(),
        (grid_y + t * flow_ab[..., 1]).ravel(),
        height,
        width,
    )
    sum_b, priority_b, mass_b = _splat(
        -flow_ba,
        trust_b.ravel(),
        (grid_x + (1 - t) * flow_ba[..., 0]).ravel(),
        (grid_y + (1 - t) * flow_ba[..., 1]).ravel(),
        height,
        width,
    )
    linear_guess = (1 - t) * flow_ab - t * flow_ba
    motion = _fill_holes(sum_a + sum_b, priority_a + priority_b, mass_a + mass_b, linear_guess)
    weight_a = (1 - t) * np.clip(mass_a / _VISIBLE_MASS, 0.0, 1.0)
    weight_b = t * np.clip(mass_b / _VISIBLE_MASS, 0.0, 1.0)
    total = weight_a + weight_b
    unseen = total < 1e-3  # neither side claims the spot: plain time weights
    weight_a = np.where(unseen, 1 - t, weight_a / np.maximum(total, 1e-3)).astype(np.float32)
    weight_b = np.where(unseen, t, weight_b / np.maximum(total, 1e-3)).astype(np.float32)
    return motion, weight_a, weight_b


def _splat(values, priorities, dest_x, dest_y, height: int, width: int):
    """Bilinear forward splat: (priority-weighted value sums, priority sums, plain mass) per pixel.

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
    bilinear = np.concatenate(((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy))
    weight = bilinear * np.tile(priorities.astype(np.float32), 4)
    size = padded_h * padded_w

    def accumulate(per_corner):
        canvas = np.bincount(index, per_corner, size)
        return canvas.reshape(padded_h, padded_w)[1:-1, 1:-1].astype(np.float32)

    flat_values = values.reshape(-1, values.shape[-1])
    sums = np.stack([accumulate(weight * np.tile(flat_values[:, c], 4)) for c in range(values.shape[-1])])
    return sums, accumulate(weight), accumulate(bilinear)


def _fill_holes(flow_sum, priority, mass, fallback):
    """Motion per spot: the priority-weighted mean of what landed there; where nothing landed,
    the neighbours' motion (normalised blur), else `fallback`."""
    import cv2
    import numpy as np

    flow = np.empty(mass.shape + (2,), np.float32)
    covered = mass > 1e-3
    # Priorities can be tiny (exp(-20 · mismatch)) yet meaningful relative to each other.
    safe_priority = np.maximum(priority, 1e-30)
    for channel in range(2):
        flow[..., channel] = np.where(covered, flow_sum[channel] / safe_priority, 0.0)
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
