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


# What the SVD parameters mean for a chain of clips (ranges and defaults are the table's).
LONG_VIDEO_TOOLTIPS = {
    "width": "Frame width in pixels (a multiple of 64).",
    "height": "Frame height in pixels (a multiple of 64).",
    "resize": "How the start image is fitted to width × height: crop, pad, stretch, or keep (its own size "
    "rounded to 64).",
    "num_frames": "Frames per clip; 0 = the model default (14 SVD, 25 SVD-XT).",
    "fps": "Frame rate the model is conditioned on and the video plays at.",
    "motion_bucket_id": "Amount of motion: higher moves more (and drifts faster over many clips).",
    "cond_aug": "Noise added to the start image; higher departs more from it.",
    "seed": "Noise seed; clip k uses seed + k.",
    "steps": "Sampling steps per clip.",
    "min_guidance_scale": "Guidance on the first frame of each clip.",
    "max_guidance_scale": "Guidance on the last frame of each clip (frames in between are interpolated linearly).",
    "decode_chunk_size": "Frames the VAE decodes at once: lower uses less memory, higher is smoother over time.",
}


class SVDSuite_ExtendVideo:
    """Chain several SVD segments into one long video, each continuing from the last frame."""

    @classmethod
    def INPUT_TYPES(cls):
        from ..svd.params import widgets
        from .long_video import OVERLAP, SEGMENTS

        return {
            "required": {
                "svd_model": ("SVD_MODEL", {"tooltip": "The model from Load SVD Model."}),
                "image": ("IMAGE", {"tooltip": "The start image (the first frame of a batch is used)."}),
                "segments": SEGMENTS.widget(explicit_step=True),
                "overlap": OVERLAP.widget(explicit_step=True),
                # Long Video has always listed step 1 on its INT widgets (/object_info is public API).
                **widgets(tooltips=LONG_VIDEO_TOOLTIPS, explicit_step=True),
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

    def extend(self, svd_model, image, segments, overlap, unique_id=None, **inputs):
        from ..svd.params import SVDParams
        from .long_video import extend_video

        return extend_video(svd_model, image, segments, overlap, SVDParams.of(inputs), node_id=unique_id)


NODE_CLASS_MAPPINGS: dict[str, type] = {
    "SVDSuite_ExtendVideo": SVDSuite_ExtendVideo,
    "SVDSuite_Interpolate": SVDSuite_Interpolate,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    "SVDSuite_ExtendVideo": "SVD Long Video",
    "SVDSuite_Interpolate": "Interpolate Frames",
}
