"""ComfyUI node classes for going beyond one clip: frame interpolation and long videos.

Thin on purpose: each node declares its inputs and calls a plain function in `interpolate.py`
or `long_video.py`, which tests and benchmarks call directly.
"""

from __future__ import annotations

from ..comfy import Progress

CATEGORY = "SVD Suite"


class SVDSuite_Interpolate:
    """Multiply the frame rate with in-between frames: dense optical flow, or RIFE with your weights."""

    @classmethod
    def INPUT_TYPES(cls):
        from .methods import default_method, method_choices
        from .rife.architectures import SCALES

        methods = method_choices()
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
            "optional": {
                "method": (
                    methods,
                    {
                        "default": default_method(methods),
                        "tooltip": "optical flow: no weights needed. Or a RIFE weight file from "
                        "models/rife/ (or ComfyUI-Frame-Interpolation's ckpts/rife/): RIFE 4.7, "
                        "4.17 and 4.26 layouts, .pth or .safetensors. Quality comes from the weights.",
                    },
                ),
                "ensemble": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "RIFE only (4.7 and 4.17 weights): also run every step with the frames "
                        "swapped and average; steadier in uncertain areas, twice the time.",
                    },
                ),
                "scale": (
                    list(SCALES),
                    {
                        "default": 1.0,
                        "tooltip": "RIFE only: size the motion is estimated at, relative to the frame. "
                        "0.5 or 0.25 for large frames or fast motion (faster), 2 for small, fine detail.",
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
        "Frame interpolation: optical flow (OpenCV DIS plus a block search, both directions, "
        "occlusion-aware splatting; no weights needed) or RIFE with your own weight file. Smooths "
        "SVD's low frame rate."
    )

    def interpolate(
        self, images, fps, multiplier, method="optical flow", ensemble=False, scale=1.0, unique_id=None
    ):
        from .interpolate import validate_interpolation
        from .methods import interpolate, validate_method

        validate_interpolation(images, fps, multiplier)
        validate_method(method, scale, ensemble)
        progress = Progress(max(int(images.shape[0]) - 1, 1), node_id=unique_id)
        return interpolate(images, fps, multiplier, method, scale=scale, ensemble=ensemble, progress=progress)


def _int(default: int, lo: int, hi: int, tooltip: str, step: int = 1, **extra) -> tuple:
    return ("INT", {"default": default, "min": lo, "max": hi, "step": step, "tooltip": tooltip, **extra})


def _float(default: float, lo: float, hi: float, step: float, tooltip: str) -> tuple:
    return ("FLOAT", {"default": default, "min": lo, "max": hi, "step": step, "tooltip": tooltip})


RESIZE_MODES = ["crop", "pad", "stretch", "keep"]


class SVDSuite_ExtendVideo:
    """Chain several SVD segments into one long video, each continuing from the last frame."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "svd_model": ("SVD_MODEL", {"tooltip": "The model from Load SVD Model."}),
                "image": ("IMAGE", {"tooltip": "The start image (the first frame of a batch is used)."}),
                "segments": _int(
                    3, 1, 50, "How many SVD clips to chain; each starts from the previous clip's last frame."
                ),
                "overlap": _int(
                    1,
                    0,
                    8,
                    "Frames shared by neighbouring clips, cross-faded at each join "
                    "(1 blends the join frame with its re-generation; 0 appends whole clips). "
                    "Must be less than the frames per clip.",
                ),
                "width": _int(1024, 64, 2048, "Frame width in pixels (a multiple of 64).", step=64),
                "height": _int(576, 64, 2048, "Frame height in pixels (a multiple of 64).", step=64),
                "resize": (
                    RESIZE_MODES,
                    {
                        "default": "crop",
                        "tooltip": "How the start image is fitted to "
                        "width × height: crop, pad, stretch, or keep (its own size "
                        "rounded to 64).",
                    },
                ),
                "num_frames": _int(0, 0, 128, "Frames per clip; 0 = the model default (14 SVD, 25 SVD-XT)."),
                "fps": _int(7, 1, 60, "Frame rate the model is conditioned on and the video plays at."),
                "motion_bucket_id": _int(
                    127, 1, 255, "Amount of motion: higher moves more (and drifts faster over many clips)."
                ),
                "cond_aug": _float(
                    0.02, 0.0, 10.0, 0.001, "Noise added to the start image; higher departs more from it."
                ),
                "seed": _int(
                    0, 0, 0xFFFFFFFFFFFFFFFF, "Noise seed; clip k uses seed + k.", control_after_generate=True
                ),
                "steps": _int(25, 1, 200, "Sampling steps per clip."),
                "min_guidance_scale": _float(
                    1.0, 0.0, 20.0, 0.1, "Guidance on the first frame of each clip."
                ),
                "max_guidance_scale": _float(
                    3.0,
                    0.0,
                    20.0,
                    0.1,
                    "Guidance on the last frame of each clip (frames in between are interpolated linearly).",
                ),
                "decode_chunk_size": _int(
                    8,
                    1,
                    128,
                    "Frames the VAE decodes at once: lower uses less memory, higher is smoother over time.",
                ),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    RETURN_TYPES = ("IMAGE", "FLOAT")
    RETURN_NAMES = ("images", "fps")
    OUTPUT_TOOLTIPS = ("All clips joined: segments × (frames − overlap) + overlap frames.", "Frame rate.")
    FUNCTION = "extend"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Long video from one image: generates several SVD clips, each conditioned on the last frame of "
        "the previous one (seed + k for clip k), and cross-fades the joins."
    )

    def extend(self, svd_model, image, segments, overlap, unique_id=None, **params):
        from .long_video import extend_video, segment_progress_span, validate_long_video

        frames = validate_long_video(svd_model, segments, overlap, params.get("num_frames", 0))
        span = segment_progress_span(
            svd_model, frames, params.get("steps", 25), params.get("decode_chunk_size", 8)
        )
        progress = Progress(segments * span, node_id=unique_id)
        return extend_video(svd_model, image, segments, overlap, progress=progress, **params)


NODE_CLASS_MAPPINGS: dict[str, type] = {
    "SVDSuite_ExtendVideo": SVDSuite_ExtendVideo,
    "SVDSuite_Interpolate": SVDSuite_Interpolate,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    "SVDSuite_ExtendVideo": "SVD Long Video",
    "SVDSuite_Interpolate": "Interpolate Frames",
}
