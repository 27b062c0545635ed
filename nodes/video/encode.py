"""Streaming writers: frames go float → uint8/YUV → encoder a chunk at a time.

The IMAGE tensor is already in memory; the writers never build a second copy of the clip.
Frames are taken as slices of a few frames (`chunk_frames`), converted, handed to the encoder
and dropped, so the extra memory is one converted chunk plus the encoder's own look-ahead.
Pingpong and loops are index sequences, not concatenated tensors.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

from ..comfy import throw_if_interrupted
from .colour import YUV_LAYOUTS, RgbQuantiser, padded_size, yuv_frame
from .formats import VideoFormat, frame_delays, webp_quality

log = logging.getLogger("svd_suite")

MAX_CHUNK_FRAMES = 16
CHUNK_PIXELS = 1 << 20  # 1 Mpixel per chunk: 1 frame of 1024×576, 16 frames of 256×256

OnChunk = Callable[[int, int], None]  # (frames done, frames total)


@dataclass
class EncodeJob:
    """Everything a writer needs; `order` lists the frame indices to write (pingpong, loops)."""

    path: str
    fmt: VideoFormat
    images: object  # IMAGE tensor [N, H, W, 3|4]
    order: list[int]
    rate: Fraction
    crf: int = 19
    pix_fmt: str = "yuv420p"
    loop_count: int = 0
    tags: dict | None = None
    on_chunk: OnChunk | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[1])


def frame_order(frame_count: int, pingpong: bool = False, repeats: int = 1) -> list[int]:
    """Indices to write: 0..n-1, then n-2..1 with pingpong (seamless when looping), repeated."""
    forward = list(range(frame_count))
    once = forward + forward[-2:0:-1] if pingpong else forward
    return once * max(int(repeats), 1)


def chunk_frames(width: int, height: int) -> int:
    return max(1, min(MAX_CHUNK_FRAMES, CHUNK_PIXELS // max(width * height, 1)))


def iter_chunks(images, order: list[int], size: int) -> Iterator:
    """Yield small frame batches following `order`; ascending runs are views, not copies."""
    for start in range(0, len(order), size):
        run = order[start : start + size]
        first = run[0]
        if run == list(range(first, first + len(run))):
            yield images[first : first + len(run)]
        else:
            yield images[run]


def uint8_frames(job: EncodeJob) -> Iterator:
    """RGB uint8 numpy frames one at a time, converted a chunk at a time into reused buffers.

    Each yielded frame is a view that the next chunk overwrites: consume it before advancing.
    """
    width, height = job.size
    size = chunk_frames(width, height)
    quantise = RgbQuantiser(min(size, len(job.order)), width, height)
    done = 0
    for chunk in iter_chunks(job.images, job.order, size):
        throw_if_interrupted()
        yield from quantise(chunk)
        done += len(chunk)
        if job.on_chunk is not None:
            job.on_chunk(done, len(job.order))


# --------------------------------------------------------------------------- PyAV (mp4, webm)


@contextlib.contextmanager
def open_output(path: str, **kwargs):
    """av.open for writing; after a failure the close (which writes a trailer) cannot mask it."""
    import av

    container = av.open(path, mode="w", **kwargs)
    try:
        yield container
    except BaseException:
        with contextlib.suppress(Exception):
            container.close()
        raise
    container.close()


BT709 = 1  # AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == AVCOL_SPC_BT709
LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG ("tv")


def write_pyav(job: EncodeJob) -> None:
    """YUV video through FFmpeg's encoders: BT.709 limited range, requested and tagged."""
    fmt, pix_fmt = job.fmt, job.pix_fmt
    enc_w, enc_h = padded_size(*job.size, pix_fmt)
    with open_output(job.path, format=fmt.container, options=dict(fmt.container_options)) as container:
        for key, value in (job.tags or {}).items():
            container.metadata[key] = value
        stream = container.add_stream(fmt.codec, rate=job.rate)
        stream.width, stream.height, stream.pix_fmt = enc_w, enc_h, pix_fmt
        # Frames are stamped in the codec's 1/fps clock; the muxer picks its own stream time
        # base when it writes the header (mp4: 1/14336 at 7 fps), so never stamp with that.
        frame_time_base = 1 / job.rate
        stream.codec_context.time_base = frame_time_base
        if fmt.codec_tag:
            stream.codec_tag = fmt.codec_tag
        context = stream.codec_context
        context.color_primaries = context.color_trc = context.colorspace = BT709
        context.color_range = LIMITED_RANGE
        extras = [
            fmt.lossless_options if job.crf == 0 else {},
            fmt.short_clip_options if len(job.order) < 3 else {},
        ]
        stream.options = merge_options({"crf": str(job.crf)}, fmt.options, *extras)
        size = chunk_frames(enc_w, enc_h)
        bits = 16 if YUV_LAYOUTS[pix_fmt][0] > 8 else 8
        quantise = RgbQuantiser(min(size, len(job.order)), enc_w, enc_h, bits)
        done = 0
        for chunk in iter_chunks(job.images, job.order, size):
            throw_if_interrupted()
            for rgb in quantise(chunk):
                frame = yuv_frame(rgb, pix_fmt)
                frame.pts, frame.time_base = done, frame_time_base
                container.mux(stream.encode(frame))
                done += 1
            if job.on_chunk is not None:
                job.on_chunk(done, len(job.order))
        container.mux(stream.encode(None))


