"""Dense motion between two frames that holds up on textured scenes.

Why not DIS alone: DIS refines coarse-to-fine from zero motion with 8 px patches, so a small
object moving over a textured background is outvoted by the background at the coarse scales
and keeps (almost) zero motion: the in-between then hugs the nearer original frame. DIS also
smooths motion across object edges, so background next to a moving object is dragged along
(a halo). Measured on a 16 px textured disc moving 9 px diagonally over texture: DIS found
under 1 px of its motion.

So DIS is only the first of several *candidates*, and every pixel keeps the candidate that
matches best (sum of squared grey differences over a 5×5 window):
1. DIS (smooth, right for large smooth regions and camera motion), zero motion, and an
   exhaustive block search at half resolution (finds small fast objects DIS cannot).
2. Propagation: each pixel tries its neighbours' motion (8, 4, 2, 1 px away) and ±1 px
   steps, so a good match spreads over its region (PatchMatch-like), in two rounds (one
   round left a disc moving 12 px/frame 0.65 px off instead of 0.40).
3. Sub-pixel: two parabola fits per axis on the matching cost.
4. A 5×5 median removes isolated wrong picks, then a per-pixel colour test at object edges
   gives each pixel the motion of whichever neighbouring side it really belongs to (a 5×5
   window straddling an edge "fattens" the object by a few pixels): neighbours 1, 2, 4, 8 px
   away in 4 directions, one round (the former two rounds of 1, 2, 3, 5, 8 px in 8
   directions were no more accurate on the tests' discs, at 5 times the candidates).
5. Occlusion: where the two directions disagree (forward-backward check) on a textured pixel,
   the pixel is hidden in the other frame and no match means anything; it takes the motion
   of a consistent neighbour, choosing the one closest to the background's motion (a
   homography fitted to the consistent motion), since whatever is hidden is behind something.
   Disagreement on flat areas is only ambiguity (any motion matches), so those keep theirs.
6. Content that DIS sees leaving the frame keeps DIS's motion: it has nothing to match.

A candidate replaces the current one only when its cost is lower by more than the noise of
8-bit frames, so flat areas, where everything matches equally, keep DIS's smooth field.

Sizes (working_sizes): the cost grows with the pixel count times the number of candidates, so
larger frames are matched scaled down (INTER_AREA), and motion is smooth enough to be found
small and applied large. The search runs with the longest side at a quarter of the frame's,
kept within SEARCH_SIDE..MOTION_SIDE (160..256 px: smaller loses small objects, larger buys
no quality on the bench's scenes); splatting and visibility run at MOTION_SIDE; the output
frame is composed from the full-size frames (splat.py). Frames up to 160 px are matched at
their own size. Measured (bench/bench_interpolate_ffmpeg.py): at 512x288 and 1024x576 this
is 43-51 dB against 35-42 dB for FFmpeg's minterpolate, at 0.5-1.3x its time (docs/extend.md).
"""

from __future__ import annotations

import functools

import numpy as np

# Exhaustive search reach in (working-size) pixels, each way: motions up to this are found even
# for small objects; larger smooth motion still comes from DIS.
SEARCH_RADIUS = 16
# Longest sides (px) of the candidate search (at least; see working_sizes) and of the motion
# that is splatted: larger frames are scaled down to them.
SEARCH_SIDE = 160
MOTION_SIDE = 256
# Shortest side motion is estimated at; frames smaller than DIS_MIN_SIDE have no motion estimate
# (OpenCV's DIS rejects or crashes on images with a side under 12-16 px).
MIN_SIDE = 32
DIS_MIN_SIDE = 16
_WINDOW = 5
# Matching cost noise of 8-bit frames, per pixel of the window: smaller gains are ties.
_NOISE_PER_PIXEL = 1e-6
_PROPAGATION_STEPS = (8, 4, 2, 1)
_EDGE_STEPS = (1, 2, 4, 8)
_EDGE_DIAGONALS = False
_FILL_STEPS = (1, 2, 4, 8, 16)
# Forward-backward disagreement allowed: one pixel plus 10% of the motion. (DIS's smooth motion
# inside flat objects is off by ~0.5 px, so a tighter test flagged their edges as hidden.)
_CONSISTENT_PX, _CONSISTENT_SHARE = 1.0, 0.1
# Below this structure-tensor minimum eigenvalue (5×5, grey 0..1) a pixel is too flat for the
# forward-backward check to mean "occluded" (measured: smooth textures 2e-4 .. 5e-3).
_TEXTURED_MIN_EIGEN = 3e-4
# About this many consistent pixels (a regular subsample) fit the background's homography: RANSAC
# time grows with them, and the camera's motion needs far fewer (was 4000: 8 ms of a 50 ms pair).
_HOMOGRAPHY_POINTS = 1000


