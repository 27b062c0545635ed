"""The sync client for one ComfyUI server: HTTP calls plus ONE websocket shared by every prompt.

A reader thread owns the websocket and hands each event to the queue of the prompt it belongs to.
Prompt ids are chosen here and registered before POST /prompt, so no event can arrive for a
prompt nobody waits for. A dropped websocket is reopened (same clientId, bounded backoff) and
pending prompts are reconciled from /history; a server that stays unreachable fails every
waiter with `ServerGone` instead of leaving it to hang.
"""

from __future__ import annotations

import collections
import json
import queue
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import websocket

from . import events as ev
from .api import ServerApi
from .errors import ComfyClientError, ExecutionFailed, Interrupted, PromptRejected, ServerGone, Timeout
from .outputs import RunResult

SILENCE_POLL_S = 5.0  # with no event for this long, ask /history (covers lost websocket frames)


class _Failure:
    """Put into a waiter's queue by the reader thread when the connection is lost for good."""

    def __init__(self, error: Exception):
        self.error = error


class _Pending:
    def __init__(self, prompt_id: str):
        self.prompt_id = prompt_id
        self.events: queue.Queue = queue.Queue()
        self.idle = threading.Event()  # executing{node:null} seen: history is written by now


class ComfyClient(ServerApi):
    """A client for one ComfyUI server (sync API; thread-safe; see AsyncComfyClient for asyncio).

    `headers` / `token` go to every HTTP request and the websocket (e.g. a reverse proxy's
    bearer token); `verify=False` skips TLS certificate checks.
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
        previews: bool = True,
    ):
        super().__init__(server, headers=headers, token=token, verify=verify, http_timeout=http_timeout)
        self.client_id = client_id or uuid.uuid4().hex
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_backoff = reconnect_backoff
        self.previews = previews
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._early: collections.OrderedDict[str, list] = collections.OrderedDict()
        self._finished: collections.deque = collections.deque(maxlen=4096)
        self._finished_set: set[str] = set()
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self._closed = False
        self._current_prompt: str | None = None
        self._status_listeners: list[Callable[[ev.Event], None]] = []
        self.reconnects = 0
        self.silence_poll_s = SILENCE_POLL_S

    # ---------------------------------------------------------------- websocket
    def add_status_listener(self, callback: Callable[[ev.Event], None]) -> None:
        """Called (on the reader thread) with server-wide events such as Status."""
        self._status_listeners.append(callback)

    def _ws_url(self) -> str:
        scheme = "wss" if self.base.startswith("https") else "ws"
        return f"{scheme}{self.base[self.base.index(':') :]}/ws?clientId={self.client_id}"

    def _open_ws(self) -> websocket.WebSocket:
        sslopt = None if self._verify else {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        try:
            ws = websocket.create_connection(
                self._ws_url(), timeout=10, header=self._headers, sslopt=sslopt, enable_multithread=True
            )
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerGone(f"cannot open websocket to {self.display_base} ({type(exc).__name__})") from None
        if self.previews:
            ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
        ws.settimeout(None)
        return ws

    def connect(self) -> None:
        """Open the websocket and start the reader (done lazily by queue/run)."""
        with self._connect_lock:
            if self._closed:
                raise ComfyClientError("client is closed")
            if self._reader is not None and self._reader.is_alive():
                return
            self._ws = self._open_ws()
            self._reader = threading.Thread(target=self._read_loop, name="svd-suite-ws", daemon=True)
            self._reader.start()

    def close(self) -> None:
        """Stop the reader thread and release the websocket and HTTP connections."""
        self._closed = True
        ws = self._ws
        if ws is not None:
            try:
                # SHUT_RDWR wakes the reader blocked in recv (a plain close() would not);
                # no close handshake: the reader thread is the one receiving.
                if ws.sock is not None:
                    ws.sock.shutdown(socket.SHUT_RDWR)
                ws.shutdown()
            except Exception:  # noqa: BLE001 - closing a broken socket may raise anything
                pass
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(5)
        self.session.close()

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_loop(self) -> None:
        while not self._closed:
            try:
                frame = self._ws.recv()
                lost = not self._ws.connected
            except (OSError, websocket.WebSocketException):
                lost = True
            if self._closed:
                return
            if lost:
                if not self._reconnect():
                    return
                continue
            try:
                self._dispatch(ev.parse_binary(frame) if isinstance(frame, bytes) else ev.parse_text(frame))
            except Exception:  # noqa: BLE001 - one bad frame must not kill the reader
                continue

    def _reconnect(self) -> bool:
        delay = self.reconnect_backoff
        for _ in range(self.reconnect_attempts):
            if self._closed:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            try:
                self._ws = self._open_ws()
            except ServerGone:
                continue
            self.reconnects += 1
            self._reconcile_pending()
            return True
        gone = ServerGone(f"lost the connection to {self.display_base} and could not reconnect")
        with self._lock:
            waiters = list(self._pending.values())
        for pending in waiters:
            pending.events.put(_Failure(gone))
        with self._connect_lock:
            self._reader = None  # a later queue()/run() may try afresh
        return False

    def _reconcile_pending(self) -> None:
        """After a reconnect, finish prompts that completed while we were not listening."""
        with self._lock:
            waiting = list(self._pending)
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
        if isinstance(event, ev.Executing) and event.node is None:
            pending.idle.set()
        pending.events.put(event)

    # ---------------------------------------------------------------- prompts
    def queue(self, prompt: dict[str, Any], prompt_id: str | None = None, front: bool = False) -> str:
        """Submit an API-format prompt; returns its id. Events are kept until `wait(id)`."""
        self.connect()
        prompt_id = prompt_id or str(uuid.uuid4())
        pending = _Pending(prompt_id)
        with self._lock:
            self._pending[prompt_id] = pending
            for early in self._early.pop(prompt_id, []):
                pending.events.put(early)
        body: dict[str, Any] = {"prompt": prompt, "client_id": self.client_id, "prompt_id": prompt_id}
        if front:
            body["front"] = True
        try:
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
        """No event for a while: did the prompt finish unseen, or did the server forget it?"""
        entry = self.history(prompt_id)
        event = terminal_from_history(prompt_id, entry)
        if event is not None or entry:
            return event
        state = self.queue_state()
        if prompt_id in state["running"] or prompt_id in state["pending"]:
            return None
        event = terminal_from_history(prompt_id, self.history(prompt_id))
        if event is None:
            raise ServerGone(f"server {self.display_base} no longer knows prompt {prompt_id} (restarted?)")
        return event


def _accepted(prompt_id: str) -> requests.Response:
    """A stand-in for the 200 answer that a dropped connection swallowed."""
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps({"prompt_id": prompt_id, "node_errors": {}}).encode()
    return response


def terminal_from_history(prompt_id: str, entry: dict[str, Any]) -> ev.Event | None:
    """The terminal event a /history entry implies, or None while the prompt is unfinished."""
    status = (entry or {}).get("status") or {}
    messages = status.get("messages") or []
    for kind, data in reversed(messages):
        if kind == "execution_error":
            return ev.Error(
                prompt_id=prompt_id,
                node_id=str(data.get("node_id")),
                node_type=data.get("node_type"),
                message=data.get("exception_message", ""),
                exception_type=data.get("exception_type", ""),
                traceback=list(data.get("traceback") or []),
            )
        if kind == "execution_interrupted":
            return ev.Interrupted(
                prompt_id=prompt_id, node_id=str(data.get("node_id")), node_type=data.get("node_type")
            )
    if status.get("completed") or status.get("status_str") == "success":
        return ev.Success(prompt_id=prompt_id)
    return None
