"""svd_suite_client when things go wrong: a dropped websocket, a server that dies, two servers.

These use PRIVATE ComfyUI servers (the shared fixture must survive) and a small TCP proxy that
the test can cut, refuse or stall (support/proxy.py), standing in for a flaky network or
reverse proxy; it can break the websocket alone while HTTP keeps answering.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from support.proxy import CuttableProxy
from svd_suite_client import ComfyClient, ServerGone
from svd_suite_client import events as ev
from svd_suite_client.batch import run_batch, summary_text
from svd_suite_client.client import SILENCE_POLL_S
from svd_suite_client.progress import Reporter

from dev.comfyui import prepare_base, start_comfyui

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


def tiny() -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": next(_colors)},
        },
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }


def heard_over_websocket(result) -> bool:
    """A prompt followed over HTTP only learns its end; `Started` comes over the websocket."""
    return any(isinstance(event, ev.Started) for event in result.events)


def blur_workflow(folder: Path) -> Path:
    path = folder / "wf.json"
    path.write_text(
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
    return path


def image_folder(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        Image.new("RGB", (16, 16), (i * 40, 10, 10)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(scope="module")
def servers(tmp_path_factory, comfyui_install):
    """Three private servers of one ComfyUI version, started side by side: `main` (behind the
    proxy), `second` (the batch's other server) and `doomed` (killed by a test)."""
    names = ("main", "second", "doomed")
    with ThreadPoolExecutor(len(names)) as pool:
        futures = [
            pool.submit(
                start_comfyui, prepare_base(tmp_path_factory.mktemp(f"client_{n}")), install=comfyui_install
            )
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


def test_websocket_refused_while_http_answers_the_result_still_arrives(proxy):
    refused = threading.Event()

    def on_event(event):
        if isinstance(event, ev.Executing) and event.node == "2" and not refused.is_set():
            refused.set()
            proxy.refuse_websocket_for(8.0)  # far longer than the 3.1 s reconnect budget

    with ComfyClient(proxy.url) as client:
        result = client.run(slow(3), timeout=120, on_event=on_event)
        assert refused.is_set()
        assert result.status == "success" and result.files()[0].filename.startswith("slow")
        assert proxy.refuse_websocket, "the websocket was back before the prompt ended: nothing tested"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not client.websocket_connected:
            time.sleep(0.2)
            if not proxy.refuse_websocket:
                client.connect()  # the next prompt would do this
        assert heard_over_websocket(client.run(tiny(), timeout=60))


def test_client_whose_websocket_is_refused_from_the_start_follows_prompts_over_http(proxy):
    proxy.refuse_websocket = True
    with ComfyClient(proxy.url) as client:
        result = client.run(slow(1), timeout=60)
        assert result.status == "success" and result.files()[0].filename.startswith("slow")
        assert not client.websocket_connected and not heard_over_websocket(result)


def test_stalled_websocket_is_noticed_and_later_prompts_run_at_normal_speed(proxy):
    with ComfyClient(proxy.url, keepalive_interval=0.3, pong_timeout=1.0) as client:
        client.silence_poll_s = 30  # longer than the timeouts below: only the keepalive can help
        assert heard_over_websocket(client.run(tiny(), timeout=30))
        assert proxy.stall_websocket() == 1
        client.run(tiny(), timeout=20)  # the stall is noticed while this one waits
        assert client.reconnects >= 1
        for _ in range(3):
            started = time.monotonic()
            result = client.run(tiny(), timeout=20)
            elapsed = time.monotonic() - started
            assert heard_over_websocket(result)
            assert elapsed < SILENCE_POLL_S, f"{elapsed:.1f}s: as slow as the /history fallback"


def wait_for_websocket(client: ComfyClient, reconnects: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (client.reconnects > reconnects and client.websocket_connected):
        time.sleep(0.05)
    assert client.reconnects > reconnects and client.websocket_connected


def test_websocket_the_server_stopped_writing_to_is_reopened(proxy):
    with ComfyClient(proxy.url, keepalive_interval=0.3, pong_timeout=1.0) as client:
        client.silence_poll_s = 30
        client.run(tiny(), timeout=30)
        proxy.stall_websocket()
        client.run(tiny(), timeout=20)  # the keepalive reconnects: our clientId now names a new socket
        wait_for_websocket(client, 0)
        reconnects = client.reconnects
        # The server now sees the stalled connection end, and ComfyUI then unregisters the
        # clientId that our new connection uses: events stop, though pings are still answered.
        proxy.cut_stalled()
        time.sleep(1.0)
        client.silence_poll_s = 1.0
        unheard = client.run(tiny(), timeout=30)  # its end is found in /history after 1 s
        assert not heard_over_websocket(unheard), "the server kept writing to us: nothing tested"
        wait_for_websocket(client, reconnects)
        assert all(heard_over_websocket(client.run(tiny(), timeout=30)) for _ in range(3))


def test_batch_whose_last_server_goes_away_says_so_and_how_to_resume(tmp_path, proxy):
    messages: list[str] = []

    class Recording(Reporter):
        def message(self, text: str) -> None:
            messages.append(text)
            if text.startswith("done ") and not proxy.refuse:
                proxy.refuse = True  # the only server goes away after the first image
                proxy.cut()

    images = image_folder(tmp_path / "images", 4)
    summary = run_batch(
        str(blur_workflow(tmp_path)), images, tmp_path / "out", [proxy.url], Recording(), timeout=60
    )
    assert (summary.done, summary.failed, summary.left) == (1, 0, 3)
    assert not any("elsewhere" in m or "go to the" in m for m in messages), messages
    last = messages[-1]
    assert "last server" in last and "3 image(s) were not run" in last and "--resume" in last
    assert "not run 3" in summary_text(summary) and "--resume" in summary_text(summary)


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
    images = image_folder(tmp_path / "images", 6)
    urls = [servers.main.url, servers.second.url]
    summary = run_batch(str(blur_workflow(tmp_path)), images, tmp_path / "out", urls, Reporter(), timeout=120)
    assert (summary.done, summary.failed) == (6, 0)
    assert set(summary.per_server) == set(urls)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest["done"]) == [f"img{i}.png" for i in range(6)]
    assert {entry["server"] for entry in manifest["done"].values()} == set(urls)
    assert all(Path(p).is_file() for entry in manifest["done"].values() for p in entry["outputs"])
