"""A node-preview image from one IMAGE frame (both extend nodes show their latest frame)."""

from __future__ import annotations

from typing import Any


def frame_preview(frame) -> Any:
    """PIL image of a [H, W, 3] 0..1 frame, or None: a preview must never break a run."""
    try:
        from PIL import Image

        return Image.fromarray((frame[..., :3].clamp(0, 1) * 255).round().to("cpu").byte().numpy())
    except Exception:
        return None
