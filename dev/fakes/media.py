"""Real small mp4 bytes for the fakes to serve (test data, made with PyAV directly)."""

from __future__ import annotations

import io

FRAMES = 8
SIZE = 64
FPS = 8


def make_mp4(frames: int = FRAMES, size: int = SIZE, fps: int = FPS) -> bytes:
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.zeros((size, size, 3), dtype=np.uint8)
            image[..., 0] = 30 * i % 256
            image[: size // 2, :, 1] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
