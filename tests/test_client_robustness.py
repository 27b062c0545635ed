"""svd_suite_client when things go wrong: a dropped websocket, a server that dies, two servers.

These use PRIVATE ComfyUI servers (the shared fixture must survive) and a small TCP proxy that
the test can cut, standing in for a flaky network or reverse proxy.
"""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from support.comfyui import prepare_base, start_comfyui
from svd_suite_client import ComfyClient, ServerGone
from svd_suite_client import events as ev
from svd_suite_client.batch import run_batch
from svd_suite_client.progress import Reporter

_colors = itertools.count(1000)


def slow(blurs: int) -> dict:
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 4, "color": next(_colors)},
        }
    }
    for i in range(blurs):
        prompt[str(i + 2)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i + 1), 0], "blur_radius": 15, "sigma": 1.0},
        }
    prompt["999"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [str(blurs + 1), 0], "filename_prefix": "slow"},
    }
    return prompt


class CuttableProxy:
    """A loopback TCP proxy; `cut()` drops every open connection, `refuse` closes new ones at once."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refuse = False
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self.lock:
            connections, self.connections = self.connections, []
        for s in connections:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self.running = False
        self.cut()
        self.listener.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory, comfyui_install):
    """Three private servers of one ComfyUI version, started side by side: `main` (behind the
    proxy), `second` (the batch's other server) and `doomed` (killed by a test)."""
    names = ("main", "second", "doomed")
    with ThreadPoolExecutor(len(names)) as pool:
        futures = [
            pool.submit(start_comfyui, prepare_base(tmp_path_factory.mktemp(f"client_{n}")),
                        install=comfyui_install)
            for n in names
        ]
    started, errors = {}, []
    for name, future in zip(names, futures, strict=True):
        try:
            started[name] = future.result()
        except Exception as exc:  # noqa: BLE001 - re-raised below once every server is accounted for
            errors.append(exc)
    try:
        if errors:
            raise errors[0]
        yield SimpleNamespace(**started)
    finally:
        for server in started.values():
            server.stop()  # returns at once for the one a test already killed


@pytest.fixture(scope="module")
def private_server(servers):
    return servers.main


@pytest.fixture
def proxy(private_server):
    p = CuttableProxy(private_server.port)
    try:
        yield p
    finally:
        p.close()


def test_dropped_websocket_reconnects_and_result_is_still_delivered(proxy):
    cut = threading.Event()

    def on_event(event):
        if isinstance(event, ev.Executing) and event.node == "2" and not cut.is_set():
            cut.set()
            proxy.cut()

    with ComfyClient(proxy.url) as client:
        result = client.run(slow(3), timeout=120, on_event=on_event)
        assert cut.is_set() and client.reconnects >= 1
        assert result.status == "success" and result.files()[0].filename.startswith("slow")


def test_completion_missed_while_disconnected_is_reconciled_from_history(proxy):
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, ev.Executing) and event.node == "3" and not proxy.refuse:
            proxy.refuse = True  # the prompt finishes (~1 s) while nobody can listen
            proxy.cut()
            threading.Timer(4.0, lambda: setattr(proxy, "refuse", False)).start()

    with ComfyClient(proxy.url, reconnect_attempts=10) as client:
        client.silence_poll_s = 300  # only the reconcile after reconnecting may deliver it
        result = client.run(slow(2), timeout=120, on_event=on_event)
        assert client.reconnects >= 1
    assert not any(isinstance(e, ev.Executed) for e in seen), (
        "the completion was not missed: nothing to reconcile"
    )
    assert result.status == "success" and result.files()[0].filename.startswith("slow")


def test_server_killed_mid_run_raises_server_gone_instead_of_hanging(servers):
    def on_event(event):
        if isinstance(event, ev.Executing) and event.node == "2":
            servers.doomed.kill()

    with ComfyClient(servers.doomed.url) as client:
        started = time.monotonic()
        with pytest.raises(ServerGone):
            client.run(slow(200), timeout=300, on_event=on_event)  # would run ~2 minutes
        print(f"ServerGone after {time.monotonic() - started:.1f}s", file=sys.stderr)


def test_two_servers_share_a_batch(tmp_path, servers):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(6):
        Image.new("RGB", (16, 16), (i * 40, 10, 10)).save(images / f"img{i}.png")
    workflow = tmp_path / "wf.json"
    workflow.write_text(
        json.dumps(
            {
                "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
                "2": {
                    "class_type": "ImageBlur",
                    "inputs": {"image": ["1", 0], "blur_radius": 3, "sigma": 1.0},
                },
                "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "batch"}},
            }
        )
    )
    urls = [servers.main.url, servers.second.url]
    summary = run_batch(str(workflow), images, tmp_path / "out", urls, Reporter(), timeout=120)
    assert (summary.done, summary.failed) == (6, 0)
    assert set(summary.per_server) == set(urls)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest["done"]) == [f"img{i}.png" for i in range(6)]
    assert {entry["server"] for entry in manifest["done"].values()} == set(urls)
    assert all(Path(p).is_file() for entry in manifest["done"].values() for p in entry["outputs"])
