"""Segmind adapter (docs/protocols.md §3): one synchronous POST whose answer is the video itself.

There is no job id and no cancel endpoint in v1, so the engine cancels by aborting the socket.
The image goes as bare base64 (Segmind wants no `data:` prefix).
"""

from __future__ import annotations

from .adapter import Adapter, RemoteVideo
from .config import base_url
from .engine import run_job
from .media import png_base64
from .schema import Field, build_payload, inputs_with_defaults
from .transport import Transport
from .widgets import SEED_FIELD

RESIZE_METHODS = ("maintain_aspect_ratio", "crop_to_16_9")
FRAMES = ("14", "25")
# The call holds the connection for the whole generation (~30 s on Segmind's side).
SYNC_TIMEOUT = (10.0, 900.0)

# Segmind's inputs, in the node's widget order. Segmind takes seed -1 itself (random).
FIELDS: dict[str, Field] = {
    "fps": Field("fps", 1, 60, convert=int, default=7, tooltip="Frames per second of the result."),
    "motion": Field("motion", 1, 180, convert=int, default=127, tooltip="Motion amount (Segmind: 1-180)."),
    "seed": Field("seed", -1, 999999999999999, convert=int, default=-1, tooltip=SEED_FIELD.tooltip),
    "cond_aug": Field(
        "cond_aug", 0.0, 1.0, convert=float, default=0.1, step=0.001,
        tooltip="Noise added to the conditioning image (Segmind: 0-1).",
    ),
    "frames": Field(
        "frames", choices=FRAMES + (14, 25), convert=int, default=FRAMES[0], offered=FRAMES,
        tooltip="Number of frames: 14 or 25.",
    ),
    "resize_method": Field(
        "resize_method", choices=RESIZE_METHODS, default=RESIZE_METHODS[0],
        tooltip="How the image is fitted to the model's size.",
    ),
}  # fmt: skip


class SegmindAdapter(Adapter):
    provider = "segmind"
    synchronous = True

    def __init__(self):
        self.base = base_url("segmind")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def run_sync(self, t: Transport, payload: dict):
        return t.request("POST", f"{self.base}/v1/svd", json_body=payload, timeout=SYNC_TIMEOUT, stream=True)


def build_request(image, **inputs) -> dict:
    """Validate our inputs (FIELDS' names; defaults for those left out) and build Segmind's JSON
    body (no network)."""
    payload = build_payload(FIELDS, inputs_with_defaults(FIELDS, inputs, "Segmind svd"), "Segmind svd")
    payload["image"] = png_base64(image)
    payload["base64"] = False
    return payload


def inputs_for_svd(params) -> dict:
    """Segmind's inputs for the shared SVD parameters (the auto engine), moved into its ranges."""
    return {
        "fps": FIELDS["fps"].clamp(params.fps),
        "motion": FIELDS["motion"].clamp(params.motion_bucket_id),
        "seed": params.seed,
        "cond_aug": FIELDS["cond_aug"].clamp(params.cond_aug),
        "frames": FRAMES[1] if params.num_frames > 14 else FRAMES[0],
    }


async def segmind_image_to_video(
    image, timeout_s: float = 600, node_id: str | None = None, **inputs
) -> RemoteVideo:
    """Animate `image` with Segmind's SVD endpoint (`inputs`: FIELDS)."""
    return await run_job(SegmindAdapter(), build_request(image, **inputs), timeout_s, node_id)
