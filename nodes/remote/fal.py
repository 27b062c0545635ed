"""fal.ai queue adapter (docs/protocols.md §1, §6): submit, status, result, cancel, and the app table.

Submit goes to `{queue}/{app id incl. subpath}`. fal answers with `status_url`, `response_url`
and `cancel_url`, and its docs say to use those as given rather than build them; we do, as long
as they point at the configured queue host or at fal's own https domains (the key is sent with
them, so never anywhere else). Only when one is missing do we fall back to fal's documented layout
`{queue}/{owner}/{alias}/requests/{id}` (no subpath).

HTTP 202 on status or result means "not done yet", whatever the body says; a terminal state other
than success (COMPLETED with an error, FAILED, CANCELED) ends the job with fal's reason. Submit
carries X-Fal-Request-Timeout (fal's time-to-start deadline), so a job still queued when
timeout_s passes is dropped by fal even if ComfyUI is gone by then.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .adapter import Adapter, Job, Poll, RemoteVideo
from .config import base_url
from .engine import run_job
from .media import archive_reference, frames_zip_data_uri, mask_data_uri, png_data_uri
from .schema import Field, build_payload, inputs_with_defaults
from .transport import ProviderError, TransientError, Transport
from .url_trust import same_origin
from .widgets import COND_AUG_TIP, MOTION_TIP, SEED_FIELD

SEED = SEED_FIELD
MOTION = Field("motion_bucket_id", 1, 255, default=127, tooltip=MOTION_TIP)
COND_AUG = Field("cond_aug", 0.0, 10.0, default=0.02, step=0.001, tooltip=COND_AUG_TIP)

# Our input → fal field, per app. fps/steps 0 = "the app's own default" (apps differ: 25 vs 10 fps).
APPS: dict[str, dict[str, Field]] = {
    "fal-ai/stable-video": {
        "motion_bucket_id": MOTION,
        "cond_aug": COND_AUG,
        "seed": SEED,
        "fps": Field("fps", 10, 100, omit_when=0),
    },
    "fal-ai/fast-svd-lcm": {
        "motion_bucket_id": MOTION,
        "cond_aug": COND_AUG,
        "seed": SEED,
        "fps": Field("fps", 1, 100, omit_when=0),
        "steps": Field("steps", 1, 20, omit_when=0),
    },
    "fal-ai/svd": {
        "motion_bucket_id": MOTION,
        "cond_aug": COND_AUG,
        "seed": SEED,
        "steps": Field("steps", 1, 100, omit_when=0),
        "mask_image_url": Field("mask_image_url"),
        "control_maps_data_url": Field("control_maps_data_url"),
    },
    "fal-ai/ltx-video/image-to-video": {
        "prompt": Field("prompt", required=True),
        "seed": SEED,
        "steps": Field("num_inference_steps", 1, 100, omit_when=0),
    },
}
APP_NAMES = tuple(APPS)
AUTO_APP = "fal-ai/stable-video"  # the SVD app the auto engine runs
# The node's inputs across apps, in widget order: each app takes the rows its table has. fps and
# steps span every app's range, with 0 for "the app's default".
INPUTS: dict[str, Field] = {
    "motion_bucket_id": MOTION,
    "cond_aug": COND_AUG,
    "fps": Field(
        "fps", 1, 100, omit_when=0, default=0,
        tooltip="Frames per second of the result; 0 = the app's default "
        "(stable-video: 25, range 10-100; fast-svd-lcm: 10).",
    ),
    "steps": Field(
        "steps", 1, 100, omit_when=0, default=0,
        tooltip="Sampling steps; 0 = the app's default (fast-svd-lcm 1-20, svd, ltx-video). "
        "stable-video has no steps setting.",
    ),
    "seed": SEED,
    "prompt": Field(
        "prompt", default="", tooltip="Text prompt, required by fal-ai/ltx-video/image-to-video only."
    ),
}  # fmt: skip
FAL_DOMAINS = ("fal.run", "fal.ai")  # hosts fal's own answers may point at (https only)
FAILED_STATES = {"FAILED", "CANCELED", "CANCELLED", "ERROR"}


def owner_alias(app: str) -> str:
    """`fal-ai/ltx-video/image-to-video` → `fal-ai/ltx-video` (status URLs drop the subpath)."""
    return "/".join(app.split("/")[:2])


def trusted_url(url: str, base: str) -> bool:
    """May `url` carry our key? Only on the configured queue host or fal's own https domains."""
    if same_origin(url, base):
        return True
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == d or host.endswith("." + d) for d in FAL_DOMAINS)


