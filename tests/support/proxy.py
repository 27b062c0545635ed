"""A loopback TCP proxy that a test can break on purpose: a flaky network or reverse proxy.

It tells the websocket from plain HTTP by the first request line of each connection
(`GET /ws?...`: a websocket connection carries nothing else), so a test can break the websocket
alone while HTTP keeps answering: refuse new websocket connections, cut the open ones, or stall
them (keep them open but forward nothing, as a dead NAT entry or a hung proxy does).
"""

from __future__ import annotations

import socket
import threading
import time

STALL_POLL_S = 0.05


class _Link:
    """One proxied connection: client side, upstream side, and whether it is stalled."""

    def __init__(self, client: socket.socket, upstream: socket.socket, websocket: bool):
        self.client = client
        self.upstream = upstream
        self.websocket = websocket
        self.stalled = False

    def close(self) -> None:
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class CuttableProxy:
    """`cut()` drops open connections, `refuse` / `refuse_websocket` close new ones at once,
    `stall_websocket()` freezes the open websocket connections."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refuse = False
        self.refuse_websocket = False
        self.links: list[_Link] = []
        self.websocket_connections = 0  # accepted websocket connections, for tests to wait on
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def refuse_websocket_for(self, seconds: float) -> None:
        """Cut the open websocket connections and refuse new ones for `seconds`."""
        self.refuse_websocket = True
        self.cut(websocket_only=True)
        timer = threading.Timer(seconds, lambda: setattr(self, "refuse_websocket", False))
        timer.daemon = True
        timer.start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        try:
            client.settimeout(5)
            first = client.recv(65536)
            client.settimeout(None)
        except OSError:
            client.close()
            return
        websocket = first.startswith(b"GET /ws")
        if self.refuse or (websocket and self.refuse_websocket) or not first:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            upstream.settimeout(None)
            upstream.sendall(first)
        except OSError:
            client.close()
            return
        link = _Link(client, upstream, websocket)
        with self.lock:
            self.links.append(link)
            self.websocket_connections += websocket
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(link, source, sink), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket) -> None:
        try:
            while self.running:
                data = source.recv(65536)
                if not data:
                    break
                while link.stalled and self.running:  # hold the bytes: the peer hears nothing
                    time.sleep(STALL_POLL_S)
                sink.sendall(data)
        except OSError:
            pass
        if not link.stalled:
            link.close()

    def _take(self, websocket_only: bool) -> list[_Link]:
        with self.lock:
            taken = [link for link in self.links if link.websocket or not websocket_only]
            self.links = [link for link in self.links if link not in taken]
        return taken

    def cut(self, websocket_only: bool = False) -> None:
        """Close open connections (only the websocket ones with `websocket_only`)."""
        for link in self._take(websocket_only):
            link.stalled = False
            link.close()

    def cut_stalled(self) -> None:
        """Close the stalled connections (the server then sees them end)."""
        with self.lock:
            stalled = [link for link in self.links if link.stalled]
            self.links = [link for link in self.links if not link.stalled]
        for link in stalled:
            link.stalled = False
            link.close()

    def stall_websocket(self) -> int:
        """Freeze the open websocket connections (both directions); returns how many."""
        with self.lock:
            links = [link for link in self.links if link.websocket]
        for link in links:
            link.stalled = True
        return len(links)

    def close(self) -> None:
        self.running = False
        self.cut()
        self.listener.close()
