"""What the remote nodes share: category, image tooltip, the seed and timeout inputs, IS_CHANGED.

Provider parameters themselves are rows of each adapter's schema table (schema.py); the seed row
is here because every provider's seed means the same: -1 lets the provider pick.
"""

from __future__ import annotations

from .schema import Field

CATEGORY = "SVD Suite/remote"
IMAGE_TIP = "The start frame (first image of the batch is used); sent inline as a PNG, not uploaded."
SEED_FIELD = Field(
    "seed", 0, 2**53 - 1, omit_when=-1, default=-1,
    tooltip="-1 = random (the provider picks; the node re-runs every time). Any other value "
    "is sent as the seed and ComfyUI's cache applies.",
)  # fmt: skip
SEED = SEED_FIELD.widget()
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
MOTION_TIP = "SVD motion bucket: higher = more motion."
COND_AUG_TIP = "Noise added to the conditioning image: higher = less like the image, more motion."
HIDDEN = {"unique_id": "UNIQUE_ID"}


def is_changed_for_seed(seed=-1) -> float | int:
    """IS_CHANGED rule: NaN never equals itself, so a random seed (-1) always re-runs; a fixed seed
    returns itself and ComfyUI's cache applies."""
    return float("nan") if seed == -1 else seed
