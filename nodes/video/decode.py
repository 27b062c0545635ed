"""Reading videos back into IMAGE frames: PyAV for real videos, Pillow for gif/animated webp.

Frames are decoded one at a time straight into a preallocated float tensor (the frame count is
known from the container for most files; otherwise the buffer grows by half), so memory holds
the result plus one decoded frame — never a list of decoded frames plus a full copy.

YUV → RGB uses the matrix the stream is tagged with (BT.709 for our files). Untagged streams
follow the common player rule: BT.709 from 720 lines up, BT.601 below.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported only when decoding
    import torch

PILLOW_SIGNATURES = (b"GIF87a", b"GIF89a")


def _is_pillow_animation(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(16)
    return head.startswith(PILLOW_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _delay_quantum(path: str) -> int:
    """Resolution of stored frame delays in ms: gif counts 1/100 s, webp whole ms."""
    with open(path, "rb") as handle:
        return 10 if handle.read(6).startswith(PILLOW_SIGNATURES) else 1


def _check_file(path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"video: file not found: {os.path.basename(path)!r}")
    return path


def _not_a_video(path: str, reason: str) -> ValueError:
    return ValueError(
        f"video: {os.path.basename(path)!r} is not a video this node can read ({reason}); "
        "use mp4, webm, mkv, mov, gif or webp"
    )


def _check_selection(frame_cap: int, skip_first: int, every_nth: int) -> None:
    for name, value, low in (
        ("frame_cap", frame_cap, 0),
        ("skip_first", skip_first, 0),
        ("every_nth", every_nth, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: {value!r} must be a whole number ≥ {low}")


def selected_count(total: int, frame_cap: int, skip_first: int, every_nth: int) -> int:
    """How many frames the selection keeps out of `total`."""
    available = max(total - skip_first, 0)
    count = (available + every_nth - 1) // every_nth
    return min(count, frame_cap) if frame_cap else count


class _FrameBuffer:
    """A float32 [N, H, W, 3] tensor filled frame by frame, grown only if the count was wrong."""

    def __init__(self, capacity: int, height: int, width: int):
        import torch

        self.tensor = torch.empty((max(capacity, 1), height, width, 3), dtype=torch.float32)
        self.count = 0

    def append(self, array) -> None:
        import torch

        if self.count == self.tensor.shape[0]:
            grown = torch.empty(
                (self.count + max(self.count // 2, 8), *self.tensor.shape[1:]), dtype=torch.float32
            )
            grown[: self.count] = self.tensor
            self.tensor = grown
        scale = 1.0 / (65535.0 if array.dtype.itemsize == 2 else 255.0)
        self.tensor[self.count].copy_(torch.from_numpy(array)).mul_(scale)
        self.count += 1

    def result(self):
        if self.count == self.tensor.shape[0]:
            return self.tensor
        if self.count * 4 < self.tensor.shape[0] * 3:  # mostly empty: give the memory back
            return self.tensor[: self.count].clone()
        return self.tensor[: self.count]


def _rgb_array(frame, width: int, height: int):
    """RGB numpy array of a decoded frame, converted with the stream's own YUV matrix."""
    from av.video.reformatter import ColorRange, Colorspace

    deep = any(component.bits > 8 for component in frame.format.components)
    target = "rgb48le" if deep else "rgb24"
    kwargs = {"width": width, "height": height, "format": target}
    if frame.format.name.startswith(("yuv", "nv")) and not frame.format.name.startswith("yuvj"):
        tagged = {
            1: Colorspace.ITU709,
            5: Colorspace.ITU601,
            6: Colorspace.ITU601,
            7: Colorspace.SMPTE240M,
            9: Colorspace.BT2020,
            10: Colorspace.BT2020,
        }.get(int(frame.colorspace))
        kwargs["src_colorspace"] = tagged or (Colorspace.ITU709 if frame.height >= 720 else Colorspace.ITU601)
        kwargs["src_color_range"] = ColorRange.JPEG if int(frame.color_range) == 2 else ColorRange.MPEG
    return frame.to_ndarray(**kwargs)


def _open_video_stream(path: str):
    """(container, first video stream) opened with PyAV; a clear ValueError when it is not a video.

    The caller closes the container (use it in a `with`).
    """
    import av

    try:
        container = av.open(path)
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise _not_a_video(path, f"FFmpeg: {exc.__class__.__name__}") from None
    if not container.streams.video:
        container.close()
        raise _not_a_video(path, "it has no video stream")
    return container, container.streams.video[0]


def _read_pyav(path, frame_cap, skip_first, every_nth):
    import av

    container, stream = _open_video_stream(path)
    with container:
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(1)
        wanted = selected_count(stream.frames, frame_cap, skip_first, every_nth) if stream.frames else 0
        buffer = None
        index = 0
        try:
            for frame in container.decode(stream):
                keep = index >= skip_first and (index - skip_first) % every_nth == 0
                index += 1
                if not keep:
                    continue
                if buffer is None:
                    width, height = width or frame.width, height or frame.height
                    buffer = _FrameBuffer(wanted or 16, height, width)
                buffer.append(_rgb_array(frame, width, height))
                if frame_cap and buffer.count >= frame_cap:
                    break
        except av.FFmpegError as exc:
            if buffer is None:
                raise _not_a_video(path, f"FFmpeg: {exc.__class__.__name__}") from None
    if buffer is None:
        raise ValueError(f"video: {os.path.basename(path)!r} has no frames after skip_first={skip_first}")
    return buffer.result(), float(rate) / every_nth, buffer.count


