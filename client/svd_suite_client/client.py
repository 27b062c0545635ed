"""The sync client for one ComfyUI server: HTTP calls plus ONE websocket shared by every prompt.

The websocket's reader thread (connection.py) hands each event to the queue of the prompt it
belongs to. Prompt ids are chosen here and registered before POST /prompt, so no event can
arrive for a prompt nobody waits for. A dropped or silent websocket is reopened in the
background (same clientId); meanwhile pending prompts are followed over HTTP (/queue,
/history), and after a reconnect they are reconciled from /history. Only a server whose HTTP
stays unreachable for the reconnect budget fails its waiters with `ServerGone`.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from . import events as ev
from .api import ServerApi
from .connection import WebsocketLink
from .errors import ComfyClientError, ExecutionFailed, Interrupted, PromptRejected, ServerGone, Timeout
from .events import terminal_from_history
from .outputs import RunResult

SILENCE_POLL_S = 5.0  # with no event for this long, ask /history (covers lost websocket frames)
KEEPALIVE_INTERVAL_S = 5.0  # ping after this long without a frame
PONG_TIMEOUT_S = 10.0  # a ping unanswered (no frame at all) this long = the websocket is lost
BACKOFF_CAP_S = 2.0


def reconnect_budget_for(attempts: int, backoff: float) -> float:
    """Seconds the old attempt-counting reconnect waited in all (5 × from 0.1 s, doubling: 3.1 s)."""
    return sum(min(backoff * 2**i, BACKOFF_CAP_S) for i in range(attempts))


class _Failure:
    """Put into a waiter's queue when its prompt can no longer end normally (server gone)."""

    def __init__(self, error: Exception):
        self.error = error


class _Pending:
    def __init__(self, prompt_id: str):
        self.prompt_id = prompt_id
        self.events: queue.Queue = queue.Queue()
        self.idle = threading.Event()  # executing{node:null} seen: history is written by now
        self.submitted = False  # POST /prompt was accepted: the server knows the prompt
        self.settled = False  # its end (or a failure) is in `events`


