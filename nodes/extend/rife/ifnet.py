"""IFNet: RIFE's coarse-to-fine network for the frame between two frames.

How it works (RIFE 4.x): a small encoder turns each frame into a few feature channels. Then a
chain of blocks, coarsest first (the frames scaled down by 8, 4, 2, 1; 16 first in 4.26), each
looks at both frames warped by the motion found so far (plus features, the timestep t and the
blend mask) and predicts a *correction*: two motion fields (from the in-between frame back to
each neighbour) and the blend mask. Each block works at its own scale: stride-2 convolutions
bring its input down 4× more, eight residual 3×3 layers, then a transposed convolution and a
pixel shuffle bring it back up. The in-between frame is both neighbours warped by the final
motion and blended with sigmoid(mask).

`ensemble` runs every block a second time with the frames swapped (and 1 - t) and averages the
two answers, which steadies uncertain areas at twice the cost (4.7/4.17 layouts only).

Module names follow the layout of the published weight files (block0.conv0.0.0.weight, ...),
which is what lets those files load. Written from the published architecture description; no
code from other implementations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .architectures import Architecture

_SLOPE = 0.2
_RESIDUAL_LAYERS = 8


def _down_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 2, 1), nn.LeakyReLU(_SLOPE))


class _Residual(nn.Module):
    """x + beta · conv(x), then leaky ReLU (beta: a learned per-channel gain)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x):
        return F.leaky_relu(self.conv(x) * self.beta + x, _SLOPE)


