"""The one job engine every remote provider runs on.

submit → poll (interrupt-aware sleeps in small slices, interval growing from SVD_SUITE_POLL_MIN_S
to a few seconds, Retry-After honoured) → fetch the result URL → download at once → check it is a
video → decode to IMAGE + fps → file it under output/svd-remote/. Providers differ only in their
adapter (fal.py, replicate.py, segmind.py), which knows URLs and field names, never the flow.

Rules kept here, once: an accepted job is never resubmitted (poll failures resume polling the
same id); on ComfyUI interrupt or at the deadline the provider's cancel is sent before raising;
every message that leaves (exception, log, UI event) passes through the job's Redactor.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import comfy
from . import download as dl
from .config import PROVIDERS, get_key, poll_max_s, poll_min_s
from .transport import ProviderError, TransientError, Transport

log = logging.getLogger("svd_suite")

STATUS_EVENT = "svd-suite.job-status"
SUBMIT_ATTEMPTS = 6
DOWNLOAD_ATTEMPTS = 3
PROGRESS_TOTAL = 100


@dataclass
class Job:
    """An accepted job: the provider's id plus whatever URLs it handed back."""

    id: str
    data: dict = field(default_factory=dict)


@dataclass
class Poll:
    """One status answer, in our words: queued | running | done | failed | cancelled."""

    state: str
    queue_position: int | None = None
    message: str = ""
    error: str = ""


class Adapter:
    """What a provider module supplies. Queue providers implement submit/poll/result_url/cancel;
    synchronous ones (Segmind v1) set `synchronous` and implement run_sync."""

    provider: str = ""
    synchronous: bool = False

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def submit(self, t: Transport, payload: dict) -> Job:
        raise NotImplementedError

    def poll(self, t: Transport, job: Job) -> Poll:
        raise NotImplementedError

    def result_url(self, t: Transport, job: Job) -> str:
        raise NotImplementedError

    def cancel(self, t: Transport, job: Job) -> None:
        raise NotImplementedError

    def run_sync(self, t: Transport, payload: dict):
        raise NotImplementedError


@dataclass
class RemoteVideo:
    """A finished remote job: decoded frames, fps, and the file saved in output/."""

    images: Any
    fps: float
    frame_count: int
    path: str
    filename: str
    subfolder: str
    mime: str
    provider: str
    job_id: str

    def ui(self) -> dict:
        """The node's ui payload: `images` + `animated`, as ComfyUI core's SaveVideo reports a
        video, so every front end (classic canvas and Nodes 2.0) previews it natively."""
        entry = {"filename": self.filename, "subfolder": self.subfolder, "type": "output", "format": self.mime}
        return {"images": [entry], "animated": [True]}


