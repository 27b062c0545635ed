"""Benchmark `svd-suite batch`'s per-image overhead at 100 and at 10,000 images.

Scaling, not the GPU, is measured: a fake ComfyUI (this file run with --serve, in its own
process) answers every call at once and "runs" each prompt instantly, so what is left is the
client's own work per image: upload, queue, follow over the websocket, /history, download into
a staging folder, rename into place, one journal line. That work should not grow with the size
of the batch (the old manifest was rewritten whole after every image: O(n) per image).

Prints two Markdown tables:
- per-image time of `run_batch` at each size: wall time / images, and the steady-state interval
  between finished images (setup excluded), with the ratio to the smallest size (goal ≤ 1.2);
- the cost of recording one finished image in a manifest already holding n images: the journal
  (one appended line) against rewriting a whole JSON manifest (what older versions did).

With --ray, one table per --work-ms value: the same batch of --ray-items images (200) on two
fake servers with the plain engine and with `--engine ray` (a local Ray, no dashboard, one actor
per server), runs interleaved, medians. Its rows say what they measure:
- steady interval / image: the time between finished images once the batch runs. This is what
  Ray adds per image (the goal: ratio ≤ 1.2) and what a long batch pays;
- start-up: from the call until the first image is done; under Ray that is starting a local Ray
  and its actors (seconds, once per batch; joining a running cluster skips most of it);
- close: from the last image done until the call returns (Ray: stopping the actors and Ray);
- wall / image: everything, start-up and close included, divided by the images: at 200 instant
  images Ray's start-up dominates it, so its ratio is far above the steady one.
--work-ms gives each fake prompt that much "GPU" time (0: the client's overhead alone, the
harshest case; real SVD prompts take seconds). On a small machine the fake servers, Ray's actors
and this process share the CPUs, so Ray's own CPU per call shows up in the 0 ms row.

Run: V=$(bash scripts/env.sh); $V/bin/python bench/bench_batch.py [--items 100,10000] [--rounds 3]
     $V/bin/python bench/bench_batch.py --ray [--ray-items 200] [--work-ms 0,50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "client"))

WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}, "_meta": {"title": "Input"}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bench"}},
}
OBJECT_INFO = {
    "LoadImage": {
        "input": {"required": {"image": [["x.png"], {"image_upload": True}]}},
        "output": ["IMAGE", "MASK"],
    },
    "SaveImage": {
        "input": {"required": {"images": ["IMAGE"], "filename_prefix": ["STRING", {"default": "ComfyUI"}]}},
        "output": [],
        "output_node": True,
    },
}


# ---------------------------------------------------------------- the fake server (--serve)
def serve(port: int, work_s: float = 0.0) -> None:
    """A ComfyUI that finishes every prompt `work_s` after it is queued (aiohttp, one process)."""
    import asyncio

    from aiohttp import web

    sockets: dict[str, web.WebSocketResponse] = {}
    history: dict[str, dict] = {}
    picture = b"\x89PNG\r\n\x1a\n" + bytes(64)

    async def send(sid: str, kind: str, data: dict) -> None:
        ws = sockets.get(sid)
        if ws is not None and not ws.closed:
            await ws.send_str(json.dumps({"type": kind, "data": data}))

    async def finish(prompt_id: str, sid: str) -> None:
        if work_s:
            await asyncio.sleep(work_s)
        history[prompt_id] = {
            "outputs": {
                "2": {"images": [{"filename": f"{prompt_id}.png", "subfolder": "", "type": "output"}]}
            },
            "status": {"status_str": "success", "completed": True, "messages": []},
        }
        base = {"prompt_id": prompt_id}
        await send(sid, "execution_start", base)
        await send(sid, "executing", {**base, "node": "2"})
        await send(sid, "executed", {**base, "node": "2", "output": history[prompt_id]["outputs"]["2"]})
        await send(sid, "execution_success", base)
        await send(sid, "executing", {**base, "node": None})

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId", "")
        sockets[sid] = ws
        await ws.send_str(json.dumps({"type": "status", "data": {"status": {}, "sid": sid}}))
        async for _ in ws:
            pass
        if sockets.get(sid) is ws:
            del sockets[sid]
        return ws

    async def prompt(request: web.Request) -> web.Response:
        body = await request.json()
        prompt_id = body["prompt_id"]
        asyncio.get_running_loop().create_task(finish(prompt_id, body.get("client_id", "")))
        return web.json_response({"prompt_id": prompt_id, "number": len(history), "node_errors": {}})

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response({"name": form["image"].filename, "subfolder": "", "type": "input"})

    async def one_history(request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        return web.json_response({prompt_id: history[prompt_id]} if prompt_id in history else {})

    app = web.Application()
    app.router.add_get("/ws", websocket)
    app.router.add_post("/prompt", prompt)
    app.router.add_post("/upload/image", upload)
    app.router.add_get("/history/{prompt_id}", one_history)
    app.router.add_get("/object_info", lambda r: web.json_response(OBJECT_INFO))
    app.router.add_get("/queue", lambda r: web.json_response({"queue_running": [], "queue_pending": []}))
    app.router.add_get("/system_stats", lambda r: web.json_response({"system": {"comfyui_version": "fake"}}))
    app.router.add_get("/view", lambda r: web.Response(body=picture, content_type="image/png"))
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_fake_server(work_ms: float = 0.0) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--work-ms", str(work_ms)])
    url = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/system_stats", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the fake server did not start")


# ---------------------------------------------------------------- measuring
class DoneTimes:
    """A silent Reporter that notes when each image is finished."""

    def __init__(self):
        self.times: list[float] = []

    def event(self, event, label: str = "") -> None:
        pass

    def summary(self, data) -> None:
        pass

    def message(self, text: str) -> None:
        if text.startswith("done "):
            self.times.append(time.perf_counter())


def one_batch(
    url: str | list[str], items: int, scratch: Path, engine: str = "plain"
) -> tuple[float, float, float, float]:
    """(wall seconds per image, steady-state seconds between finished images, seconds until the
    first image was done, seconds from the last one done until the call returned) for `items`."""
    from PIL import Image
    from svd_suite_client.batch import run_batch
    from svd_suite_client.ray_engine import run_batch_on_ray

    images = scratch / f"images-{items}"
    images.mkdir()
    data = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(data, "PNG")
    for i in range(items):
        (images / f"img{i:05d}.png").write_bytes(data.getvalue())
    workflow = scratch / "wf.json"
    workflow.write_text(json.dumps(WORKFLOW))
    reporter = DoneTimes()
    started = time.perf_counter()
    urls = [url] if isinstance(url, str) else url
    if engine == "ray":
        summary = run_batch_on_ray(
            str(workflow), images, scratch / f"out-{items}", urls, reporter, dashboard=False, timeout=60
        )
    else:
        summary = run_batch(str(workflow), images, scratch / f"out-{items}", urls, reporter, timeout=60)
    ended = time.perf_counter()
    wall = ended - started
    assert (summary.done, summary.failed) == (items, 0), summary
    steady = (reporter.times[-1] - reporter.times[0]) / (len(reporter.times) - 1)
    return wall / items, steady, reporter.times[0] - started, ended - reporter.times[-1]


def record_costs(sizes: list[int], scratch: Path) -> list[tuple[int, float, float]]:
    """Seconds to record one more image when n are recorded: journal vs whole-JSON rewrite."""
    from svd_suite_client.manifest import Manifest
    from svd_suite_client.outputs import write_atomic

    rows = []
    for n in sizes:
        folder = scratch / f"journal-{n}"
        manifest = Manifest(folder, "wf.json", resume=False)
        entry = {"server": "http://127.0.0.1:8188", "prompt_id": "0" * 36}
        try:
            for i in range(n):
                manifest._append({"event": "done", "image": f"img{i:05d}.png", **entry, "outputs": ["x"]})
                manifest.done[f"img{i:05d}.png"] = {**entry, "outputs": ["x"]}
            samples = []
            for i in range(20):
                start = time.perf_counter()
                manifest._append({"event": "done", "image": f"extra{i}.png", **entry, "outputs": ["x"]})
                samples.append(time.perf_counter() - start)
            journal = statistics.median(samples)
            samples = []
            for _ in range(5):
                start = time.perf_counter()
                text = json.dumps({"workflow": "wf.json", "done": manifest.done, "failed": {}}, indent=2)
                write_atomic(folder / "whole.json", [text.encode()], overwrite=True)
                samples.append(time.perf_counter() - start)
            rows.append((n, journal, statistics.median(samples)))
        finally:
            manifest.close()
    return rows


def ray_against_plain(items: int, rounds: int, work_ms: float) -> None:
    """One table for one --work-ms value (see the module docstring for what each row measures)."""
    """The --ray table: the same servers, the same images, the plain engine and Ray's."""
    import os

    # Ray's worker processes import svd_suite_client from this checkout too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO / "client"), os.environ.get("PYTHONPATH")])
    )
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    servers = [start_fake_server(work_ms) for _ in range(2)]
    urls = [url for _, url in servers]
    results: dict[str, list[tuple[float, float, float, float]]] = {"plain": [], "ray": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-batch-ray-") as scratch:
            root = Path(scratch)
            (root / "warm-up").mkdir()
            one_batch(urls, 20, root / "warm-up")
            for r in range(rounds):
                for engine in ("plain", "ray"):  # interleaved: both see the same machine load
                    folder = root / f"{engine}-{r}"
                    folder.mkdir()
                    results[engine].append(one_batch(urls, items, folder, engine))
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(10)
    wall, steady, startup, close = (
        {e: statistics.median(run[i] for run in runs) for e, runs in results.items()} for i in range(4)
    )
    print(
        f"| {items} images, 2 fake servers, {work_ms:g} ms per prompt, median of {rounds} | plain | ray | ray / plain |"
    )
    print("|---|---|---|---|")
    print(
        f"| **steady interval / image: Ray's per-image overhead (goal ≤ 1.2)** | {fmt(steady['plain'])} "
        f"| {fmt(steady['ray'])} | **{steady['ray'] / steady['plain']:.3f}** |"
    )
    print(
        f"| start-up until the first image is done (Ray: a local Ray + actors, once per batch) "
        f"| {startup['plain']:.2f} s | {startup['ray']:.2f} s | |"
    )
    print(
        f"| close: last image done until the call returns (Ray: stopping actors and Ray) "
        f"| {close['plain']:.2f} s | {close['ray']:.2f} s | |"
    )
    print(
        f"| wall / image, start-up and close included (not amortised at {items} images) | {fmt(wall['plain'])} "
        f"| {fmt(wall['ray'])} | {wall['ray'] / wall['plain']:.3f} |"
    )


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--items", default="100,10000", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="runs per size (median)")
    parser.add_argument("--ray", action="store_true", help="compare --engine ray with the plain engine")
    parser.add_argument("--ray-items", type=int, default=200, help="images per batch with --ray")
    parser.add_argument("--work-ms", default="0", help="fake prompt times, milliseconds, comma-separated")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, float(args.work_ms) / 1000)
        return
    if args.ray:
        for work_ms in args.work_ms.split(","):
            ray_against_plain(args.ray_items, args.rounds, float(work_ms))
            print()
        return
    sizes = [int(n) for n in args.items.split(",")]
    process, url = start_fake_server()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
            root = Path(scratch)
            (root / "warm-up").mkdir()
            one_batch(url, 20, root / "warm-up")  # imports, first connections
            results = {}
            for n in sizes:
                runs = []
                for r in range(args.rounds):
                    folder = root / f"run-{n}-{r}"
                    folder.mkdir()
                    runs.append(one_batch(url, n, folder))
                results[n] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            costs = record_costs(sizes, root)
    finally:
        process.terminate()
        process.wait(10)
    base_wall, base_steady = results[sizes[0]]
    print(
        f"| images | wall / image | steady interval / image | ratio wall (vs {sizes[0]}) "
        f"| ratio steady (vs {sizes[0]}) | goal |"
    )
    print("|---|---|---|---|---|---|")
    for n in sizes:
        wall, steady = results[n]
        print(
            f"| {n} | {fmt(wall)} | {fmt(steady)} | {wall / base_wall:.3f} | {steady / base_steady:.3f} | ≤ 1.2 |"
        )
    print()
    print("| images already recorded | journal: append one line | whole manifest.json rewrite (old) |")
    print("|---|---|---|")
    for n, journal, whole in costs:
        print(f"| {n} | {fmt(journal)} | {fmt(whole)} |")


if __name__ == "__main__":
    main()