class PreparedFrame:
    """One frame as float32 RGB (warping, edge test) and grey, 8-bit for DIS and float for costs."""

    __slots__ = ("rgb", "grey", "grey_float")

    def __init__(self, rgb):
        import cv2

        self.rgb = rgb
        self.grey_float = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self.grey = np.clip(self.grey_float * 255.0 + 0.5, 0, 255).astype(np.uint8)

    @classmethod
    def from_tensor(cls, frame) -> PreparedFrame:
        rgb = frame[..., :3].detach().to("cpu").float().numpy()
        return cls(np.ascontiguousarray(rgb, dtype=np.float32))

    def resized(self, width: int, height: int) -> PreparedFrame:
        import cv2

        return PreparedFrame(cv2.resize(self.rgb, (width, height), interpolation=cv2.INTER_AREA))


def dis_flow(source, target):
    """OpenCV DIS flow F with source(p) ~ target(p + F(p)), float32 [H, W, 2] (8-bit grey in)."""
    import cv2

    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return estimator.calc(source, target, None)


@functools.lru_cache(maxsize=4)
def pixel_grid(height: int, width: int):
    """Pixel coordinates as float32 [H, W, 2] (x, y): the identity map for cv2.remap.

    Shared and read-only: every pair of a clip needs the same grids (working and full size)."""
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    grid = np.dstack([grid_x, grid_y])
    grid.flags.writeable = False
    return grid


