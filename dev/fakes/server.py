"""A small threaded HTTP server base for the provider fakes: records every request, plans faults.

Tests program a fake in-process (`fake.plan("hold")`) or over HTTP (`POST /_control` with
`{"plan": ["hold"]}`, `{"job_seconds": 5}` or `{"reset": true}`), which also works for jobs a
real ComfyUI server submits, since the fakes run in the test process and ComfyUI only sees their
URLs.

Hung requests: `Reply(hold=True)` answers nothing, `Reply(stall=True)` sends the headers and half
the body, then nothing more; either is held until the client goes away (recorded as a
"disconnect" event) or HOLD_LIMIT_S passes. `fake.holding()` says how many are held right now.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOLD_LIMIT_S = 60.0  # every held request ends by itself, so no test can hang on a fake


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    time: float = field(default_factory=time.monotonic)

    @property
    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    content_length: int | None = None  # lie about the length (truncated download)
    hold: bool = False  # keep the connection open until the client goes away
    stall: bool = False  # send headers and half the body, then hold (a stalled download)

    @classmethod
    def json(cls, status: int, data, headers: dict | None = None, content_type="application/json") -> Reply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": content_type, **(headers or {})})


class FakeProvider:
    """Base class: subclasses implement `route(request) -> Reply`."""

    name = "fake"

    def __init__(self, video: bytes):
        self.video = video
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.events: list[tuple[str, str]] = []  # ("cancel", job id), ("disconnect", path) …
        self.plans: deque[str] = deque()
        self.jobs: dict[str, dict] = {}
        self.job_seconds = 0.0  # > 0: every job runs at least this long after its submission
        self._held = 0
        self._stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"fake-{self.name}",
            daemon=True,
        )

    # ------------------------------------------------------------- lifecycle / control
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def plan(self, *faults: str) -> None:
        """Faults for the next jobs, one per job, in order ("ok" = no fault)."""
        with self.lock:
            self.plans.extend(faults)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.events.clear()
            self.plans.clear()
            self.jobs.clear()
            self.job_seconds = 0.0

    def next_fault(self) -> str:
        with self.lock:
            return self.plans.popleft() if self.plans else "ok"

    def add_job(self, job_id: str, job: dict) -> None:
        with self.lock:
            self.jobs[job_id] = job

    def job_ready(self, job: dict) -> bool:
        """False while a job's minimum run time (job_seconds) has not passed yet."""
        return time.monotonic() - job.get("submitted", 0.0) >= self.job_seconds

    def holding(self) -> int:
        """How many requests are being held (hung) right now."""
        with self.lock:
            return self._held

    def has_running_job(self) -> bool:
        """True once a job has been reported in progress (safe to call from any thread)."""
        with self.lock:
            return any(job.get("running") for job in self.jobs.values())

    def event(self, kind: str, detail: str) -> None:
        with self.lock:
            self.events.append((kind, detail))

    def seen(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method) and contains in r.path]

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        """Wait (bounded) until predicate() is true; for tests synchronising with a running job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except RuntimeError:  # a dict changed under a predicate: just look again
                pass
            time.sleep(0.05)
        return False

    def route(self, request: Recorded) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def _control(self, request: Recorded) -> Reply:
        data = request.json or {}
        if data.get("reset"):
            self.reset()
        if data.get("plan"):
            self.plan(*data["plan"])
        if "job_seconds" in data:
            self.job_seconds = float(data["job_seconds"])
        with self.lock:
            return Reply.json(200, {"plans": list(self.plans), "events": self.events})

    def hold(self, handler: BaseHTTPRequestHandler, path: str, until=None) -> None:
        """Block until the client disconnects, `until()` is true, or HOLD_LIMIT_S passes."""
        sock: socket.socket = handler.connection
        deadline = time.monotonic() + HOLD_LIMIT_S
        with self.lock:
            self._held += 1
        self.event("hold", path)
        try:
            while time.monotonic() < deadline and not self._stopping.is_set():
                if until is not None and until():
                    return
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable:
                    try:
                        if sock.recv(1, socket.MSG_PEEK) == b"":
                            self.event("disconnect", path)
                            return
                    except OSError:
                        self.event("disconnect", path)
                        return
        finally:
            with self.lock:
                self._held -= 1


def _handler_for(provider: FakeProvider):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            if parts.path == "/_control":
                reply = provider._control(request)
            else:
                with provider.lock:
                    provider.requests.append(request)
                reply = provider.route(request)
            if reply.hold:
                provider.hold(self, parts.path)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            length = reply.content_length if reply.content_length is not None else len(reply.body)
            self.send_header("Content-Length", str(length))
            if reply.content_length is not None or reply.stall:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            body = reply.body[: len(reply.body) // 2] if reply.stall else reply.body
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                return
            if reply.stall:
                provider.hold(self, parts.path)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler
