"""Start-up cost of the pack: how long ComfyUI spends importing it.

Prints (a) the import time of the pack in a fresh interpreter against the same interpreter
importing only what ComfyUI itself already has loaded (requests, numpy), median of N runs,
alternating, and (b) the figure from a real ComfyUI start-up report. Budget: < 0.5 s.

Run: python bench/bench_startup.py  (inside the venv from scripts/env.sh)
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the repository root, for dev/

from dev.comfyui import PACK_FOLDER, prepare_base, start_comfyui  # noqa: E402

PACK = (
    "import sys, time; sys.path.insert(0, %r); import numpy, requests\n"
    "t = time.perf_counter()\n"
    "from dev.pack import load_pack; load_pack()\n"
    "print(time.perf_counter() - t)\n"
) % str(HERE.parent)
REFERENCE = (
    "import sys, time; import numpy, requests\n"
    "t = time.perf_counter()\n"
    "import json, logging, importlib, dataclasses\n"
    "print(time.perf_counter() - t)\n"
)


def timed(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(runs: int = 7) -> None:
    ours, ref = [], []
    for _ in range(runs):
        ours.append(timed(PACK))
        ref.append(timed(REFERENCE))
    print("| measure | median s |")
    print("|---|---|")
    print(f"| pack import (fresh interpreter) | {statistics.median(ours):.4f} |")
    print(f"| reference: stdlib imports only | {statistics.median(ref):.4f} |")
    print("| budget | 0.5 |")
    print(f"| pack import / budget | {statistics.median(ours) / 0.5:.3f} |")

    with tempfile.TemporaryDirectory() as tmp:
        base = prepare_base(Path(tmp))
        t0 = time.monotonic()
        server = start_comfyui(base)
        try:
            started = time.monotonic() - t0
            m = re.search(r"([\d.]+) seconds: .*" + re.escape(PACK_FOLDER), server.log_text())
            print(f"| ComfyUI start-up report for the pack | {m.group(1) if m else '?'} |")
            print(f"| ComfyUI start to /system_stats 200 | {started:.2f} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
