"""The interpolation tests' input clips, shared by tests/test_interpolate.py,
tests/test_interpolate_textured.py and tests/test_interpolate_torch.py (tests never import each
other). Each is drawn exactly at any time t, so an in-between can be compared with the truth.
"""

from __future__ import annotations

import numpy as np
import torch

# The moving square: SQUARE px, starting at (X0, Y0) on a SIZE x SIZE black frame.
SIZE, SQUARE, STEP, X0, Y0 = 96, 16, 8, 20, 40

# The disc scene: DISC_WIDTH x DISC_HEIGHT, a disc of DISC_RADIUS px, centred at DISC_START in
# the first frame.
DISC_HEIGHT, DISC_WIDTH, DISC_RADIUS = 128, 160, 9
DISC_START = (70.0, 62.0)


def moving_square(frames: int) -> torch.Tensor:
    """A 16×16 white square on black, moving STEP px to the right per frame."""
    clip = torch.zeros(frames, SIZE, SIZE, 3)
    for i in range(frames):
        clip[i, Y0 : Y0 + SQUARE, X0 + i * STEP : X0 + i * STEP + SQUARE] = 1.0
    return clip


def textured_scene(time: float) -> np.ndarray:
    """A smooth random texture panning left with a textured block moving right over it."""
    import cv2

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((160, 260, 3)).astype(np.float32), (0, 0), 2.5)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    pan, block_x = round(20 - 6 * time), round(40 + 12 * time)
    frame = texture[20:116, pan : pan + 128].copy()
    frame[32:64, block_x : block_x + 32] = texture[120:152, 200:232]
    return frame


def _disc_texture(seed: int) -> np.ndarray:
    import cv2

    noise = np.random.default_rng(seed).random((DISC_HEIGHT, DISC_WIDTH, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 1.5)
    low, high = smooth.min(axis=(0, 1)), smooth.max(axis=(0, 1))
    return (smooth - low) / (high - low)


def disc_scene(cx: float, cy: float, background: str, disc: str) -> tuple[np.ndarray, np.ndarray]:
    """(frame, background) with the disc centred at (cx, cy), antialiased (4×4 supersampled).

    `background` and `disc` are "textured" or anything else for flat grey. The red and green
    channels carry the picture (a smooth random texture, the disc's own one glued to it, so
    nothing but motion tells them apart); the blue channel is 1 on the disc and 0 elsewhere, a
    marker that lets a test read the disc's coverage from any frame.
    """
    import cv2

    if background == "textured":
        back = _disc_texture(0)
    else:
        back = np.full((DISC_HEIGHT, DISC_WIDTH, 3), 0.4, np.float32)
    back[..., 2] = 0.0
    if disc == "textured":  # the disc's own texture moves with it
        shift = np.float32([[1, 0, cx - DISC_START[0]], [0, 1, cy - DISC_START[1]]])
        paint = cv2.warpAffine(
            _disc_texture(5), shift, (DISC_WIDTH, DISC_HEIGHT), borderMode=cv2.BORDER_REFLECT
        )
    else:
        paint = np.full((DISC_HEIGHT, DISC_WIDTH, 3), 0.8, np.float32)
    paint[..., 2] = 1.0
    ys, xs = np.mgrid[0 : DISC_HEIGHT * 4, 0 : DISC_WIDTH * 4].astype(np.float32)
    inside = ((xs + 0.5) / 4 - 0.5 - cx) ** 2 + ((ys + 0.5) / 4 - 0.5 - cy) ** 2 <= DISC_RADIUS**2
    cover = inside.reshape(DISC_HEIGHT, 4, DISC_WIDTH, 4).mean(axis=(1, 3))[..., None]
    return (back * (1 - cover) + paint * cover).astype(np.float32), back
