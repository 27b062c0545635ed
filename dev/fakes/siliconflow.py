"""Fake SiliconFlow video API (docs/protocols.md §4): Bearer auth, POST submit, POST status, no cancel.

Served under `/v1` (the base URL includes it, as SVD_SUITE_SILICONFLOW_API_URL does). Error
bodies as §4 lists them: 400 `{"code": 20012, "message", "data"}`, 401 the bare JSON string
"Invalid token", 404 Go's plain "404 page not found", 503 `{"code": 50505, ...}`, 504 a plain
string. There is no cancel endpoint: any other path is a 404.

Faults (one per job, via plan()): unauthorized, invalid (400 code 20012), rate_limited (429 +
Retry-After once, then accepted), overloaded (503 code 50505 twice, then accepted),
gateway_timeout (the job is created, the answer is a 504), job_failed (status Failed with a
reason), never (InProgress for ever), status_500_once, malformed_status, and the download faults
expired (a 403 from the storage host), truncated, not_video, stall_download; the hung requests
hang_submit (created, never answered) and hang_status.
"""

from __future__ import annotations

import time
import uuid

from .fal import serve_file
from .server import FakeProvider, Recorded, Reply

SILICONFLOW_KEY = "sk-fakeSiliconFlowKey-SILI-77f2"
MODELS = {"Wan-AI/Wan2.2-I2V-A14B": "image", "Wan-AI/Wan2.2-T2V-A14B": "text"}
IMAGE_SIZES = {"1280x720", "720x1280", "960x960"}
EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


def plain(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def coded(status: int, code: int, message: str, data=None) -> Reply:
    return Reply.json(status, {"code": code, "message": message, "data": data})


class FakeSiliconFlow(FakeProvider):
    name = "siliconflow"
    key = SILICONFLOW_KEY

    def __init__(self, video: bytes):
        super().__init__(video)
        self.refusals = 0  # 429/503 answers given for the job at the head of the plan

    def route(self, r: Recorded) -> Reply:
        if r.path.startswith("/files/"):
            job = self.jobs.get(r.path.split("/")[2])
            fault = job["fault"] if job else "result_404"
            if fault == "expired":
                return Reply(403, EXPIRED, {"Content-Type": "application/xml"})
            return serve_file(self.video, fault)
        if r.headers.get("authorization") != f"Bearer {self.key}":
            return Reply.json(401, "Invalid token")
        if r.method == "POST" and r.path == "/v1/video/submit":
            reply = self._submit(r)
        elif r.method == "POST" and r.path == "/v1/video/status":
            reply = self._status(r)
        else:
            return plain(404, "404 page not found")
        reply.headers.setdefault("x-siliconcloud-trace-id", uuid.uuid4().hex[:16])
        return reply

    def _submit(self, r: Recorded) -> Reply:
        body = r.json if isinstance(r.json, dict) else {}
        model = body.get("model")
        if model not in MODELS:
            return coded(400, 20012, "Model does not exist. Please check it carefully.", model)
        if not str(body.get("prompt") or "").strip():
            return coded(400, 20012, "Invalid parameter: prompt is required", "prompt")
        if body.get("image_size") not in IMAGE_SIZES:
            return coded(400, 20012, "Invalid parameter: image_size", body.get("image_size"))
        image = str(body.get("image") or "")
        if MODELS[model] == "image" and not image.startswith(("data:image/", "https://", "http://")):
            return coded(400, 20012, f"Invalid parameter: image is required for {model}", "image")
        fault = self.plans[0] if self.plans else "ok"
        if fault == "rate_limited" and self.refusals < 1:
            self.refusals += 1
            return Reply.json(
                429, {"message": "Request was rejected due to rate limiting."}, {"Retry-After": "1"}
            )
        if fault == "overloaded" and self.refusals < 2:
            self.refusals += 1
            return coded(503, 50505, "Model service overloaded. Please try again later.")
        self.refusals = 0
        fault = self.next_fault()
        if fault == "unauthorized":
            return Reply.json(401, "Invalid token")
        if fault == "invalid":
            return coded(400, 20012, "Invalid parameter: seed out of range", "seed")
        request_id = uuid.uuid4().hex
        self.add_job(
            request_id,
            {"id": request_id, "input": body, "fault": fault, "polls": 0, "submitted": time.monotonic()},
        )
        if fault == "gateway_timeout":  # the job exists, the caller only sees a gateway error
            return plain(504, "504 Gateway Time-out")
        if fault == "hang_submit":
            return Reply(200, hold=True)
        return Reply.json(200, {"requestId": request_id})

    def _status(self, r: Recorded) -> Reply:
        body = r.json if isinstance(r.json, dict) else {}
        job = self.jobs.get(str(body.get("requestId") or ""))
        if job is None:
            return coded(400, 20012, "Invalid parameter: requestId not found", body.get("requestId"))
        fault = job["fault"]
        if fault in ("status_500_once", "malformed_status") and not job.get("faulted"):
            job["faulted"] = True
            if fault == "malformed_status":
                return Reply(200, b'{"status": "InProg', {"Content-Type": "application/json"})
            return coded(500, 50000, "Internal server error")
        job["polls"] += 1
        empty = {"videos": [], "timings": {}, "seed": None}
        if job["polls"] == 1:
            return Reply.json(200, {"status": "InQueue", "reason": "", "position": 1, "results": empty})
        if fault == "hang_status" and job["polls"] >= 3:
            return Reply(200, hold=True)
        if job["polls"] == 2 or fault in ("never", "hang_status") or not self.job_ready(job):
            job["running"] = True
            return Reply.json(200, {"status": "InProgress", "reason": "", "results": empty})
        if fault == "job_failed":
            return Reply.json(
                200,
                {
                    "status": "Failed",
                    "reason": "The prompt did not pass the content safety check",
                    "results": empty,
                },
            )
        results = {
            "videos": [{"url": f"{self.url}/files/{job['id']}/out.mp4"}],
            "timings": {"inference": 41},
            "seed": int(job["input"].get("seed") or 42),
        }
        return Reply.json(200, {"status": "Succeed", "reason": "", "results": results})
