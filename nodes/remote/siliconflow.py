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

from typing import Any

from .adapter import Adapter, Job, Poll, RemoteVideo
from .config import base_url
from .engine import run_job
from .media import png_data_uri
from .schema import Field, build_payload
from .transport import ProviderError, Transport

# The models, as data: name → what it starts from ("image": needs one; "text": takes none).
MODELS: dict[str, str] = {
    "Wan-AI/Wan2.2-I2V-A14B": "image",
    "Wan-AI/Wan2.2-T2V-A14B": "text",
}
MODEL_NAMES = tuple(MODELS)
IMAGE_SIZES = ("1280x720", "720x1280", "960x960")

FIELDS: dict[str, Field] = {
    "prompt": Field("prompt", required=True),
    "negative_prompt": Field("negative_prompt", omit_when=""),
    "image_size": Field("image_size", choices=IMAGE_SIZES),
    "seed": Field("seed", 0, 2**53 - 1, omit_when=-1, convert=int),
}

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


def build_request(
    image,
    model: str = MODEL_NAMES[0],
    prompt: str = "",
    negative_prompt: str = "",
    image_size: str = IMAGE_SIZES[0],
    seed: int = -1,
) -> dict:
    """Validate our inputs for `model` and build SiliconFlow's submit body (no network)."""
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
    values = {"prompt": prompt, "negative_prompt": negative_prompt, "image_size": image_size, "seed": seed}
    payload = {"model": model, **build_payload(FIELDS, values, model)}
    if image is not None:
        payload["image"] = png_data_uri(image)
    return payload


async def siliconflow_video(
    image=None,
    model: str = MODEL_NAMES[0],
    prompt: str = "",
    negative_prompt: str = "",
    image_size: str = IMAGE_SIZES[0],
    seed: int = -1,
    timeout_s: float = 600,
    node_id: str | None = None,
) -> RemoteVideo:
    """Make a video on SiliconFlow from `prompt` (and `image` for image-to-video models)."""
    payload = build_request(image, model, prompt, negative_prompt, image_size, seed)
    return await run_job(SiliconFlowAdapter(), payload, timeout_s, node_id)
