"""save_video: validate everything, stream the frames into a temp file, publish it atomically.

This is the function behind the Save Video node; tests and the benchmark call it directly.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from .. import comfy
from . import naming
from .colour import padded_size
from .encode import WRITERS, EncodeJob, frame_order
from .formats import fps_fraction, get_format
from .metadata import build_metadata
from .saved import SavedVideo

log = logging.getLogger("svd_suite")

FPS_RANGE = (0.01, 120.0)
CRF_RANGE = (0, 51)
LOOP_RANGE = (0, 100)
GIF_MAX_FPS = 50.0  # delays under 2/100 s are slowed to 1/10 s by browsers


def _check_range(name: str, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name}: {value!r} is out of range; allowed {low}–{high}")


def _validate(images, fps, fmt_name, crf, pix_fmt, loop_count):
    fmt = get_format(fmt_name)
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[0] < 1 or shape[3] not in (3, 4) or shape[1] < 1 or shape[2] < 1:
        raise ValueError(f"images: expected an IMAGE batch [frames, height, width, 3], got shape {shape}")
    _check_range("fps", fps, *FPS_RANGE)
    _check_range("crf", crf, *CRF_RANGE)
    _check_range("loop_count", loop_count, *LOOP_RANGE)
    if int(crf) != crf or int(loop_count) != loop_count:
        raise ValueError("crf and loop_count must be whole numbers")
    if fmt.yuv and pix_fmt not in fmt.pix_fmts:
        raise ValueError(
            f"pix_fmt: {pix_fmt!r} is not available for {fmt.name}; choose one of {', '.join(fmt.pix_fmts)}"
        )
    encoded_width = padded_size(shape[2], shape[1], pix_fmt)[0] if fmt.yuv else shape[2]
    if encoded_width < fmt.min_width:
        raise ValueError(
            f"format: {fmt.name} needs frames at least {fmt.min_width} pixels wide, got {encoded_width}; "
            "use mp4-h264 or webm-vp9 for smaller frames"
        )
    if fmt.codec:
        import av

        try:
            av.codec.Codec(fmt.codec, "w")
        except Exception:
            raise ValueError(
                f"format: {fmt.name} needs the {fmt.codec} encoder, which this PyAV/FFmpeg build "
                f"does not include; choose mp4-h264 or webm-vp9"
            ) from None
    return fmt


def prepare_tags(metadata: dict[str, Any] | None) -> dict[str, str]:
    """Normalise ComfyUI-style metadata ({"prompt": {...}, "workflow": {...}}) into scrubbed tags."""
    if not metadata:
        return {}
    prompt = metadata.get("prompt")
    if isinstance(prompt, str):
        try:
            prompt = json.loads(prompt)
        except ValueError:
            prompt = None
    extra = {}
    for key, value in metadata.items():
        if key == "prompt":
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        extra[key] = value
    return build_metadata(prompt, extra)


def save_video(
    images,
    fps: float,
    format: str = "mp4-h264",
    crf: int = 19,
    pix_fmt: str = "yuv420p",
    loop_count: int = 0,
    pingpong: bool = False,
    filename_prefix: str = "svd/video",
    metadata: dict[str, Any] | None = None,
    output_dir: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SavedVideo:
    """Encode IMAGE frames to a new file under the output folder and return what was written.

    `metadata` is ComfyUI's {"prompt": api_prompt, **extra_pnginfo}; secret-named inputs are
    removed before embedding. `loop_count`: gif/webp store it as the file's loop count (0 plays
    forever); mp4/webm/png-frames repeat the clip that many extra times.
    """
    fmt = _validate(images, fps, format, crf, pix_fmt, loop_count)
    target = naming.resolve_target(filename_prefix, output_dir or comfy.output_directory(), fmt.extension)
    rate = fps_fraction(fps)
    n, height, width = int(images.shape[0]), int(images.shape[1]), int(images.shape[2])
    # gif/webp carry a loop count in the file; the other formats repeat the clip instead.
    repeats = 1 if fmt.writer in ("gif", "webp") else int(loop_count) + 1
    order = frame_order(n, bool(pingpong), repeats)
    notes: list[str] = []
    out_w, out_h = width, height
    if fmt.yuv:
        out_w, out_h = padded_size(width, height, pix_fmt)
        if (out_w, out_h) != (width, height):
            notes.append(
                f"padded {width}x{height} to {out_w}x{out_h} (repeated edge) because {pix_fmt} needs even sizes"
            )
    elif pix_fmt != "yuv420p":
        notes.append(f"pix_fmt {pix_fmt} does not apply to {fmt.name}; ignored")
    if fmt.name == "gif":
        notes.append("gif delays are in 1/100 s: per-frame delays alternate so the total duration is exact")
        if metadata:
            notes.append("gif has no room for the workflow: metadata not embedded")
        if float(rate) > GIF_MAX_FPS:
            notes.append(f"{float(rate):g} fps exceeds what browsers play for gif ({GIF_MAX_FPS:g} max)")
    elif fmt.name == "webp":
        notes.append("webp delays are whole milliseconds: per-frame delays alternate so the total is exact")
    for note in notes:
        log.info("SVD Suite Save Video: %s", note)
    tags = prepare_tags(metadata)

    temp = naming.temp_path(target)
    try:
        job = EncodeJob(temp, fmt, images, order, rate, int(crf), pix_fmt, int(loop_count), tags, on_progress)
        WRITERS[fmt.writer](job)
        comfy.throw_if_interrupted()
        filename = naming.publish(temp, target)
    except BaseException:
        naming.discard(temp)
        raise
    return SavedVideo(
        path=os.path.join(target.folder, filename),
        filename=filename,
        subfolder=target.subfolder,
        type="output",
        mime=fmt.mime,
        frame_count=len(order),
        fps_fraction=rate,
        notes=notes,
        format=fmt.name,
        width=out_w,
        height=out_h,
    )

