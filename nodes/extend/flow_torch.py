"""flow.py's candidate search in torch, for a GPU: both directions of a pair in one batch.

What runs here (the same steps and constants as flow.py, see its module doc): the exhaustive
block search (all shifts as one cost volume), DIS and zero motion as candidates, the two
propagation rounds, the sub-pixel fits, the 5×5 median and the edge test. What stays on
OpenCV/NumPy on the CPU: DIS itself, and the occlusion fill (flow._fill_hidden: a RANSAC
homography and a walk over the few hidden pixels), on fields of at most 256 px.

Same fields as flow.py within float noise where the best candidate is clear; where two
candidates match equally well (flat areas), summation order can pick the other one, so
the test compares the frames that come out (tests/test_interpolate_torch.py).
"""

from __future__ import annotations

import functools

from .flow import (
    _EDGE_DIAGONALS,
    _EDGE_STEPS,
    _NOISE_PER_PIXEL,
    _WINDOW,
    SEARCH_RADIUS,
    PreparedFrame,
    _fill_hidden,
    pixel_grid,
    search_candidates,
)
from .flow import (
    _Matcher as _OpenCVMatcher,
)


def refined_flows(a: PreparedFrame, b: PreparedFrame, dis_ab, dis_ba, device):
    """flow.refined_flows with the search on `device`: NumPy (flow A->B, flow B->A)."""
    import numpy as np
    import torch

    def both(first, second):
        return torch.from_numpy(np.stack([first, second])).to(device)

    dis = both(dis_ab, dis_ba)
    flows = _one_direction_each(
        both(a.grey_float, b.grey_float),
        both(b.grey_float, a.grey_float),
        both(a.rgb, b.rgb),
        both(b.rgb, a.rgb),
        dis,
    )
    flow_ab, flow_ba = flows.cpu().numpy()
    pixels = pixel_grid(*a.grey.shape)
    return _fill_hidden(a, flow_ab, flow_ba, pixels), _fill_hidden(b, flow_ba, flow_ab, pixels)


def sample(image, x, y):
    """Batched cv2.remap: image [B, H, W, C] at positions x, y [B or T, H, W] (bilinear, edges
    repeated; one image serves all T position sets)."""
    import torch

    batch, height, width = image.shape[:3]
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = (x - x0).unsqueeze(-1), (y - y0).unsqueeze(-1)
    x0, y0 = x0.long(), y0.long()
    left, right = x0.clamp(0, width - 1), (x0 + 1).clamp(0, width - 1)
    base = torch.arange(batch, device=image.device).view(-1, 1, 1) * (height * width)
    top = base + y0.clamp(0, height - 1) * width
    bottom = base + (y0 + 1).clamp(0, height - 1) * width
    flat = image.reshape(batch * height * width, -1)
    upper = flat[top + left] * (1 - fx) + flat[top + right] * fx
    lower = flat[bottom + left] * (1 - fx) + flat[bottom + right] * fx
    return upper * (1 - fy) + lower * fy


@functools.lru_cache(maxsize=8)
def grid(height: int, width: int, device):
    """Pixel coordinates (x [H, W], y [H, W]) on `device`, shared by every pair of a clip."""
    import torch

    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float32, device=device),
        torch.arange(width, dtype=torch.float32, device=device),
        indexing="ij",
    )
    return xs, ys


def _box_sum(planes, window: int):
    """cv2.boxFilter(normalize=False) of [N, H, W] planes (reflect-101 border)."""
    import torch.nn.functional as F

    half = window // 2
    padded = F.pad(planes.unsqueeze(1), (half, half, half, half), mode="reflect")
    rows = F.avg_pool2d(padded, (1, window), stride=1) * window
    return (F.avg_pool2d(rows, (window, 1), stride=1) * window).squeeze(1)