class ComfyClient(ServerApi):
    """A client for one ComfyUI server (sync API; thread-safe; see AsyncComfyClient for asyncio).

    `headers` / `token` go to every HTTP request and the websocket (e.g. a reverse proxy's
    bearer token); `verify=False` skips TLS certificate checks. The server counts as gone when
    neither its websocket nor HTTP (/system_stats) answers for `reconnect_budget` seconds
    (default: what `reconnect_attempts` tries starting at `reconnect_backoff` add up to, 3.1 s).
    `keepalive_interval` (None: off) and `pong_timeout` tune how soon a silent websocket is noticed.
    """

    def __init__(
        self,
        server: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        verify: bool = True,
        client_id: str | None = None,
        http_timeout: float = 30.0,
        reconnect_attempts: int = 5,
        reconnect_backoff: float = 0.1,
        reconnect_budget: float | None = None,
        keepalive_interval: float | None = KEEPALIVE_INTERVAL_S,
        pong_timeout: float = PONG_TIMEOUT_S,
        previews: bool = True,
    ):
        super().__init__(server, headers=headers, token=token, verify=verify, http_timeout=http_timeout)
        self.client_id = client_id or uuid.uuid4().hex
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_backoff = reconnect_backoff
        self.reconnect_budget = (
            reconnect_budget
            if reconnect_budget is not None
            else reconnect_budget_for(reconnect_attempts, reconnect_backoff)
        )
        self.previews = previews
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._early: collections.OrderedDict[str, list] = collections.OrderedDict()
        self._finished: collections.deque = collections.deque(maxlen=4096)
        self._finished_set: set[str] = set()
        self._closed = False
        self._current_prompt: str | None = None
        self._status_listeners: list[Callable[[ev.Event], None]] = []
        self.silence_poll_s = SILENCE_POLL_S
        self._link = WebsocketLink(
            self,
            url=self._ws_url(),
            display=self.display_base,
            headers=self._headers,
            verify=verify,
            previews=previews,
            keepalive_interval=keepalive_interval,
            pong_timeout=pong_timeout,
            reconnect_backoff=reconnect_backoff,
            reconnect_budget=self.reconnect_budget,
        )

    @property
    def reconnects(self) -> int:
        """How often the websocket was reopened after a loss."""
        return self._link.reconnects

    @property
    def websocket_connected(self) -> bool:
        """Whether events arrive over an open websocket right now."""
        return self._link.connected

    # ---------------------------------------------------------------- websocket
    def add_status_listener(self, callback: Callable[[ev.Event], None]) -> None:
        """Called (on the reader thread) with server-wide events such as Status."""
        self._status_listeners.append(callback)

    def _ws_url(self) -> str:
        scheme = "wss" if self.base.startswith("https") else "ws"
        return f"{scheme}{self.base[self.base.index(':') :]}/ws?clientId={self.client_id}"

    def connect(self) -> None:
        """Open the websocket and start its reader (done lazily by queue/run). A refused
        websocket is no error while HTTP answers: it is retried in the background."""
        if self._closed:
            raise ComfyClientError("client is closed")
        self._link.start(check_http=self._check_http)

    def close(self) -> None:
        """Stop the reader thread and release the websocket and HTTP connections."""
        self._closed = True
        self._link.close()
        self.session.close()

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_http(self) -> None:
        """Raise ServerGone unless /system_stats answers (bounded by the reconnect budget)."""
        self._json("GET", "/system_stats", timeout=min(self.http_timeout, max(1.0, self.reconnect_budget)))

    # Called by the websocket reader (connection.LinkOwner).
    def _ws_event(self, event: ev.Event) -> None:
        self._dispatch(event)

    def _ws_reconnected(self) -> None:
        self._reconcile_pending()

    def _follow_over_http(self) -> None:
        """The websocket is down: is the server still there, and did any of our prompts end?"""
        self._check_http()
        with self._lock:
            following = [p for p in self._pending.values() if p.submitted and not p.settled]
        if not following:
            return
        state = self.queue_state()
        on_server = set(state["running"]) | set(state["pending"])
        for pending in following:
            if pending.prompt_id in on_server:
                continue
            # Not queued any more: ComfyUI moves a prompt from the queue to /history atomically.
            entry = self.history(pending.prompt_id)
            event = terminal_from_history(pending.prompt_id, entry)
            if event is not None:
                self._deliver(pending.prompt_id, event)
            elif not entry:
                self._fail(pending, ServerGone(self._forgotten(pending.prompt_id)))

    def _server_gone(self, error: ServerGone) -> None:
        with self._lock:
            waiters = list(self._pending.values())
        for pending in waiters:
            self._fail(pending, error)

    def _has_unsettled(self) -> bool:
        with self._lock:
            return any(not p.settled for p in self._pending.values())

    def _fail(self, pending: _Pending, error: Exception) -> None:
        with self._lock:
            if pending.settled:
                return
            pending.settled = True
        pending.events.put(_Failure(error))

    def _forgotten(self, prompt_id: str) -> str:
        return f"server {self.display_base} no longer knows prompt {prompt_id} (restarted?)"

    def _reconcile_pending(self) -> None:
        """After a reconnect, finish prompts that completed while we were not listening."""
        with self._lock:
            waiting = [p.prompt_id for p in self._pending.values() if p.submitted and not p.settled]
        for prompt_id in waiting:
            try:
                entry = self.history(prompt_id)
            except ComfyClientError:
                return
            event = terminal_from_history(prompt_id, entry)
            if event is not None:
                self._deliver(prompt_id, event)

    def _dispatch(self, event: ev.Event) -> None:
        if isinstance(event, ev.Preview) and event.prompt_id is None:
            event.prompt_id = self._current_prompt  # event-1 previews carry no prompt id
        elif isinstance(event, ev.Started | ev.Executing) and event.prompt_id:
            self._current_prompt = event.prompt_id
        if event.prompt_id is None:
            for listener in list(self._status_listeners):
                listener(event)
            return
        self._deliver(event.prompt_id, event)

    def _deliver(self, prompt_id: str, event: ev.Event) -> None:
        with self._lock:
            pending = self._pending.get(prompt_id)
            if pending is None:
                if prompt_id in self._finished_set:
                    return
                self._early.setdefault(prompt_id, []).append(event)
                while len(self._early) > 1024:
                    self._early.popitem(last=False)
                return
            if isinstance(event, ev.TERMINAL):
                if pending.settled:
                    return  # the same end, reported over HTTP and then over the websocket
                pending.settled = True
        if isinstance(event, ev.Executing) and event.node is None:
            pending.idle.set()
        pending.events.put(event)

    # ---------------------------------------------------------------- prompts
    def queue(self, prompt: dict[str, Any], prompt_id: str | None = None, front: bool = False) -> str:
        """Submit an API-format prompt; returns its id. Events are kept until `wait(id)`."""
        prompt_id = prompt_id or str(uuid.uuid4())
        pending = _Pending(prompt_id)
        with self._lock:  # registered first: the reader stays on duty for it, no event is lost
            self._pending[prompt_id] = pending
            for early in self._early.pop(prompt_id, []):
                pending.events.put(early)
        body: dict[str, Any] = {"prompt": prompt, "client_id": self.client_id, "prompt_id": prompt_id}
        if front:
            body["front"] = True
        try:
            self.connect()
            response = self._post_prompt_once(body)
        except BaseException:
            self._forget(prompt_id)
            raise
        if response.status_code != 200:
            self._forget(prompt_id)
            try:
                answer = response.json()
            except ValueError:
                answer = response.text
            if response.status_code == 400:
                raise PromptRejected(answer)
            raise ComfyClientError(f"POST /prompt failed: HTTP {response.status_code} {str(answer)[:200]}")
        pending.submitted = True
        return prompt_id

    def pending_prompts(self) -> list[str]:
        """Ids queued through this client that nobody has awaited to the end yet."""
        with self._lock:
            return list(self._pending)

    def _post_prompt_once(self, body: dict[str, Any]) -> requests.Response:
        """POST /prompt, resending after a dropped connection only if the server did not get it:
        a prompt is never queued twice."""
        try:
            return self._request("POST", "/prompt", retry=False, json=body)
        except ServerGone:
            prompt_id = body["prompt_id"]
            state = self.queue_state()  # raises ServerGone again if the server is really gone
            if prompt_id in state["running"] or prompt_id in state["pending"] or self.history(prompt_id):
                return _accepted(prompt_id)
            return self._request("POST", "/prompt", retry=False, json=body)

    def _forget(self, prompt_id: str) -> None:
        with self._lock:
            self._pending.pop(prompt_id, None)
            if prompt_id not in self._finished_set:
                if len(self._finished) == self._finished.maxlen:
                    self._finished_set.discard(self._finished[0])
                self._finished.append(prompt_id)
                self._finished_set.add(prompt_id)

    def wait(
        self, prompt_id: str, timeout: float = 600.0, on_event: Callable[[ev.Event], None] | None = None
    ) -> RunResult:
        """Follow a queued prompt to its end; return its RunResult or raise
        ExecutionFailed / Interrupted / ServerGone / Timeout."""
        with self._lock:
            pending = self._pending.get(prompt_id)
        if pending is None:
            raise ComfyClientError(f"prompt {prompt_id} was not queued by this client (or already awaited)")
        deadline = time.monotonic() + timeout
        seen: list[ev.Event] = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout(f"prompt {prompt_id} did not finish within {timeout:g}s")
                try:
                    item = pending.events.get(timeout=min(remaining, self.silence_poll_s))
                except queue.Empty:
                    item = self._check_silent_prompt(prompt_id)
                    if item is None:
                        continue
                    if self._link.connected:
                        # It ended without a word over an open websocket: the server no longer
                        # sends to it (ComfyUI forgets a clientId when an older connection of
                        # the same id closes). Reopening registers it again.
                        self._link.drop()
                if isinstance(item, _Failure):
                    raise item.error
                seen.append(item)
                if on_event is not None:
                    on_event(item)
                if isinstance(item, ev.TERMINAL):
                    break
            if isinstance(item, ev.Error):
                raise ExecutionFailed(
                    prompt_id, item.node_id, item.node_type, item.message, item.exception_type, item.traceback
                )
            if isinstance(item, ev.Interrupted):
                raise Interrupted(prompt_id, item.node_id, item.node_type)
            history = self._finished_history(pending, deadline)
            return RunResult(prompt_id=prompt_id, status="success", events=seen, history=history)
        finally:
            self._forget(prompt_id)

    def run(
        self,
        prompt: dict[str, Any],
        timeout: float = 600.0,
        on_event: Callable[[ev.Event], None] | None = None,
    ) -> RunResult:
        """Queue `prompt`, follow it over the websocket, and return its outputs from /history."""
        return self.wait(self.queue(prompt), timeout=timeout, on_event=on_event)

    def _finished_history(self, pending: _Pending, deadline: float) -> dict[str, Any]:
        # execution_success is sent just before the server stores history: retry briefly.
        delay = 0.002
        end = min(deadline, time.monotonic() + 10.0)
        while True:
            entry = self.history(pending.prompt_id)
            if entry or time.monotonic() >= end:
                return entry
            pending.idle.wait(delay)
            delay = min(delay * 2, 0.2)

    def _check_silent_prompt(self, prompt_id: str) -> ev.Event | None:
        """No event for a while: did the prompt finish unseen, or did the server forget it?

        While the websocket is being reopened, an HTTP failure here is not final: the reader
        decides when the server is gone (and then fails this waiter)."""
        try:
            return self._look_up_silent_prompt(prompt_id)
        except ServerGone:
            if self._link.recovering:
                return None
            raise

    def _look_up_silent_prompt(self, prompt_id: str) -> ev.Event | None:
        entry = self.history(prompt_id)
        event = terminal_from_history(prompt_id, entry)
        if event is not None or entry:
            return event
        state = self.queue_state()
        if prompt_id in state["running"] or prompt_id in state["pending"]:
            return None
        event = terminal_from_history(prompt_id, self.history(prompt_id))
        if event is None:
            raise ServerGone(self._forgotten(prompt_id))
        return event


def _accepted(prompt_id: str) -> requests.Response:
    """A stand-in for the 200 answer that a dropped connection swallowed."""
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps({"prompt_id": prompt_id, "node_errors": {}}).encode()
    return response
