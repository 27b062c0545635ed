"""Benchmark Interpolate Frames at SVD's size (1024×576) on the CPU: RIFE vs optical flow.

RIFE runs with random weights in the real architectures (4.7, 4.17, 4.26): speed and memory do
not depend on what the weights learned. Everything is printed as ratios to the optical-flow
method measured in the same run, never as absolute targets.

Each measurement is a fresh subprocess (imports, clip, a warm-up pair, then the timed clip) so
that memory is its own: peak = the child's VmHWM (Linux high-water mark, reset after the
warm-up) minus its RSS just before interpolating, minus the output IMAGE itself (which grows
with the clip by design), i.e. the working memory.
Methods alternate (flow, 4.7, 4.17, 4.26, flow, ...) so machine load drifts hit all alike; time
is the best of --runs runs (other load only adds time), memory the median.

Run: V=$(bash scripts/env.sh); $V/bin/python bench/bench_rife.py [--frames 3] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("4.7", "4.17", "4.26")


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Reset this process's VmHWM to its current RSS (Linux: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def child_main(method: str, frames: int, size: str, multiplier: int, weights_dir: str) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import torch
    from bench_interpolate import textured_clip

    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes.extend.interpolate import interpolate_frames
    from svd_suite.nodes.extend.rife.run import interpolate_rife

    width, height = (int(v) for v in size.split("x"))
    clip = textured_clip(frames, width, height)
    path = os.path.join(weights_dir, f"rife{method.replace('.', '')}.pth")

    def run(frames_in):
        if method == "flow":
            return interpolate_frames(frames_in, 7.0, multiplier)[0]
        return interpolate_rife(frames_in, 7.0, multiplier, path, device=torch.device("cpu"))[0]

    # Warm-up on one pair (weights loaded, kernels chosen), as in a running ComfyUI; then the
    # high-water mark is reset so that the measured peak is the timed run's own.
    run(clip[:2])
    _reset_peak()
    before = _rss_mib("VmRSS")
    start = time.perf_counter()
    out = run(clip)
    seconds = time.perf_counter() - start
    output_mib = out.numel() * out.element_size() / 2**20
    peak = _rss_mib("VmHWM")
    print(
        json.dumps(
            {"seconds": seconds, "working_mib": peak - before - output_mib, "new": out.shape[0] - frames}
        )
    )


def measure(method: str, frames: int, size: str, multiplier: int, weights_dir: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        method,
        "--frames",
        str(frames),
        "--size",
        size,
        "--multiplier",
        str(multiplier),
        "--weights",
        str(weights_dir),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{method} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def save_random_weights(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes.extend.rife.architectures import ARCHITECTURES
    from svd_suite.nodes.extend.rife.ifnet import IFNet

    torch.manual_seed(0)
    for version in VERSIONS:
        state = IFNet(ARCHITECTURES[version]).state_dict()
        torch.save(
            {f"module.{k}": v for k, v in state.items()}, folder / f"rife{version.replace('.', '')}.pth"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--size", default="1024x576")
    parser.add_argument("--multiplier", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--child")
    parser.add_argument("--weights")
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.frames, args.size, args.multiplier, args.weights)
        return

    methods = ("flow", *VERSIONS)
    with tempfile.TemporaryDirectory(prefix="bench-rife-") as workdir:
        weights_dir = Path(workdir)
        save_random_weights(weights_dir)
        samples: dict[str, list[dict]] = {m: [] for m in methods}
        longer: dict[str, list[dict]] = {m: [] for m in methods}
        for _ in range(args.runs):
            for method in methods:
                samples[method].append(measure(method, args.frames, args.size, args.multiplier, weights_dir))
                longer[method].append(
                    measure(method, 3 * args.frames, args.size, args.multiplier, weights_dir)
                )

    def per_frame(method: str) -> float:
        # Best of the runs: on a shared machine other load only ever adds time.
        return min(s["seconds"] / s["new"] for s in samples[method])

    def working(method: str, runs=samples) -> float:
        return statistics.median(s["working_mib"] for s in runs[method])

    flow_time, flow_memory = per_frame("flow"), working("flow")
    print(
        f"clip {args.frames} frames {args.size}, ×{args.multiplier}, CPU, torch threads "
        f"{__import__('torch').get_num_threads()}, {args.runs} runs per method (time: best; memory: median)"
    )
    print(f"reference (optical flow): {flow_time:.2f} s per new frame, working memory {flow_memory:.0f} MiB")
    print(
        "| method | s / new frame | ÷ optical flow | working MiB | ÷ optical flow | "
        f"working MiB at {3 * args.frames} frames (flat = same) |"
    )
    print("|---|---|---|---|---|---|")
    for method in methods:
        name = "optical flow" if method == "flow" else f"RIFE {method}"
        print(
            f"| {name} | {per_frame(method):.2f} | {per_frame(method) / flow_time:.2f} | "
            f"{working(method):.0f} | {working(method) / flow_memory:.2f} | {working(method, longer):.0f} |"
        )
    print("\nworking memory = peak RSS (VmHWM) − RSS before interpolating − the output IMAGE, after a")
    print("warm-up pair (weights loaded). Random weights: speed and memory only, not quality.")


if __name__ == "__main__":
    main()
