"""The RIFE IFNet layouts we run, as data: one row per architecture.

A weight file is matched to a row by its tensor names and shapes alone (see weights.py), so
files of other RIFE versions with the very same layout run as that row. Three rows cover the
common files: Practical-RIFE 4.7 (rife47.pth, rife49.pth), 4.17 (rife417.pth) and 4.26
(rife426.pth).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    name: str
    # "plain": conv + transposed conv (4.7); "head": four convs with leaky ReLU between (4.1x+).
    encoder: str
    encoder_width: int
    # Channels of the per-frame features the encoder adds to the images.
    feature_channels: int
    # Width of each refinement block, coarsest first.
    block_widths: tuple[int, ...]
    # Channels each block hands on to the next (4.2x); 0 = none.
    carried_channels: int
    # Frames are padded to a multiple of this (divided by `scale` below 1).
    modulo: int
    supports_ensemble: bool

    @property
    def base_scales(self) -> tuple[float, ...]:
        """Downscale factor of each block at scale 1: 8, 4, 2, 1 (16 first with five blocks)."""
        return tuple(float(2 ** (len(self.block_widths) - 1 - i)) for i in range(len(self.block_widths)))

    def padding_multiple(self, scale: float) -> int:
        return max(self.modulo, int(self.modulo / scale))


ARCHITECTURES: dict[str, Architecture] = {
    "4.7": Architecture("4.7", "plain", 16, 4, (192, 128, 96, 64), 0, 32, True),
    "4.17": Architecture("4.17", "head", 32, 8, (192, 128, 96, 64), 0, 32, True),
    "4.26": Architecture("4.26", "head", 16, 4, (192, 128, 96, 64, 32), 8, 64, False),
}

# The `scale` values RIFE users know: the flow is estimated at this multiple of the frame size.
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
