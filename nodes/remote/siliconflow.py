"""SiliconFlow video adapter (docs/protocols.md §4): submit, status by POST, download; no cancel.

Wan 2.2 text-to-video and image-to-video behind one async API: `POST {base}/video/submit` →
`requestId`; `POST {base}/video/status` `{"requestId"}` → InQueue / InProgress / Succeed /
Failed, with `results.videos[0].url` on success (it expires within minutes: the engine downloads
it at once). The base includes `/v1`: China `https://api.siliconflow.cn/v1` (the default) or
international `https://api.siliconflow.com/v1`, picked with SVD_SUITE_SILICONFLOW_REGION (env or
config file), or replaced whole with SVD_SUITE_SILICONFLOW_API_URL.

SiliconFlow documents no cancel endpoint, so on Cancel or at the deadline the node stops polling
and says that the job may still finish (and be billed) on their side.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .adapter import Adapter, Job, Poll, RemoteVideo
from .config import base_url
from .engine import run_job
from .media import png_data_uri
from .schema import Field, build_payload, inputs_with_defaults
from .transport import ProviderError, Transport
from .widgets import SEED_FIELD

# The models, as data: name → what it starts from ("image": needs one; "text": takes none).
MODELS: dict[str, str] = {
    "Wan-AI/Wan2.2-I2V-A14B": "image",
    "Wan-AI/Wan2.2-T2V-A14B": "text",
}
MODEL_NAMES = tuple(MODELS)
IMAGE_SIZES = ("1280x720", "720x1280", "960x960")

# The inputs besides model and image, in the node's widget order.
FIELDS: dict[str, Field] = {
    "prompt": Field("prompt", required=True, default="", tooltip="What the video shows (required)."),
    "negative_prompt": Field(
        "negative_prompt", omit_when="", default="", tooltip="What to keep out of the video (optional)."
    ),
    "image_size": Field(
        "image_size", choices=IMAGE_SIZES, default=IMAGE_SIZES[0],
        tooltip="Output size: landscape, portrait or square.",
    ),
    "seed": replace(SEED_FIELD, convert=int),
}  # fmt: skip

# SiliconFlow's states in ours.
STATES = {"InQueue": "queued", "InProgress": "running", "Succeed": "done", "Failed": "failed"}


class SiliconFlowAdapter(Adapter):
    provider = "siliconflow"
    can_cancel = False

    def __init__(self):
        self.base = base_url("siliconflow")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def submit(self, t: Transport, payload: dict, remaining_s: float) -> Job:
        body = t.json(t.request("POST", f"{self.base}/video/submit", json_body=payload))
        request_id = body.get("requestId") if isinstance(body, dict) else None
        if not request_id:
            raise ProviderError(f"SiliconFlow accepted the request but sent no requestId: {str(body)[:200]}")
        return Job(str(request_id))

    def poll(self, t: Transport, job: Job) -> Poll:
        body = t.json(t.request("POST", f"{self.base}/video/status", json_body={"requestId": job.id}))
        if not isinstance(body, dict):
            return Poll("failed", error=f"unexpected answer {str(body)[:200]}")
        state = STATES.get(body.get("status"))
        if state is None:
            return Poll("failed", error=f"unexpected status {body.get('status')!r}")
        if state == "failed":
            return Poll("failed", error=str(body.get("reason") or "no reason given"))
        if state == "done":
            url = video_url(body)
            if not url:
                results = body.get("results")
                return Poll(
                    "failed", error=f"status Succeed without a video URL (results={str(results)[:200]})"
                )
            job.data["url"] = url
            return Poll("done")
        position = body.get("position")
        return Poll(state, position if state == "queued" and isinstance(position, int) else None)

    def result_url(self, t: Transport, job: Job) -> str:
        return job.data["url"]


def video_url(body: Any) -> str:
    """`results.videos[0].url`, or "" when the answer has none."""
    results = body.get("results") if isinstance(body, dict) else None
    videos = results.get("videos") if isinstance(results, dict) else None
    first = videos[0] if isinstance(videos, list) and videos else None
    url = first.get("url") if isinstance(first, dict) else None
    return url if isinstance(url, str) else ""


def build_request(image, model: str = MODEL_NAMES[0], **inputs) -> dict:
    """Validate our inputs for `model` (FIELDS' names; defaults for those left out) and build
    SiliconFlow's submit body (no network)."""
    if model not in MODELS:
        raise ValueError(f"model={model!r} is not supported; choose one of: {', '.join(MODEL_NAMES)}")
    image_models = ", ".join(name for name, start in MODELS.items() if start == "image")
    text_models = ", ".join(name for name, start in MODELS.items() if start == "text")
    if MODELS[model] == "image" and image is None:
        raise ValueError(
            f"image: {model} animates an image, and none is connected; connect one to `image`, "
            f"or choose a text-to-video model ({text_models})"
        )
    if MODELS[model] == "text" and image is not None:
        raise ValueError(
            f"image: {model} is a text-to-video model and takes no image; disconnect `image`, "
            f"or choose an image-to-video model ({image_models})"
        )
    values = inputs_with_defaults(FIELDS, inputs, model)
    payload = {"model": model, **build_payload(FIELDS, values, model)}
    if image is not None:
        payload["image"] = png_data_uri(image)
    return payload


def inputs_for_image(image, params, prompt: str) -> dict:
    """SiliconFlow's inputs for the auto engine: Wan 2.2 image-to-video at the size closest to
    the image's shape, with the user's prompt (SVD's motion settings have no equivalent)."""
    return {
        "model": "Wan-AI/Wan2.2-I2V-A14B",
        "prompt": prompt,
        "image_size": image_size_for(image),
        "seed": params.seed,
    }


def image_size_for(image) -> str:
    """SiliconFlow's size closest to the image's shape: landscape, portrait or square."""
    height, width = int(image.shape[1]), int(image.shape[2])
    if width > 1.2 * height:
        return "1280x720"
    if height > 1.2 * width:
        return "720x1280"
    return "960x960"


async def siliconflow_video(
    image=None, model: str = MODEL_NAMES[0], timeout_s: float = 600, node_id: str | None = None, **inputs
) -> RemoteVideo:
    """Make a video on SiliconFlow from `prompt` (and `image` for image-to-video models)."""
    payload = build_request(image, model, **inputs)
    return await run_job(SiliconFlowAdapter(), payload, timeout_s, node_id)