class _Block(nn.Module):
    """One level: inputs at 1/scale size -> motion (4 ch), mask (1 ch) and carried channels."""

    def __init__(self, in_channels: int, width: int, out_channels: int):
        super().__init__()
        self.conv0 = nn.Sequential(_down_conv(in_channels, width // 2), _down_conv(width // 2, width))
        self.convblock = nn.Sequential(*[_Residual(width) for _ in range(_RESIDUAL_LAYERS)])
        self.lastconv = nn.Sequential(
            nn.ConvTranspose2d(width, 4 * out_channels, 4, 2, 1), nn.PixelShuffle(2)
        )

    def forward(self, x, flow, scale: float):
        x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear")
        if flow is not None:
            # Motion is measured in pixels, so shrinking the picture shrinks it too.
            flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear") / scale
            x = torch.cat((x, flow), 1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        out = F.interpolate(out, scale_factor=scale, mode="bilinear")
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]


class _Head(nn.Module):
    """The 4.1x+ frame encoder: three 3×3 convolutions and a transposed one back to full size."""

    def __init__(self, width: int, out_channels: int):
        super().__init__()
        self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
        self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(width, out_channels, 4, 2, 1)

    def forward(self, x):
        x = F.leaky_relu(self.cnn0(x.clamp(0.0, 1.0)), _SLOPE)
        x = F.leaky_relu(self.cnn1(x), _SLOPE)
        x = F.leaky_relu(self.cnn2(x), _SLOPE)
        return self.cnn3(x)


def _swap_directions(flow):
    """(to A, to B) motion pairs become (to B, to A): the view from the swapped frame order."""
    return torch.cat((flow[:, 2:4], flow[:, :2]), 1)


class IFNet(nn.Module):
    def __init__(self, architecture: Architecture):
        super().__init__()
        self.architecture = architecture
        features = architecture.feature_channels
        carried = architecture.carried_channels
        out_channels = 5 + carried if carried else 6  # motion 4 + mask 1 (+ carried | 1 unused)
        widths = architecture.block_widths
        first_in = 3 + 3 + 2 * features + 1
        later_in = 3 + 3 + 2 * features + 1 + 1 + carried + 4
        for index, width in enumerate(widths):
            self.add_module(
                f"block{index}", _Block(first_in if index == 0 else later_in, width, out_channels)
            )
        if architecture.encoder == "plain":
            self.encode = nn.Sequential(
                nn.Conv2d(3, architecture.encoder_width, 3, 2, 1),
                nn.ConvTranspose2d(architecture.encoder_width, features, 4, 2, 1),
            )
        else:
            self.encode = _Head(architecture.encoder_width, features)

    @property
    def blocks(self) -> list[_Block]:
        return [getattr(self, f"block{i}") for i in range(len(self.architecture.block_widths))]

    def features(self, frames):
        """Per-frame encoder features [N, C, H, W] for frames [N, 3, H, W] in 0..1."""
        return self.encode(frames.clamp(0.0, 1.0))

    def forward(self, img0, img1, timestep, feat0, feat1, scale: float = 1.0, ensemble: bool = False):
        """The frames at `timestep` between img0 and img1: [N, 3, H, W].

        img0/img1: [N, 3, H, W] in 0..1, H and W multiples of architecture.padding_multiple(scale);
        timestep: [N] or [N, 1, H, W] in 0..1; feat0/feat1: features() of img0/img1.
        """
        if ensemble and not self.architecture.supports_ensemble:
            raise ValueError(f"ensemble: RIFE {self.architecture.name} weights do not support it")
        img0, img1 = img0.clamp(0.0, 1.0), img1.clamp(0.0, 1.0)
        if timestep.dim() == 1:
            timestep = timestep.view(-1, 1, 1, 1)
        timestep = timestep.expand(img0.shape[0], 1, img0.shape[2], img0.shape[3]).to(img0.dtype)
        grid, norm = _sampling_grid(img0)
        warped0, warped1 = img0, img1
        flow = mask = carried = None
        for block, base in zip(self.blocks, self.architecture.base_scales, strict=True):
            level = base / scale
            if flow is None:
                flow, mask, carried = block(torch.cat((img0, img1, feat0, feat1, timestep), 1), None, level)
                if ensemble:
                    back, back_mask, _ = block(
                        torch.cat((img1, img0, feat1, feat0, 1 - timestep), 1), None, level
                    )
                    flow = (flow + _swap_directions(back)) / 2
                    mask = (mask + (-back_mask)) / 2
            else:
                wf0 = _warp(feat0, flow[:, :2], grid, norm)
                wf1 = _warp(feat1, flow[:, 2:4], grid, norm)
                inputs = [warped0, warped1, wf0, wf1, timestep, mask]
                if self.architecture.carried_channels:
                    inputs.append(carried)
                delta, new_mask, carried = block(torch.cat(inputs, 1), flow, level)
                if ensemble:
                    reverse = torch.cat((warped1, warped0, wf1, wf0, 1 - timestep, -mask), 1)
                    back, back_mask, _ = block(reverse, _swap_directions(flow), level)
                    delta = (delta + _swap_directions(back)) / 2
                    new_mask = (new_mask + (-back_mask)) / 2
                mask = new_mask
                flow = flow + delta
            warped0 = _warp(img0, flow[:, :2], grid, norm)
            warped1 = _warp(img1, flow[:, 2:4], grid, norm)
        weight = torch.sigmoid(mask)
        return warped0 * weight + warped1 * (1 - weight)


def _sampling_grid(like):
    """Identity sampling grid [1, 2, H, W] in grid_sample's -1..1 units (corners aligned) and the
    pixels-per-unit divisor that converts motion in pixels to those units."""
    height, width = like.shape[2], like.shape[3]
    xs = torch.linspace(-1.0, 1.0, width, device=like.device, dtype=torch.float32)
    ys = torch.linspace(-1.0, 1.0, height, device=like.device, dtype=torch.float32)
    grid = torch.stack((xs.view(1, width).expand(height, width), ys.view(height, 1).expand(height, width)))
    norm = torch.tensor([(width - 1.0) / 2.0, (height - 1.0) / 2.0], device=like.device, dtype=torch.float32)
    return grid.unsqueeze(0), norm


def _warp(image, flow, grid, norm):
    """image sampled at p + flow(p) (bilinear, edges repeated), computed in float32."""
    offset = torch.cat((flow[:, 0:1].float() / norm[0], flow[:, 1:2].float() / norm[1]), 1)
    coordinates = (grid + offset).permute(0, 2, 3, 1)
    sampled = F.grid_sample(
        image.float(), coordinates, mode="bilinear", padding_mode="border", align_corners=True
    )
    return sampled.to(image.dtype)
