"""Write a contact sheet (a grid of frames) of a video, so the demo's result is visible at a glance.

    demo_contact_sheet.py VIDEO [OUT.png] [--input IMAGE] [--columns 7] [--thumb-width 256]

Why a separate image: a random-weight demo model makes noise-like motion that is easier to judge
frame by frame, and a PNG opens everywhere (terminals with image preview, file browsers, CI).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MAX_FRAMES = 28
LABEL_HEIGHT = 16
GAP = 4


def read_frames(video: Path) -> list:
    import av

    with av.open(str(video)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def pick(frames: list, limit: int) -> list[tuple[int, object]]:
    """Up to `limit` frames spread evenly over the clip, first and last included."""
    if len(frames) <= limit:
        return list(enumerate(frames))
    step = (len(frames) - 1) / (limit - 1)
    indices = sorted({round(i * step) for i in range(limit)})
    return [(i, frames[i]) for i in indices]


def contact_sheet(frames: list, columns: int, thumb_width: int, source=None):
    from PIL import Image, ImageDraw

    if not frames:
        raise ValueError("the video has no frames")
    chosen = pick(frames, MAX_FRAMES)
    if source is not None:  # the input image first, so the frames can be compared with it
        chosen.insert(0, (-1, source))
    width, height = chosen[0][1].size
    thumb_height = max(1, round(height * thumb_width / width))
    columns = max(1, min(columns, len(chosen)))
    rows = -(-len(chosen) // columns)
    cell_h = thumb_height + LABEL_HEIGHT
    sheet = Image.new("RGB", (columns * (thumb_width + GAP) + GAP, rows * (cell_h + GAP) + GAP), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for n, (index, frame) in enumerate(chosen):
        x = GAP + (n % columns) * (thumb_width + GAP)
        y = GAP + (n // columns) * (cell_h + GAP)
        sheet.paste(frame.convert("RGB").resize((thumb_width, thumb_height)), (x, y))
        label = "input image" if index < 0 else f"frame {index + 1}/{len(frames)}"
        draw.text((x + 2, y + thumb_height + 2), label, fill=(220, 220, 220))
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--input", type=Path, help="the source image, shown as the first tile")
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--thumb-width", type=int, default=256)
    args = parser.parse_args(argv)
    out = args.out or args.video.with_name(f"{args.video.stem}-frames.png")
    if out.exists():
        print(f"contact sheet: {out} exists, not overwriting", file=sys.stderr)
        return 1
    source = None
    if args.input is not None:
        from PIL import Image

        with Image.open(args.input) as image:
            source = image.convert("RGB")
    sheet = contact_sheet(read_frames(args.video), args.columns, args.thumb_width, source)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    sheet.save(tmp, format="PNG")
    os.replace(tmp, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