class FalAdapter(Adapter):
    provider = "fal"

    def __init__(self, app: str):
        self.app = app
        self.base = base_url("fal")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    def _url(self, job: Job, returned_key: str, suffix: str) -> str:
        returned = job.data.get(returned_key)
        if isinstance(returned, str) and returned:
            if not trusted_url(returned, self.base):
                raise ProviderError(
                    f"fal.ai returned a {returned_key} on an unexpected host "
                    f"({urlsplit(returned).hostname}); not sending the key there"
                )
            return returned
        return f"{self.base}/{owner_alias(self.app)}/requests/{job.id}{suffix}"

    def submit(self, t: Transport, payload: dict, remaining_s: float) -> Job:
        # fal's time-to-start deadline: a job not started by then is dropped, even if we are gone.
        deadline = {"X-Fal-Request-Timeout": f"{max(1.0, remaining_s):.0f}"}
        body = t.json(t.request("POST", f"{self.base}/{self.app}", json_body=payload, headers=deadline))
        if not isinstance(body, dict) or not body.get("request_id"):
            raise ProviderError(f"fal.ai accepted the request but sent no request_id: {str(body)[:200]}")
        return Job(str(body["request_id"]), body)

    def poll(self, t: Transport, job: Job) -> Poll:
        response = t.request("GET", self._url(job, "status_url", "/status"), params={"logs": "1"})
        not_done = response.status_code == 202
        body = t.json(response)
        body = body if isinstance(body, dict) else {}
        status = str(body.get("status") or "").upper()
        logs = body.get("logs")
        message = ""
        if isinstance(logs, list) and logs and isinstance(logs[-1], dict):
            message = str(logs[-1].get("message", ""))
        if status == "IN_QUEUE":
            position = body.get("queue_position")
            return Poll("queued", position if isinstance(position, int) else None, message)
        if status == "IN_PROGRESS" or (not_done and status not in FAILED_STATES):
            return Poll("running", None, message)  # 202: not done yet, whatever the body says
        if status == "COMPLETED" and not body.get("error"):
            return Poll("done", message=message)
        if status == "COMPLETED" or status in FAILED_STATES:
            # A failed or cancelled request is COMPLETED too, with `error` set.
            reason = body.get("error") or body.get("detail") or f"status {status}"
            kind = f" [{body['error_type']}]" if body.get("error_type") else ""
            state = "cancelled" if status in ("CANCELED", "CANCELLED") else "failed"
            return Poll(state, error=f"{reason}{kind}")
        return Poll("failed", error=f"unexpected status {body.get('status')!r}")

    def result_url(self, t: Transport, job: Job) -> str:
        response = t.request("GET", self._url(job, "response_url", ""))
        if response.status_code == 202:
            response.close()
            raise TransientError("fal.ai result is not ready yet (202)", retry_after=None, status=202)
        return video_url(t.json(response))

    def cancel(self, t: Transport, job: Job) -> None:
        t.request("PUT", self._url(job, "cancel_url", "/cancel"), timeout=(5.0, 10.0))


def video_url(body: Any) -> str:
    """The output file URL: under `video`, or `image` for fal-ai/svd (which returns the video there)."""
    if isinstance(body, dict):
        for key in ("video", "image"):
            item = body.get(key)
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                return item["url"]
            if isinstance(item, str):
                return item
    keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
    raise ProviderError(f"fal.ai result has no video file (keys: {keys})")


def build_request(
    image, app: str, mask=None, control_frames=None, control_maps_url: str = "", **inputs
) -> dict:
    """Validate our inputs (INPUTS' names; defaults for those left out) for `app` and build
    fal's JSON body (no network)."""
    if app not in APPS:
        raise ValueError(f"app={app!r} is not supported; choose one of: {', '.join(APP_NAMES)}")
    fields = APPS[app]
    values = inputs_with_defaults(INPUTS, inputs, "fal.ai")
    uses_extras = mask is not None or control_frames is not None or control_maps_url.strip()
    if uses_extras and "mask_image_url" not in fields:
        raise ValueError(f"mask / control_frames / control_maps_url are only used by fal-ai/svd, not {app}")
    if mask is not None:
        values["mask_image_url"] = mask_data_uri(mask)
    if control_frames is not None and control_maps_url.strip():
        raise ValueError("connect control_frames or set control_maps_url, not both")
    if control_frames is not None:
        values["control_maps_data_url"] = frames_zip_data_uri(control_frames)
    elif control_maps_url.strip():
        values["control_maps_data_url"] = archive_reference(control_maps_url)
    payload = build_payload(fields, values, app)
    payload["image_url"] = png_data_uri(image)
    return payload


def inputs_for_svd(params) -> dict:
    """fal-ai/stable-video's inputs for the shared SVD parameters (the auto engine), moved into
    that app's ranges."""
    fields = APPS[AUTO_APP]
    return {
        "motion_bucket_id": params.motion_bucket_id,
        "cond_aug": fields["cond_aug"].clamp(params.cond_aug),
        "fps": fields["fps"].clamp(params.fps),
        "seed": params.seed,
    }


async def fal_image_to_video(
    image,
    app: str = AUTO_APP,
    timeout_s: float = 600,
    mask=None,
    control_frames=None,
    control_maps_url: str = "",
    node_id: str | None = None,
    **inputs,
) -> RemoteVideo:
    """Animate `image` (IMAGE, first frame used) on fal.ai; returns frames, fps and the saved file."""
    payload = build_request(image, app, mask, control_frames, control_maps_url, **inputs)
    return await run_job(FalAdapter(app), payload, timeout_s, node_id)
