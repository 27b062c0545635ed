"""A node-preview image from one IMAGE frame (both extend nodes show their latest frame)."""

from __future__ import annotations

from typing import Any


def frame_preview(frame) -> Any:
    """PIL image of a [H, W, 3] 0..1 frame, or None: a preview must never break a run."""
    try:
        import cv2
        from PIL import Image

        # OpenCV's saturating conversion (after max(0, x)), not torch element-wise ops: measured
        # 0.3 ms against 55 ms for a 512x288 frame on a busy 2-core CPU, once per pair.
        rgb = cv2.max(frame[..., :3].detach().to("cpu").float().contiguous().numpy(), 0.0)
        return Image.fromarray(cv2.convertScaleAbs(rgb, alpha=255.0))
    except Exception:
        return None