class _Matcher(_OpenCVMatcher):
    """flow._Matcher for a batch: the best flow [B, H, W, 2] so far and its cost [B, H, W]
    (flow.py's propagation steps, on these array primitives)."""

    def __init__(self, source, target, window: int):
        self.source, self.target, self.window = source, target, window
        self.xs, self.ys = grid(*source.shape[1:3], source.device)
        self.noise = _NOISE_PER_PIXEL * window * window
        self.flow = self.cost = None

    def cost_of(self, flow):
        target = self.target if self.target.dim() == 4 else self.target.unsqueeze(-1)
        moved = sample(target, self.xs + flow[..., 0], self.ys + flow[..., 1])
        if self.target.dim() == 3:
            difference = (self.source - moved[..., 0]).abs()
            difference = difference * difference
        else:
            d = (self.source - moved).abs()
            difference = d[..., 0] * 0.299 + d[..., 1] * 0.587 + d[..., 2] * 0.114
        return _box_sum(difference, self.window) if self.window > 1 else difference

    def start(self, flow):
        self.flow = flow.clone()
        self.cost = self.cost_of(self.flow)

    def offer(self, candidate) -> None:
        import torch

        cost = self.cost_of(candidate)
        better = cost < self.cost - self.noise
        self.flow = torch.where(better.unsqueeze(-1), candidate, self.flow)
        self.cost = torch.where(better, cost, self.cost)

    def snapshot(self):
        return self.flow  # offer() replaces self.flow rather than writing into it

    @staticmethod
    def shifted(field, dx: int, dy: int):
        return _shifted(field, dx, dy)

    @staticmethod
    def plus(field, delta):
        return field + field.new_tensor(delta)

    @staticmethod
    def parabola_moves(centre, plus_x, minus_x, plus_y, minus_y, step: float):
        import torch

        moves = []
        for plus, minus in ((plus_x, minus_x), (plus_y, minus_y)):
            curvature = plus + minus - 2 * centre
            move = torch.where(
                curvature > 1e-12,
                0.5 * step * (minus - plus) / curvature.clamp(min=1e-12),
                torch.zeros_like(curvature),
            )
            moves.append(move.clamp(-step / 2, step / 2))
        return torch.stack(moves, dim=-1)


def _shifted(field, dx: int, dy: int):
    """flow.shifted for [B, H, W, C]: each pixel sees its neighbour's value (edges repeated)."""
    import torch

    height, width = field.shape[1:3]
    rows = (torch.arange(height, device=field.device) - dy).clamp(0, height - 1)
    columns = (torch.arange(width, device=field.device) - dx).clamp(0, width - 1)
    return field[:, rows][:, :, columns]


def _median5(flow):
    """cv2.medianBlur(5) per channel of [B, H, W, 2] (edges repeated)."""
    import torch.nn.functional as F

    batch, height, width, channels = flow.shape
    planes = flow.permute(0, 3, 1, 2).reshape(batch * channels, 1, height, width)
    padded = F.pad(planes, (2, 2, 2, 2), mode="replicate")
    windows = F.unfold(padded, 5)  # [N, 25, H * W]
    median = windows.median(dim=1).values.view(batch, channels, height, width)
    return median.permute(0, 2, 3, 1).contiguous()


def _one_direction_each(source, target, source_rgb, target_rgb, dis):
    """flow._one_direction for each batch entry (source[i] -> target[i]): flows [B, H, W, 2]."""
    import torch

    matcher = _Matcher(source, target, _WINDOW)
    search_candidates(matcher, dis, torch.zeros_like(dis), _block_search(source, target))
    edges = _Matcher(source_rgb, target_rgb, 1)
    edges.start(_median5(matcher.flow))
    edges.offer_neighbours(_EDGE_STEPS, diagonals=_EDGE_DIAGONALS)
    height, width = dis.shape[1:3]
    x = matcher.xs + dis[..., 0]
    y = matcher.ys + dis[..., 1]
    leaving = (x < -0.5) | (x > width - 0.5) | (y < -0.5) | (y > height - 0.5)
    return torch.where(leaving.unsqueeze(-1), dis, edges.flow)


def _block_search(source, target):
    """flow._block_search for [B, H, W] greys: every shift's cost at once, the first best kept."""
    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F

    batch, height, width = source.shape
    half = min(height, width) >= 32
    if half:
        size = (width // 2, height // 2)

        def small(planes):
            arrays = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in planes.cpu().numpy()]
            return torch.from_numpy(np.stack(arrays)).to(planes.device)

        source, target = small(source), small(target)
    radius = (SEARCH_RADIUS + 1) // 2 if half else SEARCH_RADIUS
    h, w = source.shape[1:]
    padded = F.pad(target.unsqueeze(1), (radius,) * 4, mode="replicate").squeeze(1)
    span = 2 * radius + 1
    best = torch.full((batch, h, w), float("inf"), device=source.device)
    choice = torch.zeros((batch, h, w), dtype=torch.long, device=source.device)
    # One row of shifts at a time: a cost volume of `span` planes, not span² (memory at 256 px).
    for row in range(span):
        moved = torch.stack([padded[:, row : row + h, column : column + w] for column in range(span)], dim=1)
        difference = (source.unsqueeze(1) - moved).abs()
        cost = _box_sum((difference * difference).reshape(-1, h, w), _WINDOW).view(batch, span, h, w)
        cost = cost * (1.0 / (_WINDOW * _WINDOW))
        row_best, column = cost.min(dim=1)
        better = row_best < best
        best = torch.where(better, row_best, best)
        choice = torch.where(better, row * span + column, choice)
    shift = torch.stack([choice % span - radius, choice // span - radius], dim=-1).float()
    if not half:
        return shift
    up = F.interpolate((shift * 2.0).permute(0, 3, 1, 2), size=(height, width), mode="nearest")
    return up.permute(0, 2, 3, 1).contiguous()
