"""Run results and their files: what a prompt produced, and safe downloads of it."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import Event


@dataclass
class OutputFile:
    """One file a node listed in its outputs (ComfyUI puts videos under `images` too)."""

    node: str
    filename: str
    subfolder: str = ""
    type: str = "output"
    animated: bool = False


@dataclass
class RunResult:
    """A finished prompt: its id, the events seen, and its /history entry."""

    prompt_id: str
    status: str = "success"
    events: list[Event] = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.history.get("outputs") or {}

    def files(self, types: tuple[str, ...] = ("output",)) -> list[OutputFile]:
        """Output files of the given kinds ("output", "temp", "input"), in node order."""
        found = []
        for node, node_out in self.outputs.items():
            animated = any(bool(a) for a in node_out.get("animated") or [])
            for key, items in node_out.items():
                if not isinstance(items, list):
                    continue
                for item in items:
                    if isinstance(item, dict) and "filename" in item and item.get("type", "output") in types:
                        found.append(
                            OutputFile(
                                node=str(node),
                                filename=item["filename"],
                                subfolder=item.get("subfolder", ""),
                                type=item.get("type", "output"),
                                animated=animated or key in ("gifs", "videos"),
                            )
                        )
        return found


def unique_path(directory: Path, filename: str) -> Path:
    """`directory/filename`, or `name_1.ext`, `name_2.ext`, ... when that is taken."""
    base = Path(filename).name or "output"
    stem, suffix = os.path.splitext(base)
    candidate = directory / base
    n = 1
    while candidate.exists():
        candidate = directory / f"{stem}_{n}{suffix}"
        n += 1
    return candidate


def place_without_overwrite(tmp: Path, target: Path) -> Path:
    """Move a finished temp file to `target` (or a suffixed sibling) without ever replacing a file.

    `os.link` fails if the name exists, which makes the claim atomic even against other writers.
    """
    directory = target.parent
    wanted = target.name
    for _ in range(10_000):
        candidate = unique_path(directory, wanted)
        try:
            os.link(tmp, candidate)
        except FileExistsError:
            continue
        except OSError:  # filesystems without hard links
            if candidate.exists():
                continue
            os.replace(tmp, candidate)
            return candidate
        os.unlink(tmp)
        return candidate
    raise FileExistsError(f"no free name for {wanted} in {directory}")


def _umask_file_mode() -> int:
    """0666 minus the process umask (read once at import, while nothing else runs)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _umask_file_mode()


def write_atomic(target: Path, chunks, overwrite: bool = False) -> Path:
    """Write byte chunks to a temp file beside `target`, then move it into place.

    Never leaves a half file under the final name; without `overwrite`, a taken name gets a suffix.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        os.chmod(fd, _FILE_MODE)  # mkstemp makes 0600; outputs should look like any saved file
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                if chunk:
                    handle.write(chunk)
        if overwrite:
            os.replace(tmp, target)
            return target
        return place_without_overwrite(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
