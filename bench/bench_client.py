"""Benchmark svd_suite_client's per-prompt overhead against a minimal reference client.

The reference follows ComfyUI's documented websocket example (script_examples/
websocket_api_example.py): open ws?clientId=..., POST /prompt, recv until
executing{node: None, prompt_id}, then GET /history/{id}. It keeps its HTTP connection alive
(a requests.Session), which makes it a slightly stronger reference than the example's urllib.
Both talk to the same server, alternating, on a trivial EmptyImage → PreviewImage prompt with a
fresh colour each time (so nothing is served from ComfyUI's cache).

Prints a Markdown table of ratios (ours / reference), measured in the same run:
- per-prompt `run` time, median over --prompts prompts each (goal ≤ 1.1);
- total time to queue --queued prompts and then await them all.

Run: V=$(bash scripts/env.sh); $V/bin/python bench/bench_client.py [--server URL] [--prompts 60]
(without --server it starts a private ComfyUI on loopback and stops it at the end).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests
import websocket

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "client"))

_colors = itertools.count(1)


def trivial() -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": next(_colors) % 0xFFFFFF},
        },
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }


class ReferenceClient:
    """ComfyUI's websocket example, kept to its essentials (one ws, one HTTP session)."""

    def __init__(self, base: str):
        self.base = base
        self.client_id = str(uuid.uuid4())
        self.http = requests.Session()
        self.ws = websocket.WebSocket()
        self.ws.connect(f"ws://{base.split('://', 1)[1]}/ws?clientId={self.client_id}")

    def queue_prompt(self, prompt: dict) -> str:
        answer = self.http.post(f"{self.base}/prompt", json={"prompt": prompt, "client_id": self.client_id})
        return answer.json()["prompt_id"]

    def wait_idle(self, prompt_ids: set[str]) -> None:
        waiting = set(prompt_ids)
        while waiting:
            out = self.ws.recv()
            if isinstance(out, str):
                message = json.loads(out)
                data = message.get("data") or {}
                if message["type"] == "executing" and data.get("node") is None:
                    waiting.discard(data.get("prompt_id"))

    def history(self, prompt_id: str) -> dict:
        return self.http.get(f"{self.base}/history/{prompt_id}").json()[prompt_id]

    def run(self, prompt: dict) -> dict:
        prompt_id = self.queue_prompt(prompt)
        self.wait_idle({prompt_id})
        return self.history(prompt_id)

    def run_queued(self, prompts: list[dict]) -> list[dict]:
        ids = [self.queue_prompt(p) for p in prompts]
        self.wait_idle(set(ids))
        return [self.history(i) for i in ids]

    def close(self) -> None:
        self.ws.close()
        self.http.close()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(base: str, prompts: int, queued: int, rounds: int) -> list[tuple[str, float, float]]:
    from svd_suite_client import ComfyClient

    ours = ComfyClient(base)
    reference = ReferenceClient(base)
    try:
        for _ in range(5):  # warm both paths (first prompt loads node modules, opens connections)
            ours.run(trivial(), timeout=60)
            reference.run(trivial())
        per_ours, per_ref = [], []
        for i in range(prompts):
            pair = [
                (per_ours, lambda: ours.run(trivial(), timeout=60)),
                (per_ref, lambda: reference.run(trivial())),
            ]
            for bucket, call in pair if i % 2 == 0 else reversed(pair):
                bucket.append(timed(call))
        bulk_ours, bulk_ref = [], []

        def ours_queued():
            ids = [ours.queue(trivial()) for _ in range(queued)]
            results = [ours.wait(i, timeout=120) for i in ids]
            assert all(r.status == "success" for r in results)

        def reference_queued():
            assert len(reference.run_queued([trivial() for _ in range(queued)])) == queued

        for r in range(rounds):
            pair = [(bulk_ours, ours_queued), (bulk_ref, reference_queued)]
            for bucket, call in pair if r % 2 == 0 else reversed(pair):
                bucket.append(timed(call))
    finally:
        ours.close()
        reference.close()
    return [
        (f"per-prompt run, median of {prompts}", statistics.median(per_ours), statistics.median(per_ref)),
        (
            f"{queued} queued prompts, total (median of {rounds})",
            statistics.median(bulk_ours),
            statistics.median(bulk_ref),
        ),
    ]


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="an already running ComfyUI (default: start a private one)")
    parser.add_argument(
        "--prompts", type=int, default=60, help="prompts per client for the per-prompt median"
    )
    parser.add_argument("--queued", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = None
    base = args.server
    if base is None:
        import tempfile

        from dev.comfyui import prepare_base, start_comfyui

        server = start_comfyui(prepare_base(Path(tempfile.mkdtemp(prefix="bench-client-"))))
        base = server.url
    try:
        rows = measure(base.rstrip("/"), args.prompts, args.queued, args.rounds)
    finally:
        if server is not None:
            server.stop()
    print("| measure | svd_suite_client | reference (websocket example) | ratio ours/ref | goal |")
    print("|---|---|---|---|---|")
    goals = ["≤ 1.1", "≤ 1.1"]
    for (name, ours, ref), goal in zip(rows, goals, strict=True):
        print(f"| {name} | {fmt(ours)} | {fmt(ref)} | {ours / ref:.3f} | {goal} |")


if __name__ == "__main__":
    main()
