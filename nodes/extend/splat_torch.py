"""splat.py's steps in torch, for a GPU: trust, splatting, visibility and the full-size blend.

Why a second implementation: at 1024x576 most of a pair's time on a CPU is the full-size warp and
blend, which a GPU does in well under a millisecond; but on a (shared, 2-core) CPU OpenCV/NumPy
measured faster than torch, so interpolate.py uses this module only on a CUDA device (or when a
test or bench asks for it). The candidate search runs in torch too (flow_torch.py); DIS and the
occlusion fill stay on OpenCV, on fields of at most 256 px moved to the device once per pair.

The same frames as splat.py within float noise: cv2.remap (OpenCV 5, float maps) samples
exactly bilinearly with edge pixels repeated, as `warp` does; cv2.resize (INTER_LINEAR) is
torch's bilinear with half-pixel centres; cv2.GaussianBlur's kernel and border (reflect-101)
are rebuilt. All in-betweens of one pair are made in one batch (times on the first axis).
"""

from __future__ import annotations

from .splat import _CONSISTENCY_SHARPNESS, _VISIBLE_MASS


def warp(image, flow_x, flow_y):
    """image [H, W, C] sampled at p + flow(p) for flows [..., H, W]: [..., H, W, C] (as cv2.remap:
    bilinear, edge pixels repeated)."""
    from .flow_torch import grid, sample

    xs, ys = grid(*image.shape[:2], image.device)
    moved = sample(image.unsqueeze(0), xs + flow_x, ys + flow_y)
    return moved if flow_x.dim() > 2 else moved.squeeze(0)


def consistency(source, target, flow):
    """splat.consistency on [H, W] grey tensors and a flow [H, W, 2]: (trust, unexplained share)."""
    import torch

    miss = (source - warp(target.unsqueeze(-1), flow[..., 0], flow[..., 1])[..., 0]).abs()
    threshold = max(0.01, 0.5 * float(source.std(correction=0)))
    unexplained = float((miss > threshold).float().mean())
    return torch.exp(-_CONSISTENCY_SHARPNESS * miss), unexplained


def resized(field, height: int, width: int):
    """A [..., h, w] field at (height, width), as cv2.resize INTER_LINEAR upscales."""
    import torch.nn.functional as F

    lead = field.shape[:-2]
    flat = field.reshape(1, -1, *field.shape[-2:])
    out = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
    return out.reshape(*lead, height, width)


def frames_at(a_grey, flow_ab, flow_ba, trust_a, trust_b, times, full):
    """The frames at `times` (each 0 < t < 1) as float32 [T, H, W, 3] on the device.

    a_grey, flows ([h, w, 2]) and trusts are at the working size; `full` is (A, B) as float32
    RGB [H, W, 3] on the same device, at the frame's own size (which may equal the working size).
    """
    import torch

    t = torch.tensor(times, dtype=torch.float32, device=flow_ab.device).view(-1, 1, 1)
    motion, weight_a, weight_b = _motion_at(a_grey.shape, flow_ab, flow_ba, trust_a, trust_b, t)
    rgb_a, rgb_b = full
    height, width = rgb_a.shape[:2]
    if (height, width) != tuple(a_grey.shape):
        motion = resized(motion, height, width)
        motion[:, 0] *= width / a_grey.shape[1]
        motion[:, 1] *= height / a_grey.shape[0]
        weight_a, weight_b = resized(weight_a, height, width), resized(weight_b, height, width)
    from_a = warp(rgb_a, -t * motion[:, 0], -t * motion[:, 1])
    from_b = warp(rgb_b, (1 - t) * motion[:, 0], (1 - t) * motion[:, 1])
    blended = from_a * weight_a.unsqueeze(-1) + from_b * weight_b.unsqueeze(-1)
    return blended.clamp_(0.0, 1.0)


