"""README's first command, as a newcomer runs it: `bash scripts/demo.sh` in a fresh copy of the
checkout whose folder name has a space, then the command the summary prints to run it again.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from support.checkout import copy_checkout

from dev.comfyui import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def demo(clone: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/demo.sh", *args], cwd=clone, env=dict(os.environ, **env),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def summary_line(stdout: str, label: str) -> str:
    lines = [line for line in stdout.splitlines() if line.strip().startswith(f"{label}:")]
    assert lines, f"no '{label}:' line in the demo's summary:\n{stdout}"
    return lines[0].split(":", 1)[1].strip()


def test_demo_makes_a_video_and_says_how_to_make_another(tmp_path):
    clone = copy_checkout(tmp_path / "svd suite")
    env = {"SVD_SUITE_DEMO_PORT": str(free_port()), "SVD_SUITE_DEMO_BASE": str(tmp_path / "demo base")}
    try:
        out = demo(clone, env)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        video = Path(summary_line(out.stdout, "video"))
        assert video.parent == clone / "demo-output" and video.read_bytes()[4:8] == b"ftyp"
        assert summary_line(out.stdout, "model").startswith("svd-tiny-demo")

        again = summary_line(out.stdout, "run it again")
        words = shlex.split(again)
        assert words[1:3] == ["img2vid", str(clone / "media" / "rocket.jpg")], again
        assert "--model" in words and words[words.index("--model") + 1] == "svd-tiny-demo", again
        rerun = subprocess.run(words, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
        assert (tmp_path / "another.mp4").read_bytes()[4:8] == b"ftyp"
    finally:
        stopped = demo(clone, env, "--stop")
        assert stopped.returncode == 0, stopped.stderr