def warp(image, flow, grid):
    """image sampled at p + flow(p) (bilinear, edges repeated)."""
    import cv2

    return cv2.remap(image, cv2.add(grid, flow), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def working_sizes(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((width, height) for motion, (width, height) for the candidate search), see module doc:
    the frame's own size when it fits, else scaled down to that longest side, but never with the
    shorter side under MIN_SIDE (a 40x2000 strip would otherwise shrink to 5 px, too thin for DIS)."""

    def fitted(side: int) -> tuple[int, int]:
        scale = min(1.0, max(side / max(height, width), MIN_SIDE / min(height, width)))
        return max(1, round(width * scale)), max(1, round(height * scale))

    search_side = min(MOTION_SIDE, max(SEARCH_SIDE, max(height, width) // 4))
    return fitted(MOTION_SIDE), fitted(search_side)


def refined_flows(a: PreparedFrame, b: PreparedFrame, dis_ab, dis_ba):
    """(flow A->B, flow B->A), each float32 [H, W, 2], refined from the DIS fields (see module doc)."""
    return _refined_at_size(a, b, dis_ab, dis_ba)


def _refined_at_size(a: PreparedFrame, b: PreparedFrame, dis_ab, dis_ba):
    grid = pixel_grid(*a.grey.shape)
    flow_ab = _one_direction(a, b, dis_ab, grid)
    flow_ba = _one_direction(b, a, dis_ba, grid)
    return _fill_hidden(a, flow_ab, flow_ba, grid), _fill_hidden(b, flow_ba, flow_ab, grid)


class _Matcher:
    """Keeps, per pixel, the best motion found so far and its matching cost.

    Costs: squared grey difference summed over a window, or (window 1, colour frames) the
    luma-weighted absolute colour difference of the pixel itself.
    """

    def __init__(self, source, target, grid, window: int):
        self.source, self.target, self.grid, self.window = source, target, grid, window
        self.flow = None
        self.cost = None
        self.noise = _NOISE_PER_PIXEL * window * window

    def cost_of(self, flow):
        import cv2

        difference = cv2.absdiff(self.source, warp(self.target, flow, self.grid))
        if difference.ndim == 3:
            difference = cv2.cvtColor(difference, cv2.COLOR_RGB2GRAY)
        else:
            difference = cv2.multiply(difference, difference)
        if self.window > 1:
            difference = cv2.boxFilter(difference, -1, (self.window, self.window), normalize=False)
        return difference

    def start(self, flow):
        self.flow = np.ascontiguousarray(flow, dtype=np.float32).copy()
        self.cost = self.cost_of(self.flow)

    def offer(self, candidate) -> None:
        cost = self.cost_of(candidate)
        # Flat indices of the winners: usually few, so this beats masked copies of whole fields.
        winners = np.flatnonzero(cost < self.cost - self.noise)
        if winners.size:
            self.flow.reshape(-1, 2)[winners] = candidate.reshape(-1, 2)[winners]
            self.cost.reshape(-1)[winners] = cost.reshape(-1)[winners]

    def offer_neighbours(self, steps, diagonals: bool) -> None:
        base = self.snapshot()
        for step in steps:
            offsets = [(step, 0), (-step, 0), (0, step), (0, -step)]
            if diagonals:
                offsets += [(step, step), (-step, -step), (step, -step), (-step, step)]
            for dx, dy in offsets:
                self.offer(self.shifted(base, dx, dy))

    def offer_unit_steps(self) -> None:
        base = self.snapshot()
        for delta in ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)):
            self.offer(self.plus(base, delta))

    def offer_around(self, field) -> None:
        """field and its 8 whole-pixel neighbours (the half-size search lands on even shifts)."""
        for dx in (-1.0, 0.0, 1.0):
            for dy in (-1.0, 0.0, 1.0):
                self.offer(self.plus(field, (dx, dy)))

    # Array primitives: flow_torch.py's matcher overrides these (and the cost and offer steps).
    def snapshot(self):
        return self.flow.copy()

    @staticmethod
    def shifted(field, dx: int, dy: int):
        return shifted(field, dx, dy)

    @staticmethod
    def plus(field, delta):
        return field + np.float32(delta)

    @staticmethod
    def parabola_moves(centre, plus_x, minus_x, plus_y, minus_y, step: float):
        """The (dx, dy) field to each axis's parabola minimum, at most step/2 either way."""
        moves = []
        for plus, minus in ((plus_x, minus_x), (plus_y, minus_y)):
            curvature = plus + minus - 2 * centre
            move = np.where(
                curvature > 1e-12, 0.5 * step * (minus - plus) / np.maximum(curvature, 1e-12), 0.0
            )
            moves.append(np.clip(move, -step / 2, step / 2))
        return np.dstack(moves).astype(np.float32)

    def subpixel(self, step: float) -> None:
        """One parabola fit per axis through the costs at -step, 0, +step."""
        centre = self.cost_of(self.flow)
        costs = [
            self.cost_of(self.plus(self.flow, delta))
            for delta in ((step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step))
        ]
        candidate = self.flow + self.parabola_moves(centre, *costs, step)
        self.cost = centre
        self.offer(candidate)


def search_candidates(matcher, dis, zero, searched) -> None:
    """Steps 1-3 of the module doc on a matcher (this module's or flow_torch.py's): DIS, zero
    motion and the block search's shifts, two propagation rounds, the sub-pixel fits."""
    matcher.start(dis)
    matcher.offer(zero)
    matcher.offer_around(searched)
    for _ in range(2):
        matcher.offer_unit_steps()
        matcher.offer_neighbours(_PROPAGATION_STEPS, diagonals=False)
    matcher.offer_unit_steps()
    for step in (1.0, 0.5):
        matcher.subpixel(step)


def shifted(field, dx: int, dy: int):
    """field moved by (dx, dy) pixels, edges repeated: each pixel sees its neighbour's value."""
    import cv2

    height, width = field.shape[:2]
    pad = max(abs(dx), abs(dy))
    padded = cv2.copyMakeBorder(field, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(padded[pad - dy : pad - dy + height, pad - dx : pad - dx + width])


def _one_direction(source: PreparedFrame, target: PreparedFrame, dis, grid):
    import cv2

    matcher = _Matcher(source.grey_float, target.grey_float, grid, _WINDOW)
    search_candidates(matcher, dis, np.zeros_like(dis), _block_search(source.grey_float, target.grey_float))
    flow = np.dstack([cv2.medianBlur(np.ascontiguousarray(matcher.flow[..., c]), 5) for c in range(2)])
    edges = _Matcher(source.rgb, target.rgb, grid, 1)
    edges.start(flow)
    edges.offer_neighbours(_EDGE_STEPS, diagonals=_EDGE_DIAGONALS)
    # Content that DIS sees leaving the frame has nothing to match in the other frame (only
    # repeated edge pixels), so matching would pick nonsense there: DIS's extrapolation stays.
    leaving = _outside(dis, grid)
    np.copyto(edges.flow, dis, where=leaving[..., None])
    return edges.flow


def _outside(flow, grid):
    """Where p + flow(p) falls more than half a pixel outside the frame."""
    height, width = flow.shape[:2]
    landing = grid + flow
    return (
        (landing[..., 0] < -0.5)
        | (landing[..., 0] > width - 0.5)
        | (landing[..., 1] < -0.5)
        | (landing[..., 1] > height - 0.5)
    )


def _block_search(source, target):
    """Best whole-pixel shift per pixel within ±SEARCH_RADIUS (5×5 SSD), searched at half size."""
    import cv2

    height, width = source.shape
    half = min(height, width) >= 32
    if half:
        size = (width // 2, height // 2)
        source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        target = cv2.resize(target, size, interpolation=cv2.INTER_AREA)
    radius = (SEARCH_RADIUS + 1) // 2 if half else SEARCH_RADIUS
    h, w = source.shape
    padded = cv2.copyMakeBorder(target, radius, radius, radius, radius, cv2.BORDER_REPLICATE)
    best = np.full((h, w), np.inf, np.float32)
    shift = np.zeros((h, w, 2), np.float32)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            moved = padded[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            difference = cv2.absdiff(source, moved)
            cost = cv2.boxFilter(cv2.multiply(difference, difference), -1, (_WINDOW, _WINDOW))
            better = np.flatnonzero(cost < best)
            best.reshape(-1)[better] = cost.reshape(-1)[better]
            shift.reshape(-1, 2)[better] = (dx, dy)
    if not half:
        return shift
    return cv2.resize(shift * 2.0, (width, height), interpolation=cv2.INTER_NEAREST)


def _fill_hidden(frame: PreparedFrame, flow, other, grid):
    """Give pixels hidden in the other frame the motion of their background (see module doc)."""
    import cv2

    back = warp(other, flow, grid)
    mismatch = cv2.magnitude(flow[..., 0] + back[..., 0], flow[..., 1] + back[..., 1])
    speed = cv2.magnitude(flow[..., 0], flow[..., 1])
    consistent = mismatch < _CONSISTENT_PX + _CONSISTENT_SHARE * speed
    textured = cv2.cornerMinEigenVal(frame.grey_float, 5, 3) >= _TEXTURED_MIN_EIGEN
    # Leaving the frame is not being hidden behind something: those keep their motion.
    hidden_y, hidden_x = np.nonzero(~consistent & textured & ~_outside(flow, grid))
    if hidden_y.size == 0 or not consistent.any():
        return flow
    background = _background_motion(flow, consistent, grid)[hidden_y, hidden_x]
    height, width = consistent.shape
    chosen = background.copy()
    closest = np.full(hidden_y.shape, np.inf, np.float32)
    # Only the hidden pixels are visited: each looks at consistent neighbours 1..16 px away.
    for step in _FILL_STEPS:
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)):
            ys = np.clip(hidden_y + dy * step, 0, height - 1)
            xs = np.clip(hidden_x + dx * step, 0, width - 1)
            candidate = flow[ys, xs]
            distance = np.hypot(*(candidate - background).T)
            take = consistent[ys, xs] & (distance < closest)
            chosen[take] = candidate[take]
            closest[take] = distance[take]
    filled = flow.copy()
    filled[hidden_y, hidden_x] = chosen
    return filled


def _background_motion(flow, consistent, grid):
    """The dominant (camera) motion as a field: a RANSAC homography through consistent motion."""
    import cv2

    stride = max(1, int(np.sqrt(consistent.size / _HOMOGRAPHY_POINTS)))
    sample = consistent[::stride, ::stride]
    points = grid[::stride, ::stride][sample]
    moved = points + flow[::stride, ::stride][sample]
    homography = None
    if len(points) >= 8:
        homography, _ = cv2.findHomography(points, moved, cv2.RANSAC, 1.0)
    if homography is None:
        median = np.median(flow[consistent], axis=0)
        return np.broadcast_to(median.astype(np.float32), flow.shape)
    mapped = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), homography).reshape(grid.shape)
    return (mapped - grid).astype(np.float32)
