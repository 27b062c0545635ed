"""ComfyUI node classes for going beyond one clip: frame interpolation and long videos.

Thin on purpose: each node declares its inputs and calls a plain function in `interpolate.py`
or `long_video.py`, which tests and benchmarks call directly.
"""

from __future__ import annotations

from ..comfy import Progress

CATEGORY = "SVD Suite"


class SVDSuite_Interpolate:
    """Multiply the frame rate by making in-between frames from dense optical flow."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The frames to interpolate, in order."}),
                "fps": (
                    "FLOAT",
                    {
                        "default": 7.0,
                        "min": 0.01,
                        "max": 120.0,
                        "step": 0.01,
                        "tooltip": "Frame rate of the input; the output runs at fps × multiplier, so the "
                        "duration stays the same.",
                    },
                ),
                "multiplier": (
                    "INT",
                    {
                        "default": 2,
                        "min": 2,
                        "max": 8,
                        "step": 1,
                        "tooltip": "How many times more frames: k − 1 new frames go into every gap, "
                        "giving (n − 1)·k + 1 frames.",
                    },
                ),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    RETURN_TYPES = ("IMAGE", "FLOAT")
    RETURN_NAMES = ("images", "fps")
    OUTPUT_TOOLTIPS = ("The original frames with the in-between frames.", "fps × multiplier.")
    FUNCTION = "interpolate"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Optical-flow frame interpolation (OpenCV DIS flow, both directions, occlusion-aware blend). "
        "Smooths SVD's low frame rate without a learned model."
    )

    def interpolate(self, images, fps, multiplier, unique_id=None):
        from .interpolate import interpolate_frames, validate_interpolation

        validate_interpolation(images, fps, multiplier)
        progress = Progress(max(int(images.shape[0]) - 1, 1), node_id=unique_id)
        return interpolate_frames(images, fps, multiplier, progress=progress)


NODE_CLASS_MAPPINGS: dict[str, type] = {
    "SVDSuite_Interpolate": SVDSuite_Interpolate,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    "SVDSuite_Interpolate": "Interpolate Frames",
}
