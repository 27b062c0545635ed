"""Fake Segmind v1 (docs/protocols.md §3): x-api-key auth, synchronous POST /v1/svd answering raw video.

Faults: unauthorized (401), no_credits (406), rate_limited (429 + Retry-After once), server_error
(500), not_video, truncated, hold (answers nothing until the client aborts; recorded as an
event "disconnect").
"""

from __future__ import annotations

import base64
import binascii

from .fal import serve_file
from .server import FakeProvider, Recorded, Reply

SEGMIND_KEY = "SG_fakeKey-SEGM-51c0"


class FakeSegmind(FakeProvider):
    name = "segmind"
    key = SEGMIND_KEY

    def __init__(self, video: bytes):
        super().__init__(video)
        self.rate_limited = False

    def route(self, r: Recorded) -> Reply:
        if r.headers.get("x-api-key") != self.key:
            return Reply.json(401, {"error": "Unauthorized: invalid or missing API key"})
        if r.path != "/v1/svd" or r.method != "POST":
            return Reply.json(404, {"error": "Not found"})
        body = r.json if isinstance(r.json, dict) else {}
        image = str(body.get("image", ""))
        try:
            ok = (
                bool(image)
                and not image.startswith("data:")
                and base64.b64decode(image, validate=True)[:4] == b"\x89PNG"
            )
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            return Reply.json(400, {"error": "image must be base64 (without a data: prefix) or a URL"})
        fault = self.plans[0] if self.plans else "ok"
        if fault == "rate_limited" and not self.rate_limited:
            self.rate_limited = True
            return Reply.json(429, {"error": "Rate limit exceeded"}, {"Retry-After": "1"})
        self.rate_limited = False
        fault = self.next_fault()
        self.event("run", fault)
        if fault == "unauthorized":
            return Reply.json(401, {"error": "Unauthorized: invalid or missing API key"})
        if fault == "no_credits":
            return Reply.json(406, {"error": "Not enough credits"})
        if fault == "server_error":
            return Reply.json(500, {"error": "Internal server error"})
        if fault == "hold":
            self.add_job(f"sync-{len(self.jobs)}", {"running": True})
            return Reply(200, hold=True)
        reply = serve_file(self.video, fault)
        reply.headers["x-remaining-credits"] = "12.5"
        return reply