def _motion_at(shape, flow_ab, flow_ba, trust_a, trust_b, t):
    """splat._motion_at for all times t [T, 1, 1] at once: motion [T, 2, H, W], weights [T, H, W]."""
    import torch

    height, width = shape
    from .flow_torch import grid

    xs, ys = grid(height, width, flow_ab.device)
    ab_x, ab_y, ba_x, ba_y = flow_ab[..., 0], flow_ab[..., 1], flow_ba[..., 0], flow_ba[..., 1]
    sum_a, priority_a, mass_a = _splat(
        torch.stack([ab_x, ab_y]), trust_a, xs + t * ab_x, ys + t * ab_y, height, width
    )
    sum_b, priority_b, mass_b = _splat(
        torch.stack([-ba_x, -ba_y]), trust_b, xs + (1 - t) * ba_x, ys + (1 - t) * ba_y, height, width
    )
    linear_guess = torch.stack([(1 - t) * ab_x - t * ba_x, (1 - t) * ab_y - t * ba_y], dim=1)
    motion = _fill_holes(sum_a + sum_b, priority_a + priority_b, mass_a + mass_b, linear_guess)
    weight_a = (1 - t) * (mass_a / _VISIBLE_MASS).clamp(0.0, 1.0)
    weight_b = t * (mass_b / _VISIBLE_MASS).clamp(0.0, 1.0)
    total = weight_a + weight_b
    unseen = total < 1e-3  # neither side claims the spot: plain time weights
    safe_total = total.clamp(min=1e-3)
    weight_a = torch.where(unseen, (1 - t).expand_as(total), weight_a / safe_total)
    weight_b = torch.where(unseen, t.expand_as(total), weight_b / safe_total)
    return motion, weight_a, weight_b


def _splat(values, priorities, dest_x, dest_y, height: int, width: int):
    """splat._splat for destinations [T, H, W]: sums [T, C, H, W], priority and mass [T, H, W]
    (one scatter per quantity over the four bilinear corners of every time at once)."""
    import torch

    times = dest_x.shape[0]
    padded_w, padded_h = width + 2, height + 2
    x = (dest_x + 1.0).clamp(0.0, padded_w - 1.0)
    y = (dest_y + 1.0).clamp(0.0, padded_h - 1.0)
    x0 = torch.floor(x).clamp(max=padded_w - 2)
    y0 = torch.floor(y).clamp(max=padded_h - 2)
    fx, fy = x - x0, y - y0
    size = padded_h * padded_w
    offset = torch.arange(times, device=x.device).view(-1, 1, 1) * size
    corner = y0.long() * padded_w + x0.long() + offset
    index = torch.stack((corner, corner + 1, corner + padded_w, corner + padded_w + 1)).reshape(-1)
    bilinear = torch.stack(((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy))
    weight = bilinear * priorities

    def accumulate(per_corner):
        canvas = torch.zeros(times * size, dtype=torch.float32, device=x.device)
        canvas.index_add_(0, index, per_corner.reshape(-1))
        return canvas.view(times, padded_h, padded_w)[:, 1:-1, 1:-1]

    sums = torch.stack([accumulate(weight * channel) for channel in values], dim=1)
    return sums, accumulate(weight), accumulate(bilinear)


def _fill_holes(flow_sum, priority, mass, fallback):
    """splat._fill_holes on [T, ...] tensors: motion [T, 2, H, W]."""
    import torch

    covered = (mass > 1e-3).unsqueeze(1)
    safe_priority = priority.clamp(min=1e-30).unsqueeze(1)
    flow = torch.where(covered, flow_sum / safe_priority, torch.zeros_like(flow_sum))
    if bool(covered.all()):
        return flow
    weight = covered.float()
    sigma = max(2.0, 0.02 * max(mass.shape[-2:]))
    blurred = _gaussian_blur(torch.cat([weight, flow * weight], dim=1), sigma)
    blurred_weight, blurred_flow = blurred[:, :1], blurred[:, 1:]
    filled = torch.where(blurred_weight > 1e-3, blurred_flow / blurred_weight.clamp(min=1e-3), fallback)
    return torch.where(covered, flow, filled)


def _gaussian_blur(planes, sigma: float):
    """cv2.GaussianBlur(ksize=(0, 0), sigma) of float32 planes [T, C, H, W] (reflect-101 border)."""
    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F

    size = int(np.rint(sigma * 4 * 2 + 1)) | 1
    half = size // 2
    height, width = planes.shape[-2:]
    if half >= min(height, width):  # torch's reflect padding needs the border inside the plane
        blurred = [
            cv2.GaussianBlur(p, (0, 0), sigma) for p in planes.reshape(-1, height, width).cpu().numpy()
        ]
        return torch.from_numpy(np.stack(blurred)).to(planes.device).view_as(planes)
    kernel = torch.from_numpy(cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel()).to(planes.device)
    flat = planes.reshape(-1, 1, height, width)
    rows = F.conv2d(F.pad(flat, (half, half, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    both = F.conv2d(F.pad(rows, (0, 0, half, half), mode="reflect"), kernel.view(1, 1, -1, 1))
    return both.view_as(planes)
