"""bench/gpu_svd.py --dry-run: the GPU benchmark's every code path, on tiny models on the CPU.

The run hides what a bare GPU box lacks (Pillow, requests, importlib_metadata, PyAV, OpenCV,
accelerate, torchvision, ComfyUI), as if those packages were not installed, so the benchmark
proves it needs only torch, transformers and diffusers. Two of its four configurations run here
(default and channels_last+compile: every option, its set-up and its undoing); the others differ
only in which flags they pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gpu_svd.py"
ABSENT_ON_A_BARE_BOX = (
    "PIL",
    "requests",
    "importlib_metadata",
    "av",
    "cv2",
    "accelerate",
    "torchvision",
    "comfy",
    "folder_paths",
)
RUNNER = """
import runpy, sys
absent = {absent!r}
for name in absent:
    sys.modules[name] = None  # what `import name` finds when the package is not installed
sys.argv = [{bench!r}, "--dry-run", "--configs", "default,channels_last+compile"]
try:
    runpy.run_path({bench!r}, run_name="__main__")
except SystemExit as done:
    if done.code:
        raise
real = [n for n in absent if sys.modules.get(n) is not None and type(sys.modules[n]).__name__ != "_InertModule"]
print("REALLY_IMPORTED " + ",".join(real))
"""


def run_dry() -> tuple[str, dict]:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER.format(absent=ABSENT_ON_A_BARE_BOX, bench=str(BENCH))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return done.stdout, json.loads(result[len("RESULT ") :])


def test_dry_run_measures_both_paths_in_each_configuration_on_a_bare_box():
    stdout, result = run_dry()
    rows = {(r["config"], r["arm"]): r for r in result["rows"]}
    assert set(rows) == {(c, a) for c in ("default", "channels_last+compile") for a in ("ours", "pipeline")}
    assert result["skipped"] == []
    for row in rows.values():
        assert row["finite"] and row["runs"] == 1
        assert all(row[stage] > 0 for stage in ("clip", "sampling", "decode"))
        assert row["diff_other"] < 1e-4, row  # fp32: our staged path is the pipeline's maths
        assert row["diff_default"] < 1e-3, row  # the options keep the picture
    assert rows[("default", "ours")]["diff_default"] == 0.0
    assert rows[("default", "ours")]["ratio"] > 0
    assert result["flops"]["unet_step"] > 0 and result["flops"]["decode"] > 0 and result["rate"] > 0
    # Pillow is imported by diffusers but absent here: an inert stand-in took its place.
    assert "PIL" in result["inert"] and set(result["inert"]) <= {"PIL", "requests", "importlib_metadata"}
    imported = next(line for line in stdout.splitlines() if line.startswith("REALLY_IMPORTED"))
    assert imported.strip() == "REALLY_IMPORTED", imported  # none of the absent packages was used
    assert "| floor |" in stdout and "Attention: UNet ['AttnProcessor2_0']" in stdout
