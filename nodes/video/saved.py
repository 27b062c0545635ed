"""The one result type for a video file in the output folder, and the one preview built from it.

Save Video and the remote nodes both end with a file under ComfyUI's output folder, and both
show it in the node the same way ComfyUI core's SaveVideo does (`images` + `animated`), so
every front end (classic canvas and Nodes 2.0) plays it with its own player.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .formats import FORMATS

# The first PNG of a png-frames folder (encode.py names them frame_00001.png, ...).
FIRST_FRAME = "frame_00001.png"


@dataclass
class SavedVideo:
    """A file (or, for png-frames, a folder) written under the output folder.

    Save Video fills every field; a provider's file knows only where it is and its MIME type
    (sniffed from its bytes), so `format` stays "" and the counts stay 0.
    """

    path: str  # absolute path of the file (or of the folder, for png-frames)
    filename: str  # name inside `subfolder`
    subfolder: str  # relative to the output folder, "" for the top level
    mime: str  # "video/mp4", "image/gif", ...: picks the front end's player
    type: str = "output"  # ComfyUI's folder type
    format: str = ""  # Save Video's `format` widget value; "" for a provider's file
    frame_count: int = 0  # frames written (after pingpong and loops)
    fps_fraction: Fraction | None = None  # the exact rate stored in the file
    notes: list[str] = field(default_factory=list)  # what was adjusted and why (padding, rounding)
    width: int = 0  # size as stored (after padding)
    height: int = 0


def preview_payload(saved: SavedVideo) -> dict:
    """The node's `ui` dict, shaped like ComfyUI core's SaveVideo result.

    A png-frames folder is shown by its first PNG, as a still (`animated` false).
    """
    filename, subfolder, animated = saved.filename, saved.subfolder, True
    video_format = FORMATS.get(saved.format)
    if video_format is not None:
        animated = video_format.animated_preview
        if video_format.writer == "png":
            subfolder = "/".join(p for p in (saved.subfolder, saved.filename) if p)
            filename = FIRST_FRAME
    entry = {"filename": filename, "subfolder": subfolder, "type": saved.type, "format": saved.mime}
    return {"images": [entry], "animated": [animated]}
