"""Widget specs shared by the remote node classes (so every node says the same thing the same way)."""

from __future__ import annotations

CATEGORY = "SVD Suite/remote"
IMAGE_TIP = "The start frame (first image of the batch is used); sent inline as a PNG, not uploaded."
SEED = (
    "INT",
    {
        "default": -1,
        "min": -1,
        "max": 2**53 - 1,
        "tooltip": "-1 = random (the provider picks; the node re-runs every time). Any other value "
        "is sent as the seed and ComfyUI's cache applies.",
    },
)
TIMEOUT = (
    "INT",
    {
        "default": 600,
        "min": 10,
        "max": 7200,
        "step": 10,
        "tooltip": "Overall deadline in seconds; when it passes the job is cancelled at the provider.",
    },
)
MOTION = (
    "INT",
    {"default": 127, "min": 1, "max": 255, "tooltip": "SVD motion bucket: higher = more motion."},
)
COND_AUG = (
    "FLOAT",
    {
        "default": 0.02,
        "min": 0.0,
        "max": 10.0,
        "step": 0.001,
        "tooltip": "Noise added to the conditioning image: higher = less like the image, more motion.",
    },
)
HIDDEN = {"unique_id": "UNIQUE_ID"}


def is_changed_for_seed(seed=-1) -> float | int:
    """IS_CHANGED rule: NaN never equals itself, so a random seed (-1) always re-runs; a fixed seed
    returns itself and ComfyUI's cache applies."""
    return float("nan") if seed == -1 else seed
