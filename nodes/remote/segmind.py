"""Segmind adapter (docs/protocols.md §3): one synchronous POST whose answer is the video itself.

There is no job id and no cancel endpoint in v1, so the engine cancels by aborting the socket.
The image goes as bare base64 (Segmind wants no `data:` prefix).
"""

from __future__ import annotations

from .adapter import Adapter, RemoteVideo
from .config import base_url
from .engine import run_job
from .media import png_base64
from .schema import Field, build_payload
from .transport import Transport

RESIZE_METHODS = ("maintain_aspect_ratio", "crop_to_16_9")
FRAMES = ("14", "25")
# The call holds the connection for the whole generation (~30 s on Segmind's side).
SYNC_TIMEOUT = (10.0, 900.0)

FIELDS: dict[str, Field] = {
    "fps": Field("fps", 1, 60, convert=int),
    "motion": Field("motion", 1, 180, convert=int),
    "seed": Field("seed", -1, 999999999999999, convert=int),
    "cond_aug": Field("cond_aug", 0.0, 1.0, convert=float),
    "frames": Field("frames", choices=FRAMES + (14, 25), convert=int),
    "resize_method": Field("resize_method", choices=RESIZE_METHODS),
}


class SegmindAdapter(Adapter):
    provider = "segmind"
    synchronous = True

    def __init__(self):
        self.base = base_url("segmind")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def run_sync(self, t: Transport, payload: dict):
        return t.request("POST", f"{self.base}/v1/svd", json_body=payload, timeout=SYNC_TIMEOUT, stream=True)


def build_request(
    image,
    fps: int = 7,
    motion: int = 127,
    seed: int = -1,
    cond_aug: float = 0.1,
    frames: str | int = "14",
    resize_method: str = "maintain_aspect_ratio",
) -> dict:
    """Validate our inputs and build Segmind's JSON body (no network)."""
    values = {
        "fps": fps,
        "motion": motion,
        "seed": seed,
        "cond_aug": cond_aug,
        "frames": frames,
        "resize_method": resize_method,
    }
    payload = build_payload(FIELDS, values, "Segmind svd")
    payload["image"] = png_base64(image)
    payload["base64"] = False
    return payload


async def segmind_image_to_video(
    image,
    fps: int = 7,
    motion: int = 127,
    seed: int = -1,
    cond_aug: float = 0.1,
    frames: str | int = "14",
    resize_method: str = "maintain_aspect_ratio",
    timeout_s: float = 600,
    node_id: str | None = None,
) -> RemoteVideo:
    """Animate `image` with Segmind's SVD endpoint."""
    payload = build_request(image, fps, motion, seed, cond_aug, frames, resize_method)
    return await run_job(SegmindAdapter(), payload, timeout_s, node_id)
