"""Fake Replicate (docs/protocols.md §2): Bearer auth, 201 create by version, GET prediction, POST cancel.

Same fault names as the fal fake; job_failed becomes `status: failed` with an `error` string.
Hung requests: hang_submit, hang_status, stall_download (as in the fal fake).

`Cancel-After` on create is honoured as Replicate documents it: once that long has passed since
creation, a prediction that has not started becomes `aborted`, a running one `canceled`, whether
or not anyone is still polling.
"""

from __future__ import annotations

import re
import time
import uuid

from .fal import serve_file
from .server import FakeProvider, Recorded, Reply

REPLICATE_TOKEN = "r8_fakeToken-REPL-93ab"
PROBLEM = "application/problem+json"


def parse_duration(value: str | None) -> float | None:
    """`30`, `30s`, `5m`, `1h`, `2h30m` → seconds; None when absent or malformed."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+", value):
        return float(value)
    parts = re.findall(r"(\d+)([smhd])", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return float(sum(int(n) * unit[u] for n, u in parts))


def problem(status: int, title: str, detail: str, **extra) -> Reply:
    return Reply.json(
        status, {"title": title, "detail": detail, "status": status, **extra}, content_type=PROBLEM
    )


class FakeReplicate(FakeProvider):
    name = "replicate"
    key = REPLICATE_TOKEN

    def __init__(self, video: bytes):
        super().__init__(video)
        self.rate_limited = False

    def route(self, r: Recorded) -> Reply:
        if r.path.startswith("/files/"):
            job = self.jobs.get(r.path.split("/")[2])
            return serve_file(self.video, job["fault"] if job else "result_404")
        if r.headers.get("authorization") not in (f"Bearer {self.key}", f"Token {self.key}"):
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        m = re.fullmatch(r"/v1/predictions(?:/([a-z0-9]+)(/cancel)?)?", r.path)
        if not m:
            return problem(404, "Not found", "The requested resource does not exist")
        pid, cancel = m.groups()
        if pid is None and r.method == "POST":
            return self._create(r)
        job = self.jobs.get(pid or "")
        if job is None:
            return problem(404, "Not found", "Prediction not found")
        self._enforce_deadline(job)
        if cancel and r.method == "POST":
            self.event("cancel", pid)
            if job["status"] not in ("succeeded", "failed", "canceled", "aborted"):
                job["status"] = "canceled"
            return Reply.json(200, self._view(job))
        if r.method == "GET" and not cancel:
            return self._get(job)
        return problem(405, "Method not allowed", r.method)

    def _create(self, r: Recorded) -> Reply:
        body = r.json if isinstance(r.json, dict) else {}
        fault = self.plans[0] if self.plans else "ok"
        if fault == "rate_limited" and not self.rate_limited:
            self.rate_limited = True
            return Reply.json(
                429, {"detail": "Request was throttled. Your rate limit resets in ~1s."}, {"Retry-After": "1"}
            )
        self.rate_limited = False
        if not re.fullmatch(r"[0-9a-f]{64}", str(body.get("version", ""))):
            return problem(
                422,
                "Invalid version",
                "The specified version does not exist (or perhaps you don't have permission to use it?)",
            )
        image = str((body.get("input") or {}).get("input_image", ""))
        if not image.startswith("data:image/png;base64,"):
            return problem(422, "Input validation failed", "input_image is required")
        cancel_after = r.headers.get("cancel-after")
        if cancel_after is not None and (parse_duration(cancel_after) or 0) < 5:
            return problem(
                422,
                "Invalid Cancel-After",
                f"Cancel-After must be a duration of at least 5s: {cancel_after!r}",
            )
        fault = self.next_fault()
        if fault == "unauthorized":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if fault == "invalid_input":
            return problem(
                422, "Input validation failed", "- input.frames_per_second: Must be less than or equal to 30"
            )
        pid = uuid.uuid4().hex[:26]
        job = {
            "id": pid,
            "version": body["version"],
            "input": body["input"],
            "fault": fault,
            "polls": 0,
            "status": "starting",
            "logs": "",
            "submitted": time.monotonic(),
            "cancel_after": parse_duration(cancel_after),
        }
        self.add_job(pid, job)
        if fault == "hang_submit":  # created, but the answer never comes
            return Reply(201, hold=True)
        return Reply.json(201, self._view(job))

    def _enforce_deadline(self, job: dict) -> None:
        limit = job.get("cancel_after")
        if limit is None or job["status"] not in ("starting", "processing"):
            return
        if time.monotonic() - job["submitted"] >= limit:
            job["status"] = "aborted" if job["status"] == "starting" else "canceled"
            self.event("deadline", job["id"])

    def deadline_state(self, pid: str) -> str:
        """The prediction's status now, with its deadline applied (no client needed)."""
        job = self.jobs[pid]
        self._enforce_deadline(job)
        return job["status"]

    def _view(self, job: dict) -> dict:
        base = f"{self.url}/v1/predictions/{job['id']}"
        done = job["status"] == "succeeded"
        return {
            "id": job["id"],
            "model": "stability-ai/stable-video-diffusion",
            "version": job["version"],
            "input": job["input"],
            "logs": job["logs"],
            "status": job["status"],
            "error": job.get("error"),
            "created_at": "2026-01-01T00:00:00.000Z",
            "output": f"{self.url}/files/{job['id']}/out.mp4" if done else None,
            "urls": {"get": base, "cancel": f"{base}/cancel"},
        }

    def _get(self, job: dict) -> Reply:
        if job["fault"] in ("status_500_once", "malformed_status") and not job.get("faulted"):
            job["faulted"] = True
            if job["fault"] == "malformed_status":
                return Reply(200, b'{"id": "x", "status": ', {"Content-Type": "application/json"})
            return problem(500, "Internal Server Error", "Something went wrong")
        job["polls"] += 1
        if job["fault"] == "hang_status" and job["polls"] >= 3:
            return Reply(200, hold=True)
        if job["status"] in ("starting", "processing"):
            if job["polls"] >= 2:
                job["status"] = "processing"
                job["running"] = True
                job["logs"] += f"Using seed: 42\n{job['polls'] * 10}%|##  | step\n"
            if job["polls"] >= 3 and job["fault"] not in ("hold", "hang_status") and self.job_ready(job):
                if job["fault"] == "job_failed":
                    job["status"], job["error"] = "failed", "CUDA out of memory. Tried to allocate 2.00 GiB"
                else:
                    job["status"] = "succeeded"
        return Reply.json(200, self._view(job))
