"""The one job engine every remote provider runs on, as a coroutine (remote nodes are async).

submit → poll (sleeps in short ticks, interval growing from SVD_SUITE_POLL_MIN_S to a few
seconds, Retry-After honoured) → fetch the result URL → download at once → check it is a video
→ decode to IMAGE + fps → file it under output/svd-remote/. Providers differ only in their
adapter (fal.py, replicate.py, segmind.py, siliconflow.py), which knows URLs and field names,
never the flow. Every blocking step runs in a thread of its own (blocking.py), so independent
remote nodes in one prompt wait on their providers together.

Rules kept here, once:
- an accepted job is never resubmitted (poll failures resume polling the same id), and a create
  request that may have been accepted (no answer, or an error other than 429/503) is never
  repeated;
- Cancel (ComfyUI's interrupt) and the deadline take effect within a tick whatever the job is
  doing (submitting, polling, downloading): requests in flight are abandoned and their sockets
  shut, then the provider's cancel is sent for an accepted job, waiting at most CANCEL_WAIT_S for
  its answer; a job accepted after that (a late answer to the create) is cancelled as it arrives;
- every message that leaves (exception, log, UI event) passes through the job's Redactor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .. import comfy
from . import blocking
from . import download as dl
from .adapter import Adapter, Job, Poll, RemoteVideo
from .config import PROVIDERS, get_key, poll_max_s, poll_min_s
from .status import STATUS_EVENT, StatusReporter
from .transport import ProviderError, TransientError, Transport

log = logging.getLogger("svd_suite")

__all__ = ["STATUS_EVENT", "Adapter", "Job", "JobRun", "Poll", "RemoteVideo", "run_job"]

SUBMIT_ATTEMPTS = 6
DOWNLOAD_ATTEMPTS = 3
CANCEL_WAIT_S = 0.5  # the provider's cancel is sent at once; we wait this long for its answer
HEARTBEAT_S = 2.0  # elapsed-time updates while a synchronous provider holds the request


class _Interrupted(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


class _Abandoned(Exception):
    """Raised inside a worker thread whose job has stopped (ends a download promptly)."""


def _read_video(path: str):
    from ..video.decode import read_video

    return read_video(path)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # Windows: an abandoned thread may still hold it open; it removes it itself
        pass


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
        self.over_at_provider = False  # the provider reported a final state: nothing to cancel
        self.cancel_sent = False
        self.stopping = threading.Event()  # seen by worker threads, which never touch ComfyUI

    # ------------------------------------------------------------------ waiting

    def checkpoint(self) -> None:
        if comfy.interrupt_requested():
            raise _Interrupted()
        if time.monotonic() > self.deadline:
            raise _DeadlineExceeded()

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def should_stop(self) -> None:
        """For worker threads (downloads): raise once the job has stopped."""
        if self.stopping.is_set():
            raise _Abandoned("the job stopped")

    async def sleep(self, seconds: float) -> None:
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self.checkpoint()
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(blocking.MAX_TICK_S, remaining))

    def _abort(self) -> None:
        self.stopping.set()
        self.t.abort()

    async def blocking(
        self, fn: Callable[[], Any], what: str, *, creates_job: bool = False, on_tick=None
    ) -> Any:
        """Run `fn` in its own thread and await it; on Cancel/deadline abandon it at once.

        `creates_job`: `fn` returns a Job; if it was accepted while we were stopping, the job is
        kept for cancelling (or, if the answer comes even later, cancelled as it arrives).
        """
        call = blocking.Call(fn, f"svd-suite-{self.provider}-{what}").start()
        try:
            await blocking.wait(call, self.checkpoint, on_tick)
        except BaseException:  # Cancel, deadline, the task's own cancellation
            self._abort()
            finished, result = call.abandon(self._cancel_late if creates_job else None)
            if finished and creates_job:
                self.job = result
            raise
        return call.outcome()

    async def retrying(
        self,
        what: str,
        attempt: Callable[[], Awaitable[Any]],
        attempts: int | None = None,
        final: Callable[[TransientError], None] | None = None,
    ):
        """Await `attempt()` until it stops raising TransientError (bounded by attempts and the
        deadline); `final(exc)` may turn a TransientError into a final error by raising."""
        wait = poll_min_s()
        tries = 0
        while True:
            self.checkpoint()
            try:
                return await attempt()
            except TransientError as exc:
                if final is not None:
                    final(exc)
                tries += 1
                if attempts is not None and tries >= attempts:
                    raise ProviderError(f"{what} failed {tries} times; last error: {exc}") from None
                log.warning("SVD Suite %s: %s (retrying)", what, self.redact(exc))
                self.status("running" if self.job else "submitted", message=str(exc))
                await self.sleep(exc.retry_after if exc.retry_after is not None else wait)
                wait = min(wait * 2, poll_max_s())

    # ------------------------------------------------------------------ phases

    async def submit(self, payload: dict) -> Job:
        def only_if_not_accepted(exc: TransientError) -> None:
            # Only "not accepted" answers may be retried: anything else might have created a job.
            if exc.status not in (429, 503):
                raise ProviderError(f"{exc} (not resubmitted: the job may have been accepted)") from None

        def create() -> Job:
            return self.adapter.submit(self.t, payload, self.remaining_s())

        job = await self.retrying(
            f"{self.label} submit",
            lambda: self.blocking(create, "submit", creates_job=True),
            attempts=SUBMIT_ATTEMPTS,
            final=only_if_not_accepted,
        )
        self.job = job
        log.info("SVD Suite %s: job %s accepted", self.label, job.id)
        self.status("submitted", message=f"job {job.id} accepted")
        return job

    async def wait_until_done(self, job: Job) -> None:
        interval = poll_min_s()
        while True:
            poll = await self.retrying(
                f"{self.label} status of job {job.id}",
                lambda: self.blocking(lambda: self.adapter.poll(self.t, job), "status"),
            )
            if poll.state in ("done", "failed", "cancelled"):
                self.over_at_provider = True
            if poll.state == "done":
                return
            if poll.state == "failed":
                raise ProviderError(f"{self.label} job {job.id} failed: {poll.error or 'no reason given'}")
            if poll.state == "cancelled":
                reason = f": {poll.error}" if poll.error else ""
                raise ProviderError(f"{self.label} job {job.id} was cancelled by the provider{reason}")
            self.status(poll.state, poll.queue_position, poll.message)
            await self.sleep(interval)
            interval = min(interval * 1.5, poll_max_s())

    async def fetch(self, job: Job, partial: Path) -> None:
        url = await self.retrying(
            f"{self.label} result of job {job.id}",
            lambda: self.blocking(lambda: self.adapter.result_url(self.t, job), "result"),
        )
        self.status("downloading")
        await self.retrying(
            f"{self.label} download",
            lambda: self.blocking(lambda: dl.download(self.t, url, partial, self.should_stop), "download"),
            attempts=DOWNLOAD_ATTEMPTS,
        )

    async def run_sync(self, payload: dict, partial: Path) -> None:
        """Synchronous provider: the answer to the POST is the video; the socket is shut on stop."""
        self.status("submitted")
        next_report = [time.monotonic() + HEARTBEAT_S]

        def heartbeat() -> None:  # elapsed time for the UI while the provider holds the request
            if time.monotonic() >= next_report[0]:
                next_report[0] += HEARTBEAT_S
                self.status("running")

        async def once() -> None:
            try:
                response = await self.blocking(
                    lambda: self.adapter.run_sync(self.t, payload), "request", on_tick=heartbeat
                )
            except TransientError as exc:
                if exc.status not in (429, 503):
                    raise ProviderError(f"{exc} (not resubmitted: the job may have run)") from None
                raise
            self.status("downloading")
            try:
                await self.blocking(
                    lambda: dl.stream_to_file(response, partial, self.label, self.should_stop), "download"
                )
            except TransientError as exc:
                raise ProviderError(str(exc)) from None

        await self.retrying(f"{self.label} request", once, attempts=SUBMIT_ATTEMPTS)

    def _send_cancel(self, job: Job) -> None:
        """The provider's cancel, on a fresh session (this job's sockets may have been shut)."""
        t = self.t.fresh()
        try:
            self.adapter.cancel(t, job)
            log.info("SVD Suite %s: cancel sent for job %s", self.label, job.id)
        except Exception as exc:  # best effort: the interrupt/timeout must still be raised
            log.warning("SVD Suite %s: cancel of job %s failed: %s", self.label, job.id, self.redact(exc))
        finally:
            t.close()

    def _cancel_late(self, job: Job) -> None:
        """A create answered after the node stopped: the job exists, so stop it (worker thread)."""
        if self.adapter.can_cancel:
            log.warning(
                "SVD Suite %s: job %s was accepted after the node stopped; cancelling it", self.label, job.id
            )
            self._send_cancel(job)
        else:
            log.warning(
                "SVD Suite %s: job %s was accepted after the node stopped; %s has no cancel, so it "
                "may still finish (and be billed)",
                self.label,
                job.id,
                self.label,
            )

    async def stop_remote(self) -> None:
        """Abandon requests in flight; send the provider's cancel for a job that is still running."""
        self._abort()
        job = self.job
        if job is None or self.over_at_provider or self.adapter.synchronous or not self.adapter.can_cancel:
            return
        call = blocking.Call(lambda: self._send_cancel(job), f"svd-suite-{self.provider}-cancel").start()
        self.cancel_sent = True
        if not await blocking.settle(call, CANCEL_WAIT_S):
            log.info(
                "SVD Suite %s: cancel of job %s is still on its way (continues in the background)",
                self.label,
                job.id,
            )

    def stop_note(self) -> str:
        """What happened to the remote side of a stopped job, for messages."""
        if self.adapter.synchronous:
            return "request aborted"
        if self.job is None:
            return "the create request was abandoned (not repeated; a job it created is cancelled when its id arrives)"
        if self.over_at_provider:
            return f"job {self.job.id} had already ended at {self.label}"
        if self.cancel_sent:
            return "cancel sent"
        if not self.adapter.can_cancel:
            return (
                f"{self.label} has no cancel endpoint, so job {self.job.id} may still finish "
                "on their side (and be billed)"
            )
        return "not cancelled"

    async def finish(self, partial: Path) -> RemoteVideo:
        ext, mime = dl.check_video(partial, self.label)
        named = partial.with_name(partial.name + ext)  # decoders may look at the extension
        os.replace(partial, named)
        try:
            try:
                images, fps, count = await self.blocking(lambda: _read_video(str(named)), "decode")
            except ValueError as exc:
                raise ProviderError(
                    f"{self.label} returned a file that is not a readable video: {exc}"
                ) from None
            saved = dl.file_output(named, self.provider, ext, mime)
        finally:
            _remove(named)
        self.status("done", message=f"saved {saved.subfolder}/{saved.filename}")
        return RemoteVideo(
            images, float(fps), int(count), saved, self.provider, self.job.id if self.job else ""
        )

    # ------------------------------------------------------------------ the whole flow

    async def _stopped_by_user(self) -> None:
        await self.stop_remote()
        note = self.stop_note()
        log.info("SVD Suite %s: cancelled by the user; %s", self.label, note)
        self.status("cancelled", message=f"cancelled by the user; {note}")

    async def run(self, payload: dict) -> RemoteVideo:
        partial = dl.partial_path(self.provider)
        try:
            if self.adapter.synchronous:
                await self.run_sync(payload, partial)
            else:
                job = await self.submit(payload)
                await self.wait_until_done(job)
                await self.fetch(job, partial)
            return await self.finish(partial)
        except _Interrupted:
            await self._stopped_by_user()
            comfy.raise_interrupt()
        except _DeadlineExceeded:
            await self.stop_remote()
            what = f"job {self.job.id}" if self.job else "request"
            message = f"{self.label} {what} did not finish within timeout_s={self.timeout_s:g} s; {self.stop_note()}"
            self.status("failed", message=message)
            raise ProviderError(message) from None
        except asyncio.CancelledError:
            # The prompt ended around this node (another node failed or was cancelled).
            await self._stopped_by_user()
            raise
        except Exception as exc:  # ComfyUI's interrupt is an Exception too
            if comfy.is_interrupt(exc):
                await self._stopped_by_user()
                raise
            await self.stop_remote()  # an accepted job that is still running is not left behind
            message = self.redact(exc if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}")
            self.status("failed", message=message)
            log.error("SVD Suite %s: %s", self.label, message)
            raise ProviderError(message) from None
        finally:
            self.stopping.set()  # an abandoned download thread stops writing and removes its file
            _remove(partial)
            self.t.close()


async def run_job(
    adapter: Adapter, payload: dict, timeout_s: float, node_id: str | None = None
) -> RemoteVideo:
    """Run one remote job end to end (see module docstring); raises ProviderError on failure."""
    return await JobRun(adapter, timeout_s, node_id).run(payload)
