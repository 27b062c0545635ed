"""Helpers shared by the video tests (no tests here): a colour chart and an independent BT.709 decoder.

The decoder is written from the BT.709 specification here, not imported from the pack, so a
matrix mistake in the encoder cannot cancel out against the same mistake in the check.
"""

from __future__ import annotations

import numpy as np

# (R, G, B) in 0..1: saturated primaries and secondaries, greys, one mid colour.
CHART = [
    (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 0),
    (0, 0, 0), (0.25, 0.25, 0.25), (0.5, 0.5, 0.5), (0.75, 0.75, 0.75), (1, 1, 1), (0.2, 0.4, 0.7),
]  # fmt: skip
PATCH = 32


def chart_frames(frames: int = 3):
    import torch

    image = torch.zeros(frames, PATCH * 2, PATCH * len(CHART), 3)
    for index, colour in enumerate(CHART):
        image[:, :, index * PATCH : (index + 1) * PATCH] = torch.tensor(colour, dtype=torch.float32)
    return image


def patch_errors(rgb255: np.ndarray) -> list[float]:
    """Mean absolute error (in 8-bit levels) of each patch's interior against the chart."""
    margin = PATCH // 4
    errors = []
    for index, colour in enumerate(CHART):
        inner = rgb255[margin : 2 * PATCH - margin, index * PATCH + margin : (index + 1) * PATCH - margin]
        errors.append(float(np.abs(inner.astype(np.float64) - np.array(colour) * 255).mean()))
    return errors


def planes_of(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Y, U, V of a decoded PyAV frame as arrays at full resolution, plus the bit depth."""
    bits = 10 if "10" in frame.format.name else 8
    dtype = np.uint16 if bits > 8 else np.uint8
    out = []
    for plane in frame.planes:
        data = np.frombuffer(bytes(plane), dtype=dtype).reshape(
            plane.height, plane.line_size // dtype().itemsize
        )
        out.append(data[:, : plane.width])
    y, u, v = out
    if u.shape != y.shape:  # 4:2:0: nearest-neighbour upsampling is fine on flat patches
        u = u.repeat(2, 0).repeat(2, 1)[: y.shape[0], : y.shape[1]]
        v = v.repeat(2, 0).repeat(2, 1)[: y.shape[0], : y.shape[1]]
    return y, u, v, bits


def bt709_limited_to_rgb(y, u, v, bits: int = 8) -> np.ndarray:
    """ITU-R BT.709-6 limited range Y'CbCr → R'G'B' in 0..255 (float)."""
    kr, kb = 0.2126, 0.0722
    kg = 1 - kr - kb
    scale = 2 ** (bits - 8)
    luma = (y / scale - 16) / 219
    pb = (u / scale - 128) / 224
    pr = (v / scale - 128) / 224
    r = luma + 2 * (1 - kr) * pr
    b = luma + 2 * (1 - kb) * pb
    g = (luma - kr * r - kb * b) / kg
    return np.clip(np.stack([r, g, b], -1) * 255, 0, 255)


def decode_first_frame_bt709(path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return bt709_limited_to_rgb(*planes_of(frame))


def count_and_rate(path):
    """(frames decoded, stream average rate, width, height) via PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.average_rate, stream.codec_context.width, stream.codec_context.height


def pillow_count_and_durations(path):
    from PIL import Image

    with Image.open(path) as image:
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()  # WebP fills in the duration on load
            durations.append(image.info["duration"])
        return image.n_frames, durations, image.size
