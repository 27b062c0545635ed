"""Output formats as data, and the two timing rules every format shares (fps, frame delays).

A format is one `VideoFormat` row: which writer streams the frames, which container and codec,
which pixel formats the codec accepts, the encoder options, the file extension and the MIME type
the ComfyUI frontend needs to pick a player. Adding a format means adding a row, not a branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

PIX_FMTS = ("yuv420p", "yuv444p", "yuv420p10le")


@dataclass(frozen=True)
class VideoFormat:
    name: str  # the `format` widget value
    writer: str  # key of encode.WRITERS: "pyav" (FFmpeg in-process), "gif", "webp" or "png"
    extension: str  # ".mp4", or "" for png-frames (a folder)
    mime: str  # what the frontend gets in the preview payload
    container: str = ""  # FFmpeg muxer name
    codec: str = ""  # FFmpeg encoder name
    pix_fmts: tuple[str, ...] = ()  # pixel formats this encoder accepts (empty: not applicable)
    options: dict = field(default_factory=dict)  # encoder options besides crf
    lossless_options: dict = field(default_factory=dict)  # added when crf == 0
    short_clip_options: dict = field(default_factory=dict)  # added for clips of 1–2 frames
    container_options: dict = field(default_factory=dict)
    codec_tag: str = ""  # FourCC override in the container
    min_width: int = 1  # narrower frames are refused before encoding
    readable_by_ffmpeg: bool = True  # ComfyUI's native VIDEO can open the saved file
    animated_preview: bool = True

    @property
    def yuv(self) -> bool:
        return bool(self.pix_fmts)


FORMATS: dict[str, VideoFormat] = {
    f.name: f
    for f in (
        VideoFormat(
            name="mp4-h264",
            writer="pyav",
            extension=".mp4",
            mime="video/mp4",
            container="mp4",
            codec="libx264",
            pix_fmts=PIX_FMTS,
            options={"preset": "medium"},
            # use_metadata_tags keeps arbitrary keys (prompt, workflow); faststart lets the
            # browser start playing before the whole file has arrived.
            container_options={"movflags": "use_metadata_tags+faststart"},
        ),
        VideoFormat(
            name="mp4-h265",
            writer="pyav",
            extension=".mp4",
            mime="video/mp4",
            container="mp4",
            codec="libx265",
            pix_fmts=PIX_FMTS,
            # hvc1 is the tag Safari/QuickTime require to play HEVC in mp4 (FFmpeg's default is
            # hev1). No x265-params here: with "log-level=error" set, libx265 in this build
            # intermittently emitted packets without timestamps on short clips (measured).
            options={"preset": "medium"},
            lossless_options={"x265-params": "lossless=1"},
            # With B-frames on, libx265 here gives 1–2 frame clips broken timestamps about half
            # the time (the muxer then refuses them); without B-frames, 0 in 100 (measured).
            short_clip_options={"x265-params": "bframes=0"},
            codec_tag="hvc1",
            # libx265 in PyAV's bundled FFmpeg corrupts the heap (the process aborts) on frames
            # narrower than its 64-pixel coding tree unit; measured here, refused up front.
            min_width=64,
            container_options={"movflags": "use_metadata_tags+faststart"},
        ),
        VideoFormat(
            name="webm-vp9",
            writer="pyav",
            extension=".webm",
            mime="video/webm",
            container="webm",
            codec="libvpx-vp9",
            # This FFmpeg build's libvpx has no 10-bit 4:2:0: refuse it instead of guessing.
            pix_fmts=("yuv420p", "yuv444p"),
            # crf alone means constrained quality in libvpx; b:v 0 makes it true constant quality.
            options={"b:v": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"},
            lossless_options={"lossless": "1"},
        ),
        VideoFormat(name="gif", writer="gif", extension=".gif", mime="image/gif"),
        VideoFormat(
            name="webp", writer="webp", extension=".webp", mime="image/webp", readable_by_ffmpeg=False
        ),
        VideoFormat(
            name="png-frames",
            writer="png",
            extension="",
            mime="image/png",
            readable_by_ffmpeg=False,
            animated_preview=False,
        ),
    )
}

FORMAT_NAMES = tuple(FORMATS)


def get_format(name: str) -> VideoFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"format: {name!r} is not supported; choose one of {', '.join(FORMAT_NAMES)}"
        ) from None


# --------------------------------------------------------------------------- fps

# Broadcast rates are 1000/1001 of a round number. A float like 29.97 is *meant* as 30000/1001;
# storing 2997/100 would drift one frame every ~16 minutes against audio and players' clocks.
_NTSC_BASES = (24, 30, 48, 60, 120)


def fps_fraction(fps: float) -> Fraction:
    """The exact frame rate a float fps stands for: NTSC rates snap to n*1000/1001.

    29.97 → 30000/1001, 23.976 → 24000/1001, 7.0 → 7, 12.5 → 25/2.
    """
    if isinstance(fps, Fraction):
        return fps
    value = float(fps)
    if not value > 0:
        raise ValueError(f"fps: {fps!r} must be a positive number of frames per second")
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(value - float(ntsc)) < 0.0051 and abs(value - base) > 0.01:
            return ntsc
    return Fraction(value).limit_denominator(1001)


def frame_delays(frame_count: int, fps: Fraction, unit_per_second: int) -> list[int]:
    """Per-frame delays in whole `unit`s (ms for webp, 1/100 s for gif) that add up exactly.

    Each delay is the difference of rounded cumulative times, so rounding errors never
    accumulate: at 7 fps a gif alternates 14 and 15 centiseconds and 7 frames last 1.00 s.
    """
    delays = []
    previous = 0
    for index in range(1, frame_count + 1):
        now = round(Fraction(index * unit_per_second) / fps)
        delays.append(max(int(now - previous), 1))
        previous = now
    return delays


def webp_quality(crf: int) -> int | None:
    """WebP quality for a crf: 0 means lossless (None), 1..51 maps linearly onto 98..1."""
    if crf <= 0:
        return None
    return max(1, round(100 - crf * 99 / 51))
