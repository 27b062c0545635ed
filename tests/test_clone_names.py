"""The checkout works whatever its folder is called.

People clone the repository as `comfyui-svd-suite` (its name), into folders with spaces, or as
anything else. A folder name that is no Python identifier once made pytest import the root
`__init__.py` on its own and fail every test with a relative-import error; these tests copy this
checkout into such folders and run a piece of the suite there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.pack import REPO_ROOT

# Tests that go through the root package node in pytest's tree (its setup imports __init__.py).
SAMPLE = [
    "tests/test_foundation.py::test_pack_imports_without_comfyui_and_without_heavy_libraries",
    "tests/test_foundation.py::test_pack_exports_comfyui_entry_points",
    "tests/test_client_units.py",
]


def checkout_files() -> list[str]:
    """The files a clone would have: tracked plus untracked-but-not-ignored (work in progress)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    return [name for name in listed.split("\0") if name and (REPO_ROOT / name).exists()]


def copy_checkout(target: Path) -> Path:
    for name in checkout_files():
        source = REPO_ROOT / name
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, destination)
    return target


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