def merge_options(*layers: dict) -> dict:
    """Encoder options, later layers winning; x265-params lists are joined, not replaced."""
    merged: dict = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "x265-params" and key in merged:
                value = f"{merged[key]}:{value}"
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- gif


def write_gif(job: EncodeJob) -> None:
    """GIF through FFmpeg's gif muxer, each frame quantised by Pillow to its own 256-colour palette.

    Why not Pillow's GIF writer: it keeps every frame until the end and merges identical
    consecutive frames, so the frame count would not survive. Delays are 1/100 s: frames are
    stamped at round(i * 100 / fps), so rounding never accumulates.
    """
    import av
    import numpy as np
    from PIL import Image

    width, height = job.size
    centiseconds = Fraction(1, 100)
    # The muxer takes each delay from the next frame's stamp; the last one is given explicitly.
    final_delay = frame_delays(len(job.order), job.rate, 100)[-1]
    options = {"loop": str(job.loop_count), "final_delay": str(final_delay)}
    with open_output(job.path, format="gif", options=options) as container:
        stream = container.add_stream("gif", rate=job.rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
        stream.codec_context.time_base = centiseconds
        for index, array in enumerate(uint8_frames(job)):
            indexed = Image.fromarray(array, "RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
            palette = np.zeros((256, 4), dtype=np.uint8)
            rgb = np.asarray(indexed.getpalette()[: 256 * 3], dtype=np.uint8).reshape(-1, 3)
            palette[: len(rgb), 1:], palette[:, 0] = rgb, 255  # ARGB, opaque
            frame = av.VideoFrame.from_ndarray((np.asarray(indexed), palette), format="pal8")
            frame.pts, frame.time_base = round(index * 100 / job.rate), centiseconds
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


# --------------------------------------------------------------------------- webp (Pillow)


def _lazy_sequence(frames: Iterator, count: int, size: tuple[int, int]):
    """A Pillow image that yields `count` frames in order on seek(), so WebP saving streams.

    Pillow's WebP writer calls list() on append_images but then seeks through each one's
    n_frames; one lazy multi-frame image therefore keeps a single frame alive at a time.
    """
    from PIL import Image

    class LazyFrames(Image.Image):
        n_frames = count

        def __init__(self):
            super().__init__()
            self._mode, self._size, self._position = "RGB", size, -1

        def seek(self, index: int) -> None:
            if index == self._position:
                return
            if index != self._position + 1:
                raise EOFError("streamed frames can only be read in order")
            self.im = next(frames).im
            self._position = index

        def tell(self) -> int:
            return max(self._position, 0)

    return LazyFrames()


def comfy_exif(tags: dict[str, str]):
    """The Exif layout ComfyUI's own animated WebP uses, so its frontend finds the workflow."""
    from PIL import Image

    exif = Image.Exif()
    if "prompt" in tags:
        exif[0x0110] = f"prompt:{tags['prompt']}"  # Model
    tag_ids = iter(range(0x010F, 0x0100, -1))  # Make, then downwards
    for key, value in tags.items():
        tag_id = next(tag_ids, None) if key != "prompt" else None
        if tag_id is not None:
            exif[tag_id] = f"{key}:{value}"
    return exif


def write_webp(job: EncodeJob) -> None:
    """Animated WebP with Pillow: lossless at crf 0, else a quality derived from crf.

    libwebp merges identical consecutive frames into one longer frame (the timing is kept).
    """
    from PIL import Image

    frames = (Image.fromarray(array, "RGB") for array in uint8_frames(job))
    first = next(frames)
    count = len(job.order)
    delays = frame_delays(count, job.rate, 1000)
    quality = webp_quality(job.crf)
    options = {"lossless": True, "quality": 100} if quality is None else {"quality": quality}
    if job.tags:
        options["exif"] = comfy_exif(job.tags)
    rest = [_lazy_sequence(frames, count - 1, first.size)] if count > 1 else []
    first.save(job.path, format="WEBP", save_all=True, append_images=rest, duration=delays,
               loop=job.loop_count, method=4, **options)  # fmt: skip


# --------------------------------------------------------------------------- PNG sequence


def write_png_frames(job: EncodeJob) -> None:
    """frame_00001.png ... into the folder `job.path`; the workflow goes into the first frame."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    os.makedirs(job.path, exist_ok=True)
    for index, array in enumerate(uint8_frames(job)):
        info = None
        if index == 0 and job.tags:
            info = PngInfo()
            for key, value in job.tags.items():
                info.add_text(key, value)
        name = os.path.join(job.path, f"frame_{index + 1:05d}.png")
        Image.fromarray(array, "RGB").save(name, pnginfo=info, compress_level=4)


WRITERS: dict[str, Callable[[EncodeJob], None]] = {
    "pyav": write_pyav,
    "gif": write_gif,
    "webp": write_webp,
    "png": write_png_frames,
}
