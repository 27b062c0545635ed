"""Fake fal.ai queue (docs/protocols.md §1): Key auth, 200 submit, 202/200 status, result, PUT cancel.

Faults (one per job, via plan()): unauthorized, invalid_input (422 detail list), rate_limited
(429 + Retry-After once, then accepted), status_500_once, malformed_status, job_failed
(COMPLETED with error), failed_state / canceled_state (terminal FAILED / CANCELED, which
third-party schemas list), echo_key (401 echoing the Authorization header), result_error (422 on
the result GET), result_202_once (the result GET first answers 202: not done yet), result_404,
truncated, not_video, hold (IN_PROGRESS until cancelled), odd_urls (the job lives under URLs
unlike fal's usual layout: only a client that uses the returned URLs finds it), and the hung
requests: hang_submit (job created, answer never sent), hang_status (status requests hang once
the job runs), stall_download (the video stops half way).
"""

from __future__ import annotations

import time
import uuid

from .server import FakeProvider, Recorded, Reply

FAL_KEY = "fakeid:fakesecret-FAL-7d1e"
KNOWN_APPS = {"fal-ai/stable-video", "fal-ai/fast-svd-lcm", "fal-ai/svd", "fal-ai/ltx-video/image-to-video"}


class FakeFal(FakeProvider):
    name = "fal"
    key = FAL_KEY

    def __init__(self, video: bytes):
        super().__init__(video)
        self.rate_limited_once: set[str] = set()

    def route(self, r: Recorded) -> Reply:
        if r.path.startswith("/files/"):
            return self._file(r)
        if r.headers.get("authorization") != f"Key {self.key}":
            return Reply.json(401, {"detail": "Invalid authentication credentials"})
        parts = r.path.strip("/").split("/")
        if parts[0] == "q":  # odd_urls jobs: /q/{id}, /q/{id}/status, /q/{id}/cancel
            job = self.jobs.get(parts[1]) if len(parts) > 1 else None
            if job is None or job["fault"] != "odd_urls":
                return Reply.json(404, {"detail": "Not found"})
            return self._job_request(r, job, parts[2:])
        if "requests" in parts:
            i = parts.index("requests")
            app, rest = "/".join(parts[:i]), parts[i + 1 :]
            job = self.jobs.get(rest[0]) if rest else None
            if job is None or job["owner_alias"] != app or job["fault"] == "odd_urls":
                return Reply.json(404, {"detail": f"Request {rest[:1]} not found"})  # owner/alias only
            return self._job_request(r, job, rest[1:])
        if r.method == "POST":
            return self._submit(r, "/".join(parts))
        return Reply.json(404, {"detail": "Not found"})

    def _job_request(self, r: Recorded, job: dict, rest: list[str]) -> Reply:
        if r.method == "GET" and rest == ["status"]:
            return self._status(job)
        if r.method == "GET" and not rest:
            return self._result(job)
        if r.method == "PUT" and rest == ["cancel"]:
            return self._cancel(job)
        return Reply.json(405, {"detail": "Method not allowed"})

    def _submit(self, r: Recorded, app: str) -> Reply:
        if app not in KNOWN_APPS:
            return Reply.json(404, {"detail": f"Application '{app}' not found"})
        body = r.json
        if not isinstance(body, dict) or not str(body.get("image_url", "")).startswith(
            "data:image/png;base64,"
        ):
            return Reply.json(
                422, {"detail": [{"loc": ["body", "image_url"], "msg": "field required", "type": "missing"}]}
            )
        fault = self.plans[0] if self.plans else "ok"
        if fault == "rate_limited" and app not in self.rate_limited_once:
            self.rate_limited_once.add(app)
            return Reply.json(429, {"detail": "Too many requests"}, {"Retry-After": "1"})
        fault = self.next_fault()
        self.rate_limited_once.discard(app)
        if fault == "unauthorized":
            return Reply.json(401, {"detail": "Invalid Key Authorization header format."})
        if fault == "echo_key":  # a misbehaving gateway that echoes credentials: tests the redactor
            return Reply.json(401, {"detail": f"Rejected header: {r.headers.get('authorization')}"})
        if fault == "invalid_input":
            return Reply.json(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "image_url"],
                            "msg": "Image is too large",
                            "type": "image_too_large",
                        },
                        {
                            "loc": ["body", "motion_bucket_id"],
                            "msg": "ensure this value is <= 255",
                            "type": "value_error",
                        },
                    ]
                },
            )
        request_id = str(uuid.uuid4())
        owner_alias = "/".join(app.split("/")[:2])
        base = f"{self.url}/{owner_alias}/requests/{request_id}"
        if fault == "odd_urls":
            base = f"{self.url}/q/{request_id}"
        job = {
            "id": request_id,
            "app": app,
            "owner_alias": owner_alias,
            "fault": fault,
            "polls": 0,
            "cancelled": False,
            "input": body,
            "urls": {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"},
            "submitted": time.monotonic(),
        }
        self.add_job(request_id, job)
        if fault == "hang_submit":  # accepted, but the answer never comes
            return Reply(200, hold=True)
        return Reply.json(
            200, {"request_id": request_id, **job["urls"], "status": "IN_QUEUE", "queue_position": 0}
        )

    def _status(self, job: dict) -> Reply:
        common = {"request_id": job["id"], **job["urls"]}
        if job["fault"] in ("status_500_once", "malformed_status") and not job.get("faulted"):
            job["faulted"] = True
            if job["fault"] == "malformed_status":
                return Reply(200, b'{"status": "IN_PROG', {"Content-Type": "application/json"})
            return Reply.json(500, {"detail": "Internal Server Error"})
        job["polls"] += 1
        if job["cancelled"]:
            return Reply.json(
                200,
                {
                    "status": "COMPLETED",
                    **common,
                    "logs": None,
                    "metrics": {},
                    "error": "Request was cancelled",
                    "error_type": "client_cancelled",
                },
            )
        if job["polls"] == 1:
            return Reply.json(202, {"status": "IN_QUEUE", "queue_position": 1, **common, "logs": None})
        if job["fault"] == "hang_status" and job["polls"] >= 3:
            return Reply(200, hold=True)
        if job["polls"] == 2 or job["fault"] in ("hold", "hang_status") or not self.job_ready(job):
            job["running"] = True
            logs = [
                {
                    "message": f"step {job['polls']}/20",
                    "level": "INFO",
                    "source": "user",
                    "timestamp": "2026-01-01T00:00:00Z",
                }
            ]
            return Reply.json(202, {"status": "IN_PROGRESS", **common, "logs": logs})
        if job["fault"] in ("failed_state", "canceled_state"):
            status, error = (
                ("FAILED", "Runner crashed while loading the model")
                if job["fault"] == "failed_state"
                else ("CANCELED", "Request was cancelled by an administrator")
            )
            return Reply.json(
                200,
                {
                    "status": status,
                    **common,
                    "logs": None,
                    "error": error,
                    "error_type": "runner_server_error",
                },
            )
        if job["fault"] == "job_failed":
            return Reply.json(
                200,
                {
                    "status": "COMPLETED",
                    **common,
                    "logs": None,
                    "metrics": {},
                    "error": "CUDA out of memory while sampling",
                    "error_type": "runner_server_error",
                },
            )
        return Reply.json(
            200,
            {
                "status": "COMPLETED",
                **common,
                "logs": None,
                "metrics": {"inference_time": 1.5},
                "error": None,
                "error_type": None,
            },
        )

    def _result(self, job: dict) -> Reply:
        if job["fault"] == "result_202_once" and not job.get("result_202"):
            job["result_202"] = True
            return Reply.json(
                202, {"status": "IN_PROGRESS", "request_id": job["id"], **job["urls"], "logs": None}
            )
        if job["fault"] == "result_error":
            return Reply.json(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "image_url"],
                            "msg": "Could not decode image",
                            "type": "image_load_error",
                        }
                    ]
                },
            )
        key = "image" if job["app"] == "fal-ai/svd" else "video"  # fal-ai/svd returns the video as `image`
        file = {
            "url": f"{self.url}/files/{job['id']}/out.mp4",
            "content_type": "video/mp4",
            "file_name": "out.mp4",
            "file_size": len(self.video),
        }
        return Reply.json(200, {key: file, "seed": 42})

    def _cancel(self, job: dict) -> Reply:
        self.event("cancel", job["id"])
        if job["polls"] >= 3 and job["fault"] not in ("hold", "hang_status") and self.job_ready(job):
            return Reply.json(400, {"status": "ALREADY_COMPLETED"})
        job["cancelled"] = True
        return Reply.json(202, {"status": "CANCELLATION_REQUESTED"})

    def _file(self, r: Recorded) -> Reply:
        job = self.jobs.get(r.path.split("/")[2])
        return serve_file(self.video, job["fault"] if job else "result_404")


def serve_file(video: bytes, fault: str) -> Reply:
    """The CDN side shared by the fakes: the mp4, or the download faults."""
    if fault == "result_404":
        return Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
    if fault == "not_video":
        return Reply(200, b"this is certainly not a video file" * 20, {"Content-Type": "video/mp4"})
    if fault == "truncated":
        return Reply(200, video[: len(video) // 2], {"Content-Type": "video/mp4"}, content_length=len(video))
    if fault == "stall_download":
        return Reply(200, video, {"Content-Type": "video/mp4"}, stall=True)
    return Reply(200, video, {"Content-Type": "video/mp4"})
