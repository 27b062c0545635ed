"""The checkout works whatever its folder is called.

People clone the repository as `comfyui-svd-suite` (its name), into folders with spaces, or as
anything else. A folder name that is no Python identifier once made pytest import the root
`__init__.py` on its own and fail every test with a relative-import error; these tests copy this
checkout into such folders and run a piece of the suite there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.checkout import copy_checkout

from dev.pack import REPO_ROOT

# Tests that go through the root package node in pytest's tree (its setup imports __init__.py).
SAMPLE = [
    "tests/test_foundation.py::test_pack_imports_without_comfyui_and_without_heavy_libraries",
    "tests/test_foundation.py::test_pack_exports_comfyui_entry_points",
    "tests/test_client_units.py",
]


def run_pytest(clone: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=clone, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("folder", ["comfyui-svd-suite", "svd suite", "main"])
def test_suite_runs_in_a_clone_with_this_folder_name(folder, tmp_path):
    clone = copy_checkout(tmp_path / folder)
    out = run_pytest(clone, *SAMPLE)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "passed" in out.stdout and "error" not in out.stdout.lower(), out.stdout[-2000:]


def test_whole_suite_collects_in_a_clone_named_like_the_repository(tmp_path):
    clone = copy_checkout(tmp_path / "comfyui-svd-suite")
    out = run_pytest(clone, "--collect-only")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    collected = int(out.stdout.strip().splitlines()[-1].split()[0])
    mine = run_pytest(REPO_ROOT, "--collect-only")
    assert collected == int(mine.stdout.strip().splitlines()[-1].split()[0])
