"""Benchmark: do independent remote nodes in one prompt run together, and how fast does Cancel act?

Everything goes through a real ComfyUI server (0.3.75 and 0.33.0 by default) whose remote nodes
talk to the protocol-faithful fake providers of dev/fakes, started in this process. Each fake
job takes --job-seconds at the provider (IN_PROGRESS until then), as a real queue job would.

Measured per server, wall time from queueing the prompt to its end (same client overhead for all):
- one job: each provider's node alone (fal, Replicate, SiliconFlow); the reference is the
  slowest of the three, since a graph can never beat its slowest node;
- three in parallel: the three nodes side by side in one graph, each fed by the same image;
- three forced sequential: the same three nodes chained (each takes the previous node's frames
  as its image), so ComfyUI must run them one after another.
Goal: parallel / one job ≤ 1.3. The ratio against the sequential graph is printed too.
Then Cancel: a fal node whose create request, status poll or download hangs at the fake is
interrupted, and the time from POST /interrupt to the prompt's end is printed (goal ≤ 1 s; the
tests assert ≤ 2 s).

Run: V=$(bash scripts/env.sh); $V/bin/python bench/bench_remote_concurrency.py [--job-seconds 5]
     [--versions 0.3.75,0.33.0] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dev.comfyui import VENV_033_VARIABLE, comfyui_install, prepare_base, start_comfyui  # noqa: E402
from dev.fakes.start import start_fakes  # noqa: E402
from dev.remote_nodes import NODE_INPUTS  # noqa: E402
from dev.run_workflow import run_workflow  # noqa: E402

PROVIDERS = ("fal", "replicate", "siliconflow")
# provider -> its node and inputs (those of the tests, with room for a slow machine)
NODES = {
    provider: (kind, dict(NODE_INPUTS[kind], timeout_s=120))
    for provider, kind in (
        ("fal", "SVDSuite_RemoteFal"),
        ("replicate", "SVDSuite_RemoteReplicate"),
        ("siliconflow", "SVDSuite_RemoteSiliconFlow"),
    )
}


def graph(providers, chained: bool = False) -> dict:
    """Remote nodes fed by one start image (or by each other when `chained`), each previewed."""
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x3366AA},
        }
    }
    source = ["1", 0]
    for index, provider in enumerate(providers):
        kind, inputs = NODES[provider]
        node = str(10 + 2 * index)
        prompt[node] = {"class_type": kind, "inputs": {"image": source, **inputs}}
        prompt[str(11 + 2 * index)] = {"class_type": "PreviewImage", "inputs": {"images": [node, 0]}}
        if chained:
            source = [node, 0]
    return prompt


def timed(url: str, prompt: dict) -> float:
    started = time.monotonic()
    result = run_workflow(url, prompt, timeout=600)
    elapsed = time.monotonic() - started
    if result.status != "execution_success":
        raise RuntimeError(f"benchmark prompt failed: {result.status} {result.error}")
    return elapsed


def cancel_latency(url: str, fake, kind: str) -> float:
    """Interrupt a fal node while its `kind` request hangs; seconds from POST /interrupt to the end."""
    fake.plan(kind)
    marks: dict[str, float] = {}

    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if fake.holding() > 0:
                marks["sent"] = time.monotonic()
                requests.post(f"{url}/interrupt", json={}, timeout=10)
                return
            time.sleep(0.01)

    def on_event(event):
        if event.get("type") in ("execution_interrupted", "execution_error", "execution_success"):
            marks["ended"] = time.monotonic()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    result = run_workflow(url, graph(["fal"]), timeout=120, on_event=on_event)
    thread.join(5)
    if result.status != "execution_interrupted" or "sent" not in marks:
        raise RuntimeError(f"cancel during {kind} did not interrupt the prompt: {result.status}")
    return marks["ended"] - marks["sent"]


def install_for(version: str):
    if version != "0.3.75" and not os.environ.get(VENV_033_VARIABLE):
        venv = (
            subprocess.run(
                ["bash", str(REPO / "scripts" / "env.sh"), "comfyui-0.33"],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        os.environ[VENV_033_VARIABLE] = venv
    return comfyui_install(version)


def bench_server(version: str, fakes, job_seconds: float, repeats: int) -> dict:
    base = prepare_base(Path(tempfile.mkdtemp(prefix=f"bench-remote-{version}-")))
    server = start_comfyui(base, env=dict(fakes.env), install=install_for(version))
    try:
        timed(server.url, graph(PROVIDERS))  # warm-up: imports, first decode
        for provider in PROVIDERS:
            getattr(fakes, provider).job_seconds = job_seconds
        singles = {p: [] for p in PROVIDERS}
        parallel, sequential = [], []
        for _ in range(repeats):
            for provider in PROVIDERS:
                singles[provider].append(timed(server.url, graph([provider])))
            parallel.append(timed(server.url, graph(PROVIDERS)))
            sequential.append(timed(server.url, graph(PROVIDERS, chained=True)))
        fakes.reset()
        cancels = {
            kind: cancel_latency(server.url, fakes.fal, kind)
            for kind in ("hang_submit", "hang_status", "stall_download")
        }
        fakes.reset()
        return {
            "singles": {p: statistics.median(v) for p, v in singles.items()},
            "parallel": statistics.median(parallel),
            "sequential": statistics.median(sequential),
            "cancels": cancels,
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-seconds", type=float, default=5.0, help="how long each fake job runs")
    parser.add_argument("--versions", default="0.3.75,0.33.0", help="ComfyUI versions to measure")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each graph (median reported)")
    args = parser.parse_args()

    fakes = start_fakes(Path(tempfile.mkdtemp(prefix="bench-remote-fakes-")))
    rows = []
    try:
        for version in [v.strip() for v in args.versions.split(",") if v.strip()]:
            rows.append((version, bench_server(version, fakes, args.job_seconds, args.repeats)))
    finally:
        fakes.stop()

    print(
        f"\nThree remote nodes (fal, Replicate, SiliconFlow), each job {args.job_seconds:g} s at its fake provider"
    )
    print(f"(median of {args.repeats} run(s); wall time from queueing the prompt to its end)\n")
    print(
        "| ComfyUI | one job (s): fal / replicate / siliconflow | 3 parallel (s) | 3 sequential (s) "
        "| parallel / one job (goal ≤ 1.3) | parallel / sequential |"
    )
    print("|---|---|---|---|---|---|")
    for version, r in rows:
        one = max(r["singles"].values())
        singles = " / ".join(f"{r['singles'][p]:.2f}" for p in PROVIDERS)
        print(
            f"| {version} | {singles} | {r['parallel']:.2f} | {r['sequential']:.2f} "
            f"| {r['parallel'] / one:.2f} | {r['parallel'] / r['sequential']:.2f} |"
        )
    print("\nCancel (POST /interrupt) → prompt ended, fal node, seconds (goal ≤ 1):\n")
    print("| ComfyUI | hung create | hung status poll | stalled download |")
    print("|---|---|---|---|")
    for version, r in rows:
        c = r["cancels"]
        print(f"| {version} | {c['hang_submit']:.3f} | {c['hang_status']:.3f} | {c['stall_download']:.3f} |")


if __name__ == "__main__":
    main()
