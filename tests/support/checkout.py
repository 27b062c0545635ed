"""Copies of this checkout, as a clone would have it (for tests that clone or install it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dev.pack import REPO_ROOT


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