class _Interrupted(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


class StatusReporter:
    """Sends `svd-suite.job-status` events and moves the node's progress bar."""

    _PROGRESS = {"submitted": 5, "queued": 10, "running": 20, "downloading": 85, "done": 100}

    def __init__(self, provider: str, node_id: str | None, redact):
        self.provider = provider
        self.node_id = node_id
        self.redact = redact
        self.started = time.monotonic()
        self.progress = comfy.Progress(PROGRESS_TOTAL, node_id=node_id)
        self.last_message = ""

    def __call__(self, state: str, queue_position: int | None = None, message: str = "") -> None:
        if message:
            self.last_message = self.redact(message)[:500]
        elapsed = round(time.monotonic() - self.started, 2)
        comfy.send_ui_message(
            STATUS_EVENT,
            {
                "node": self.node_id,
                "provider": self.provider,
                "state": state,
                "queue_position": queue_position,
                "elapsed_s": elapsed,
                "message": self.last_message,
            },
        )
        value = self._PROGRESS.get(state)
        if state == "running":  # unknown total: creep towards 80 % as time passes
            value = 20 + int(60 * (1 - math.exp(-elapsed / 60)))
        if value is not None:
            self.progress.update(value)


def _read_video(path: str):
    from ..video.decode import read_video

    return read_video(path)


class JobRun:
    """One run of one adapter: owns the transport, the deadline and the status reporter."""

    def __init__(self, adapter: Adapter, timeout_s: float, node_id: str | None = None):
        if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        self.adapter = adapter
        self.provider = adapter.provider
        self.label = PROVIDERS[adapter.provider].label
        key = get_key(adapter.provider)
        self.t = Transport(adapter.provider, key, adapter.auth_headers(key))
        self.redact = self.t.redact
        self.timeout_s = float(timeout_s)
        self.deadline = time.monotonic() + self.timeout_s
        self.status = StatusReporter(self.provider, node_id, self.redact)
        self.job: Job | None = None

    # ------------------------------------------------------------------ waiting

    def checkpoint(self) -> None:
        if comfy.interrupt_requested():
            raise _Interrupted()
        if time.monotonic() > self.deadline:
            raise _DeadlineExceeded()

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.checkpoint()
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(0.1, remaining))

    def retrying(self, what: str, call, attempts: int | None = None):
        """Call until it stops raising TransientError (bounded by attempts and the deadline)."""
        wait = poll_min_s()
        tries = 0
        while True:
            self.checkpoint()
            try:
                return call()
            except TransientError as exc:
                tries += 1
                if attempts is not None and tries >= attempts:
                    raise ProviderError(f"{what} failed {tries} times; last error: {exc}") from None
                log.warning("SVD Suite %s: %s (retrying)", what, self.redact(exc))
                self.status("running" if self.job else "submitted", message=str(exc))
                self.sleep(exc.retry_after if exc.retry_after is not None else wait)
                wait = min(wait * 2, poll_max_s())

    # ------------------------------------------------------------------ phases

    def submit(self, payload: dict) -> Job:
        def once():
            try:
                return self.adapter.submit(self.t, payload)
            except TransientError as exc:
                # Only "not accepted" answers may be retried: anything else might have created a job.
                if exc.status in (429, 503):
                    raise
                raise ProviderError(f"{exc} (not resubmitted: the job may have been accepted)") from None

        job = self.retrying(f"{self.label} submit", once, attempts=SUBMIT_ATTEMPTS)
        self.job = job
        log.info("SVD Suite %s: job %s accepted", self.label, job.id)
        self.status("submitted", message=f"job {job.id} accepted")
        return job

    def wait_until_done(self, job: Job) -> None:
        interval = poll_min_s()
        while True:
            poll = self.retrying(
                f"{self.label} status of job {job.id}", lambda: self.adapter.poll(self.t, job)
            )
            if poll.state == "done":
                return
            if poll.state == "failed":
                raise ProviderError(f"{self.label} job {job.id} failed: {poll.error or 'no reason given'}")
            if poll.state == "cancelled":
                raise ProviderError(f"{self.label} job {job.id} was cancelled by the provider")
            self.status(poll.state, poll.queue_position, poll.message)
            self.sleep(interval)
            interval = min(interval * 1.5, poll_max_s())

    def fetch(self, url_call, partial: Path) -> None:
        def once():
            url = url_call()
            self.status("downloading")
            return dl.download(self.t, url, partial, self.checkpoint)

        self.retrying(f"{self.label} download", once, attempts=DOWNLOAD_ATTEMPTS)

    def run_sync(self, payload: dict, partial: Path) -> None:
        """Synchronous provider: the answer to the POST is the video; abort the socket on cancel."""
        self.status("submitted")

        def once():
            box: dict = {}

            def work():
                try:
                    box["response"] = self.adapter.run_sync(self.t, payload)
                except BaseException as exc:  # handed to the waiting thread
                    box["error"] = exc

            worker = threading.Thread(target=work, name=f"svd-suite-{self.provider}", daemon=True)
            worker.start()
            next_report = time.monotonic() + 2.0
            try:
                while worker.is_alive():
                    self.checkpoint()
                    if time.monotonic() >= next_report:  # elapsed time for the UI while we wait
                        self.status("running")
                        next_report += 2.0
                    worker.join(0.1)
            except (_Interrupted, _DeadlineExceeded):
                self.t.abort()
                worker.join(2)
                raise
            if "error" in box:
                exc = box["error"]
                if isinstance(exc, TransientError) and exc.status not in (429, 503):
                    raise ProviderError(f"{exc} (not resubmitted: the job may have run)") from None
                raise exc
            self.status("downloading")
            try:
                dl.stream_to_file(box["response"], partial, self.label, self.checkpoint)
            except TransientError as exc:
                raise ProviderError(str(exc)) from None

        self.retrying(f"{self.label} request", once, attempts=SUBMIT_ATTEMPTS)

    def cancel(self) -> None:
        if self.job is None or self.adapter.synchronous:
            return
        try:
            self.adapter.cancel(self.t, self.job)
            log.info("SVD Suite %s: cancel sent for job %s", self.label, self.job.id)
        except Exception as exc:  # best effort: the interrupt/timeout must still be raised
            log.warning(
                "SVD Suite %s: cancel of job %s failed: %s", self.label, self.job.id, self.redact(exc)
            )

    def finish(self, partial: Path) -> RemoteVideo:
        ext, mime = dl.check_video(partial, self.label)
        named = partial.with_name(partial.name + ext)  # decoders may look at the extension
        os.replace(partial, named)
        try:
            try:
                images, fps, count = _read_video(str(named))
            except ValueError as exc:
                raise ProviderError(
                    f"{self.label} returned a file that is not a readable video: {exc}"
                ) from None
            saved = dl.file_output(named, self.provider, ext, mime)
        finally:
            named.unlink(missing_ok=True)
        self.status("done", message=f"saved {saved.subfolder}/{saved.filename}")
        return RemoteVideo(
            images,
            float(fps),
            int(count),
            saved.path,
            saved.filename,
            saved.subfolder,
            mime,
            self.provider,
            self.job.id if self.job else "",
        )

    # ------------------------------------------------------------------ the whole flow

    def run(self, payload: dict) -> RemoteVideo:
        partial = dl.partial_path(self.provider)
        try:
            if self.adapter.synchronous:
                self.run_sync(payload, partial)
            else:
                job = self.submit(payload)
                self.wait_until_done(job)
                self.fetch(lambda: self.adapter.result_url(self.t, job), partial)
            return self.finish(partial)
        except _Interrupted:
            self.cancel()
            self.status("cancelled", message="cancelled by the user")
            comfy.throw_if_interrupted()
            raise comfy.SVDSuiteInterrupted("interrupted") from None
        except _DeadlineExceeded:
            self.cancel()
            what = f"job {self.job.id}" if self.job else "request"
            message = f"{self.label} {what} did not finish within timeout_s={self.timeout_s:g} s"
            message += "; cancel sent" if self.job and not self.adapter.synchronous else "; request aborted"
            self.status("failed", message=message)
            raise ProviderError(message) from None
        except Exception as exc:  # ComfyUI's interrupt is an Exception too
            if comfy.is_interrupt(exc):
                self.cancel()
                self.status("cancelled", message="cancelled by the user")
                raise
            message = self.redact(exc if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}")
            self.status("failed", message=message)
            log.error("SVD Suite %s: %s", self.label, message)
            raise ProviderError(message) from None
        finally:
            partial.unlink(missing_ok=True)
            self.t.close()


def run_job(adapter: Adapter, payload: dict, timeout_s: float, node_id: str | None = None) -> RemoteVideo:
    """Run one remote job end to end (see module docstring); raises ProviderError on failure."""
    return JobRun(adapter, timeout_s, node_id).run(payload)
