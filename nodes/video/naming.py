"""Where a saved video goes: ComfyUI's counter naming, refusal of escapes, atomic publication.

`prefix_00001.mp4` under the output folder, with the prefix's sub-folders ("svd/video" →
output/svd/video_00001.mp4). The counter goes past the highest number already there. The file is
written under a hidden temporary name in the same folder and only then *linked* to its final
name: a hard link fails if the name exists, so two runs (or two servers sharing a folder) can
never overwrite each other, and a crash leaves no half-written file under a real name.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass

TEMP_MARK = ".svdsuite-partial"
_MAX_CLAIM_ATTEMPTS = 1000


@dataclass(frozen=True)
class Target:
    folder: str  # absolute folder that will hold the file
    subfolder: str  # the same folder relative to the output root ("" or "svd")
    stem: str  # file name prefix without counter ("video")
    extension: str  # ".mp4", or "" for a folder of frames


def resolve_target(filename_prefix: str, output_dir: str, extension: str) -> Target:
    """Split a prefix into folder + stem, refusing anything that leaves `output_dir`."""
    prefix = (filename_prefix or "").strip()
    if not prefix:
        raise ValueError("filename_prefix: must not be empty (e.g. 'svd/video')")
    if "\x00" in prefix:
        raise ValueError("filename_prefix: must not contain NUL characters")
    if os.path.isabs(prefix) or re.match(r"^[A-Za-z]:", prefix) or prefix.startswith(("/", "\\")):
        raise ValueError(
            f"filename_prefix: {prefix!r} is an absolute path; use a path relative to the output folder"
        )
    parts = re.split(r"[\\/]+", prefix)
    if any(part == ".." for part in parts):
        raise ValueError(
            f"filename_prefix: {prefix!r} leaves the output folder ('..' is not allowed); "
            "use a relative path such as 'svd/video'"
        )
    parts = [part for part in parts if part not in ("", ".")]
    if not parts:
        raise ValueError(f"filename_prefix: {prefix!r} has no file name part (e.g. 'svd/video')")
    root = os.path.realpath(output_dir)
    folder = os.path.realpath(os.path.join(root, *parts[:-1]))
    if os.path.commonpath([root, folder]) != root:  # a symlinked sub-folder pointing outside
        raise ValueError(f"filename_prefix: {prefix!r} resolves outside the output folder")
    subfolder = os.path.relpath(folder, root)
    return Target(folder, "" if subfolder == "." else subfolder, parts[-1], extension)


def next_counter(target: Target) -> int:
    """One past the highest `<stem>_NNNNN` already in the folder (files, folders, any extension)."""
    pattern = re.compile(re.escape(target.stem) + r"_(\d+)(?:[._]|$)", re.IGNORECASE)
    highest = 0
    try:
        names = os.listdir(target.folder)
    except FileNotFoundError:
        return 1
    for name in names:
        match = pattern.match(name)
        if match:
            highest = max(highest, int(match.group(1)))
    return highest + 1


def final_name(target: Target, counter: int) -> str:
    return f"{target.stem}_{counter:05d}{target.extension}"


def temp_path(target: Target) -> str:
    """A hidden, unique path in the target folder (same file system, so linking is atomic)."""
    os.makedirs(target.folder, exist_ok=True)
    return os.path.join(target.folder, f".{target.stem}.{uuid.uuid4().hex[:12]}{TEMP_MARK}{target.extension}")


def publish(temp: str, target: Target) -> str:
    """Give the finished temp file/folder its counter name without ever replacing anything.

    Returns the final file name. The temp path is gone afterwards.
    """
    is_dir = os.path.isdir(temp)
    for _ in range(_MAX_CLAIM_ATTEMPTS):
        name = final_name(target, next_counter(target))
        final = os.path.join(target.folder, name)
        try:
            if is_dir:
                # mkdir claims the name (fails if taken); renaming a folder onto our own empty
                # folder then replaces it atomically.
                os.mkdir(final)
                try:
                    os.rename(temp, final)
                except BaseException:
                    os.rmdir(final)
                    raise
            else:
                _link_no_replace(temp, final)
                os.unlink(temp)
        except FileExistsError:
            continue  # someone took this number meanwhile: count again
        return name
    raise RuntimeError(f"could not find a free file name for {target.stem!r} in {target.folder}")


def _link_no_replace(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # a file system without hard links: claim with O_EXCL, then replace our own claim
    fd = os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.close(fd)
    try:
        os.replace(src, dst)
    except BaseException:
        os.unlink(dst)
        raise


def discard(temp: str) -> None:
    """Remove a temp file or folder after a failure or interrupt (never raises)."""
    try:
        if os.path.isdir(temp):
            shutil.rmtree(temp, ignore_errors=True)
        elif os.path.lexists(temp):
            os.unlink(temp)
    except OSError:
        pass
