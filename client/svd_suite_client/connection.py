"""The client's one websocket: opened, read, kept alive and reopened by one reader thread.

Why a lost websocket is not a lost server: a reverse proxy may drop or refuse websocket
connections while plain HTTP keeps working (a restart, a timeout, a proxy without websocket
support). So a lost websocket is reopened with the same clientId in the background, and until
it is back the owner follows its prompts over HTTP (/queue, /history). The server counts as gone
only when HTTP stops answering too, for the whole reconnect budget.

Why a keepalive: a connection can stay open yet carry nothing (a dead NAT entry, a hung proxy).
After `keepalive_interval` seconds without a frame the reader sends a ping; when nothing at all
(pong or event) comes back within `pong_timeout`, the connection counts as lost.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from typing import Protocol

import websocket
from websocket import ABNF

from . import events as ev
from .errors import ServerGone

RETRY_DELAY_CAP_S = 1.0  # also how often prompts are looked up over HTTP while the websocket is down


class LinkOwner(Protocol):
    """What the link needs from the client it serves (called on the reader thread)."""

    def _ws_event(self, event: ev.Event) -> None: ...

    def _ws_reconnected(self) -> None:
        """The websocket is back: settle prompts that ended while it was down."""

    def _follow_over_http(self) -> None:
        """One round of following prompts over HTTP; raises ServerGone when HTTP does not answer."""

    def _server_gone(self, error: ServerGone) -> None:
        """HTTP and websocket stayed unreachable for the whole budget: fail every waiter."""

    def _has_unsettled(self) -> bool:
        """Whether any prompt still waits for its end (else the reader may rest)."""


class WebsocketLink:
    def __init__(
        self,
        owner: LinkOwner,
        url: str,
        display: str,
        headers: dict[str, str],
        verify: bool,
        previews: bool,
        keepalive_interval: float | None,
        pong_timeout: float,
        reconnect_backoff: float,
        reconnect_budget: float,
    ):
        self.owner = owner
        self.url = url
        self.display = display
        self.headers = headers
        self.sslopt = None if verify else {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        self.previews = previews
        self.keepalive_interval = keepalive_interval
        self.pong_timeout = pong_timeout
        self.reconnect_backoff = reconnect_backoff
        self.reconnect_budget = reconnect_budget
        self.reconnects = 0
        self.keepalive_drops = 0
        self._ws: websocket.WebSocket | None = None
        self._thread: threading.Thread | None = None
        self._running = False  # guarded by _state_lock: the reader thread is (still) on duty
        self._state_lock = threading.Lock()
        self._closed = threading.Event()
        self._ping_sent_at: float | None = None
        self._heard_at = 0.0  # monotonic time of the last frame

    # ---------------------------------------------------------------- life cycle
    @property
    def connected(self) -> bool:
        """A websocket is open right now (events arrive over it)."""
        return self._ws is not None

    @property
    def recovering(self) -> bool:
        """The reader is on duty but has no websocket: prompts are followed over HTTP."""
        return self._running and self._ws is None

    def start(self, check_http) -> None:
        """Make sure a reader is on duty. A refused websocket is fine while `check_http()`
        answers (the reader then keeps trying in the background); else ServerGone."""
        with self._state_lock:
            if self._closed.is_set():
                raise ServerGone(f"the client for {self.display} is closed")
            if self._running:
                return
            try:
                ws = self._open()
            except ServerGone:
                check_http()  # raises ServerGone when the server itself is unreachable
                ws = None
            self._ws = ws
            self._running = True
            self._thread = threading.Thread(target=self._read_loop, name="svd-suite-ws", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._discard(self._ws)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def drop(self) -> None:
        """Treat the open websocket as lost (the reader reopens it)."""
        self._discard(self._ws)

    def _open(self) -> websocket.WebSocket:
        try:
            ws = websocket.create_connection(
                self.url, timeout=10, header=self.headers, sslopt=self.sslopt, enable_multithread=True
            )
            if self.previews:
                ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerGone(f"cannot open websocket to {self.display} ({type(exc).__name__})") from None
        # The read timeout is the keepalive's clock (websocket-client resumes a frame cut by it).
        ws.settimeout(
            None if self.keepalive_interval is None else min(self.keepalive_interval, self.pong_timeout)
        )
        self._ping_sent_at = None
        self._heard_at = time.monotonic()
        return ws

    @staticmethod
    def _discard(ws: websocket.WebSocket | None) -> None:
        if ws is None:
            return
        try:
            # SHUT_RDWR wakes a reader blocked in recv (a plain close() would not); no close
            # handshake: the reader thread is the one receiving.
            if ws.sock is not None:
                ws.sock.shutdown(socket.SHUT_RDWR)
            ws.shutdown()
        except Exception:  # noqa: BLE001 - closing a broken socket may raise anything
            pass

    # ---------------------------------------------------------------- reader thread
    def _read_loop(self) -> None:
        try:
            while not self._closed.is_set():
                ws = self._ws
                if ws is None:
                    ws = self._reopen()
                    if ws is None:
                        return
                if not self._read_one(ws):
                    self._ws = None
                    self._discard(ws)
        finally:
            with self._state_lock:
                if self._thread is threading.current_thread():  # not a successor started meanwhile
                    self._running = False
            if self._closed.is_set():
                self._discard(self._ws)

    def _read_one(self, ws: websocket.WebSocket) -> bool:
        """Read and hand on one frame; False when the connection is lost."""
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return self._keepalive(ws)
        except (OSError, websocket.WebSocketException, AttributeError):
            return False  # AttributeError: the socket was discarded under us (close/drop)
        self._ping_sent_at = None  # any frame shows the connection is alive
        self._heard_at = time.monotonic()
        if opcode == ABNF.OPCODE_CLOSE:
            return False
        try:
            if opcode == ABNF.OPCODE_TEXT:
                self.owner._ws_event(ev.parse_text(data.decode("utf-8", "replace")))
            elif opcode == ABNF.OPCODE_BINARY:
                self.owner._ws_event(ev.parse_binary(data))
        except Exception:  # noqa: BLE001 - one bad frame must not kill the reader
            pass
        return True

    def _keepalive(self, ws: websocket.WebSocket) -> bool:
        """The read timed out: ping after a keepalive interval of silence, or give up on a ping
        that nothing answered within `pong_timeout`. False when the connection counts as lost."""
        now = time.monotonic()
        if self._ping_sent_at is None:
            if now - self._heard_at < self.keepalive_interval:
                return True
            try:
                ws.ping()
            except (OSError, websocket.WebSocketException):
                return False
            self._ping_sent_at = now
            return True
        if now - self._ping_sent_at < self.pong_timeout:
            return True
        self.keepalive_drops += 1
        return False

    def _reopen(self) -> websocket.WebSocket | None:
        """Reopen the websocket (bounded backoff) while following prompts over HTTP.

        Returns the new websocket, or None when the reader should stop: the server is gone
        (waiters failed), the client closed, or nothing is left to follow and the websocket
        stayed refused for the budget (the next prompt tries again).
        """
        delay = self.reconnect_backoff
        began = time.monotonic()
        http_lost_since: float | None = None
        while not self._closed.wait(delay):
            delay = min(delay * 2, RETRY_DELAY_CAP_S)
            try:
                ws = self._open()
            except ServerGone:
                pass
            else:
                if self._closed.is_set():
                    self._discard(ws)
                    return None
                self._ws = ws
                self.reconnects += 1
                self.owner._ws_reconnected()
                return ws
            try:
                self.owner._follow_over_http()
            except ServerGone:
                now = time.monotonic()
                http_lost_since = http_lost_since or now
                if now - http_lost_since >= self.reconnect_budget:
                    with self._state_lock:  # a prompt queued from now on starts a fresh reader
                        self._running = False
                    self.owner._server_gone(
                        ServerGone(
                            f"server {self.display} stopped answering: neither HTTP (/system_stats) nor "
                            f"the websocket answered for {now - http_lost_since:.1f}s"
                        )
                    )
                    return None
                continue
            http_lost_since = None
            if time.monotonic() - began >= self.reconnect_budget:
                with self._state_lock:  # a prompt queued from now on finds the reader off duty
                    if not self.owner._has_unsettled():
                        self._running = False
                        return None
        return None