def simplest_fraction_between(low: Fraction, high: Fraction) -> Fraction:
    """The fraction with the smallest denominator in [low, high] (0 < low ≤ high)."""
    whole = low.numerator // low.denominator
    if low == whole or whole + 1 <= high:
        return Fraction(whole if low == whole else whole + 1)
    return whole + 1 / simplest_fraction_between(1 / (high - whole), 1 / (low - whole))


def _pillow_rate(durations_ms: list[int], quantum_ms: int) -> Fraction:
    """The frame rate behind rounded delays: the simplest rate that rounds to the same total.

    A 10-frame gif at 7 fps lasts 143/100 s (1.4286 s rounded); 1000/143 fps is what the file
    says, 7 fps is what was meant: the nearest whole rate if it fits the ±half-quantum rounding,
    else the simplest fraction that does (12.5 fps → 25/2).
    """
    total = sum(durations_ms)
    if total <= 0:
        return Fraction(10)  # what browsers play for delay-less gifs
    frames = len(durations_ms) * 1000
    half = Fraction(quantum_ms, 2)
    low, high = Fraction(frames) / (total + half), Fraction(frames) / max(total - half, half)
    nearest_whole = round(Fraction(frames, total))
    if low <= nearest_whole <= high:  # short clips: many rates fit, prefer the measured one
        return Fraction(nearest_whole)
    return simplest_fraction_between(low, high)


def _read_pillow(path, frame_cap, skip_first, every_nth):
    import numpy as np
    from PIL import Image, ImageSequence

    durations = []
    buffer = None
    try:
        with Image.open(path) as image:
            count = getattr(image, "n_frames", 1)
            wanted = selected_count(count, frame_cap, skip_first, every_nth)
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                frame.load()  # WebP sets a frame's duration only once it is loaded
                durations.append(int(frame.info.get("duration", 0) or 0))
                if (
                    index < skip_first
                    or (index - skip_first) % every_nth
                    or (frame_cap and buffer and buffer.count >= frame_cap)
                ):
                    continue
                if buffer is None:
                    buffer = _FrameBuffer(wanted, image.height, image.width)
                buffer.append(np.array(frame.convert("RGB")))
    except (OSError, SyntaxError, ValueError) as exc:
        raise _not_a_video(path, f"Pillow: {exc}") from None
    if buffer is None:
        raise ValueError(f"video: {os.path.basename(path)!r} has no frames after skip_first={skip_first}")
    return buffer.result(), float(_pillow_rate(durations, _delay_quantum(path))) / every_nth, buffer.count


def read_video(
    path: str | os.PathLike, frame_cap: int = 0, skip_first: int = 0, every_nth: int = 1
) -> tuple[torch.Tensor, float, int]:
    """Decode a video (mp4/webm/mkv/mov/gif/webp...) to (IMAGE [N,H,W,3] float32, fps, N).

    `fps` is the source rate divided by `every_nth`, so the clip keeps its duration.
    Raises ValueError naming the file when it is missing or not a readable video.
    """
    _check_selection(frame_cap, skip_first, every_nth)
    path = _check_file(path)
    if _is_pillow_animation(path):
        return _read_pillow(path, frame_cap, skip_first, every_nth)
    return _read_pyav(path, frame_cap, skip_first, every_nth)


def probe_video(path: str | os.PathLike) -> dict:
    """Size, exact fps (Fraction), frame count, codec and container of a video, without decoding.

    Also: pix_fmt, colour tags (color_primaries/color_trc/colorspace/color_range as FFmpeg's
    numeric codes: 1 = bt709, range 1 = tv/limited, 2 = unspecified/pc) and the container's
    metadata tags (`tags`, keys lower-cased; matroska stores them upper-case).
    """
    path = _check_file(path)
    if _is_pillow_animation(path):
        from PIL import Image

        try:
            with Image.open(path) as image:
                durations = []
                for index in range(getattr(image, "n_frames", 1)):
                    image.seek(index)
                    image.load()
                    durations.append(int(image.info.get("duration", 0) or 0))
                return {
                    "width": image.width,
                    "height": image.height,
                    "fps": _pillow_rate(durations, _delay_quantum(path)),
                    "frame_count": len(durations),
                    "codec": image.format.lower(),
                    "container": image.format.lower(),
                    "pix_fmt": image.mode,
                    "tags": dict(image.info),
                    "durations_ms": durations,
                }
        except (OSError, SyntaxError, ValueError) as exc:
            raise _not_a_video(path, f"Pillow: {exc}") from None
    container, stream = _open_video_stream(path)
    with container:
        frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        context = stream.codec_context
        return {
            "width": context.width,
            "height": context.height,
            "fps": stream.average_rate or stream.guessed_rate or stream.base_rate,
            "frame_count": frames,
            "codec": context.name,
            "container": container.format.name,
            "pix_fmt": context.pix_fmt,
            "color_primaries": int(context.color_primaries),
            "color_trc": int(context.color_trc),
            "colorspace": int(context.colorspace),
            "color_range": int(context.color_range),
            "tags": {str(k).lower(): v for k, v in container.metadata.items()},
        }
