"""Replicate adapter (docs/protocols.md §2): create a prediction by version, poll urls.get, cancel.

`stability-ai/stable-video-diffusion` is a community Cog model, so predictions are created on
`POST /v1/predictions` with the version id (overridable: Replicate publishes new versions).

The create carries `Cancel-After` (Replicate's prediction deadline, whole seconds left of
timeout_s): Replicate itself stops the prediction then, `aborted` (unbilled) if it had not
started, `canceled` if it had, even when ComfyUI is no longer there to send the cancel.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from .adapter import Adapter, Job, Poll, RemoteVideo
from .config import base_url
from .engine import run_job
from .media import png_data_uri
from .schema import Field, build_payload, inputs_with_defaults
from .transport import ProviderError, Transport
from .url_trust import same_origin
from .widgets import COND_AUG_TIP, MOTION_TIP, SEED_FIELD

MODEL = "stability-ai/stable-video-diffusion"
DEFAULT_VERSION = "3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438"
VIDEO_LENGTHS = ("14_frames_with_svd", "25_frames_with_svd_xt")
SIZING_STRATEGIES = ("maintain_aspect_ratio", "crop_to_16_9", "use_image_dimensions")
MIN_CANCEL_AFTER_S = 5  # we never ask for a deadline shorter than this

# The model's inputs, in the node's widget order (defaults are the model's own).
FIELDS: dict[str, Field] = {
    "video_length": Field(
        "video_length", choices=VIDEO_LENGTHS, default=VIDEO_LENGTHS[0],
        tooltip="14 frames (SVD) or 25 frames (SVD-XT).",
    ),
    "sizing_strategy": Field(
        "sizing_strategy", choices=SIZING_STRATEGIES, default=SIZING_STRATEGIES[0],
        tooltip="How the image is fitted to the model's size.",
    ),
    "frames_per_second": Field(
        "frames_per_second", 5, 30, convert=int, default=6,
        tooltip="Frame rate of the result (the model's fps conditioning).",
    ),
    "motion_bucket_id": Field("motion_bucket_id", 1, 255, convert=int, default=127, tooltip=MOTION_TIP),
    "cond_aug": Field("cond_aug", 0.0, 10.0, convert=float, default=0.02, step=0.001, tooltip=COND_AUG_TIP),
    "decoding_t": Field(
        "decoding_t", 1, 25, convert=int, default=14,
        tooltip="Frames decoded at a time (lower = less GPU memory there).",
    ),
    "seed": replace(SEED_FIELD, convert=int),
}  # fmt: skip

# Replicate's states in ours.
STATES = {
    "starting": "queued",
    "processing": "running",
    "succeeded": "done",
    "failed": "failed",
    "canceled": "cancelled",
    "aborted": "cancelled",
}


def parse_version(version: str) -> str:
    """Accept a bare version id or `owner/name:version`; ValueError otherwise."""
    value = (version or "").strip()
    if ":" in value:
        value = value.rsplit(":", 1)[1]
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(
            f"version={version!r} is not a Replicate version id (64 hex characters, e.g. {DEFAULT_VERSION})"
        )
    return value


class ReplicateAdapter(Adapter):
    provider = "replicate"

    def __init__(self, version: str):
        self.version = version
        self.base = base_url("replicate")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def _url(self, job: Job, which: str) -> str:
        returned = (job.data.get("urls") or {}).get(which)
        if isinstance(returned, str) and same_origin(returned, self.base):
            return returned
        return f"{self.base}/v1/predictions/{job.id}" + ("/cancel" if which == "cancel" else "")

    def submit(self, t: Transport, payload: dict, remaining_s: float) -> Job:
        body = t.json(
            t.request(
                "POST",
                f"{self.base}/v1/predictions",
                json_body={"version": self.version, "input": payload},
                headers={"Cancel-After": cancel_after(remaining_s)},
            )
        )
        if not isinstance(body, dict) or not body.get("id"):
            raise ProviderError(
                f"Replicate accepted the request but sent no prediction id: {str(body)[:200]}"
            )
        return Job(str(body["id"]), body)

    def poll(self, t: Transport, job: Job) -> Poll:
        body = t.json(t.request("GET", self._url(job, "get")))
        if not isinstance(body, dict):
            return Poll("failed", error=f"unexpected answer {str(body)[:200]}")
        job.data["output"] = body.get("output")
        logs = [line for line in str(body.get("logs") or "").splitlines() if line.strip()]
        state = STATES.get(body.get("status"), "")
        if not state:
            return Poll("failed", error=f"unexpected status {body.get('status')!r}")
        return Poll(state, None, logs[-1] if logs else "", str(body.get("error") or ""))

    def result_url(self, t: Transport, job: Job) -> str:
        return output_url(job.data.get("output"))

    def cancel(self, t: Transport, job: Job) -> None:
        t.request("POST", self._url(job, "cancel"), timeout=(5.0, 10.0))


def cancel_after(remaining_s: float) -> str:
    """Replicate's Cancel-After value for what is left of our deadline: whole seconds, `s` unit."""
    return f"{max(MIN_CANCEL_AFTER_S, math.ceil(remaining_s))}s"


def output_url(output: Any) -> str:
    """The SVD model's output is one URL; tolerate a list (take the last file) too."""
    if isinstance(output, list) and output:
        output = output[-1]
    if isinstance(output, str) and output:
        return output
    raise ProviderError(f"Replicate prediction succeeded without a video URL (output={str(output)[:200]})")


def build_request(image, **inputs) -> dict:
    """Validate our inputs (FIELDS' names; defaults for those left out) and build the
    prediction's `input` object (no network)."""
    payload = build_payload(FIELDS, inputs_with_defaults(FIELDS, inputs, MODEL), MODEL)
    payload["input_image"] = png_data_uri(image)
    return payload


def inputs_for_svd(params) -> dict:
    """Replicate's inputs for the shared SVD parameters (the auto engine): more than 14 frames
    asks for SVD-XT's 25, and fps is moved into Replicate's range."""
    return {
        "video_length": VIDEO_LENGTHS[1] if params.num_frames > 14 else VIDEO_LENGTHS[0],
        "frames_per_second": FIELDS["frames_per_second"].clamp(params.fps),
        "motion_bucket_id": params.motion_bucket_id,
        "cond_aug": params.cond_aug,
        "seed": params.seed,
    }


async def replicate_image_to_video(
    image, timeout_s: float = 600, version: str = DEFAULT_VERSION, node_id: str | None = None, **inputs
) -> RemoteVideo:
    """Animate `image` with stability-ai/stable-video-diffusion on Replicate (`inputs`: FIELDS)."""
    version_id = parse_version(version)
    payload = build_request(image, **inputs)
    return await run_job(ReplicateAdapter(version_id), payload, timeout_s, node_id)
