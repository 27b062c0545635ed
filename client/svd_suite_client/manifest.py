"""The batch's record of finished images: an append-only journal, one JSON line per event.

Why a journal: rewriting a whole manifest after every image costs O(n) per image, O(n²) for a
batch; appending one line costs the same for the first image and the ten-thousandth. A process
killed mid-write leaves at most a half line at the end, which reading skips (and cuts off).

Why each image's outputs are downloaded into a staging folder and then renamed into place: the
rename is atomic, so an image's folder either holds all its outputs or does not exist. The
journal says which folder an image is about to take (`placing`) before the rename and that it
is finished (`done`) after it, so an image killed between the two is recognised as done on
`--resume` (its folder exists) and an image killed before the rename is simply redone: no image
ever ends with two sets of outputs.

Lines: {"event": "batch", "workflow"} at each start, then per image
{"event": "placing", "image", "folder"}, {"event": "done", "image", "folder", "server",
"prompt_id", "outputs"} or {"event": "failed", "image", "reason"}.
`manifest.json` (the shape older versions wrote after every image) is written once at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

from .errors import ComfyClientError
from .outputs import write_atomic

try:
    import fcntl
except ImportError:  # Windows: no advisory lock, one batch per folder is then up to the user
    fcntl = None

JOURNAL = "manifest.jsonl"
SUMMARY = "manifest.json"
STAGING_PREFIX = ".svd-suite-staging-"
_STAGING = re.compile(re.escape(STAGING_PREFIX) + r"[0-9a-f]{32}")


class Manifest:
    """Which images of a batch are done (and where their outputs are), kept in `out_dir`.

    `resume=False` starts a new journal (earlier output folders stay; new ones get a suffix);
    `resume=True` reads the journal back, also after a kill. One batch per folder at a time.
    """

    def __init__(self, out_dir: Path, workflow: str, resume: bool):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / JOURNAL
        self.workflow = workflow
        self.done: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}
        self.recognised: list[str] = []  # finished in a killed run, recorded only now
        self._lock = threading.Lock()
        self._file = open(self.path, "a+b", buffering=0)  # unbuffered: one write() per line
        try:
            self._lock_folder()
            if resume:
                self._read_back()
            else:
                self._file.truncate(0)
            self._remove_staging_leftovers()
            self._append({"event": "batch", "workflow": workflow, "resume": resume})
            for name in self.recognised:
                self._append({"event": "done", "image": name, **self.done[name]})
        except BaseException:
            self._file.close()
            raise

    # ---------------------------------------------------------------- reading back
    def _lock_folder(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ComfyClientError(
                f"another svd-suite batch is writing to {self.out_dir} (its {JOURNAL} is locked); "
                "wait for it or choose another --out"
            ) from None

    def _read_back(self) -> None:
        self._file.seek(0)
        data = self._file.read()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) < len(data):
            self._file.truncate(len(complete))  # a half line from a kill mid-write
        if not complete:
            self._read_legacy_summary()
            return
        claims: dict[str, str] = {}  # image -> folder it was about to take
        owner: dict[str, str] = {}  # folder -> image that took it last
        for line in complete.splitlines():
            try:
                record = json.loads(line)
                kind, name = record.get("event"), record.get("image")
            except (ValueError, AttributeError):
                continue  # unreadable line: what it said is redone, never trusted
            if kind == "placing":
                claims[name] = record.get("folder")
                owner[record.get("folder")] = name
            elif kind == "done":
                self.done[name] = {k: v for k, v in record.items() if k not in ("event", "image")}
                self.failed.pop(name, None)
                claims.pop(name, None)
                if record.get("folder"):
                    owner[record["folder"]] = name
            elif kind == "failed" and name not in self.done:
                self.failed[name] = record.get("reason", "")
        for name, folder in claims.items():
            # Killed after the rename but before `done`: the folder exists, complete.
            if name in self.done or not folder or owner.get(folder) != name:
                continue
            placed = self.out_dir / folder
            if placed.is_dir():
                outputs = sorted(str(p) for p in placed.iterdir() if p.is_file())
                self.done[name] = {"folder": folder, "outputs": outputs, "recognised": True}
                self.failed.pop(name, None)
                self.recognised.append(name)

    def _read_legacy_summary(self) -> None:
        """A batch started by an older version kept only manifest.json: its done images count."""
        summary = self.out_dir / SUMMARY
        if not summary.is_file():
            return
        try:
            old = json.loads(summary.read_text(encoding="utf-8"))
        except ValueError:
            raise ComfyClientError(f"cannot resume: {summary} is not valid JSON") from None
        for name, entry in (old.get("done") or {}).items():
            self.done[name] = dict(entry or {})
            self.recognised.append(name)

    def _remove_staging_leftovers(self) -> None:
        for path in self.out_dir.iterdir():
            if _STAGING.fullmatch(path.name) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)

    # ---------------------------------------------------------------- recording
    def is_done(self, name: str) -> bool:
        return name in self.done

    def staging_dir(self) -> Path:
        """A fresh folder to download one image's outputs into (see `commit`)."""
        path = self.out_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def commit(self, name: str, staging: Path, files: list[Path], entry: dict[str, Any]) -> list[Path]:
        """Move a finished image's outputs (`files`, all in `staging`) into its own folder and
        record it done.

        The folder is the image's stem, or stem_1, stem_2, ... when that is taken (an earlier
        batch, or another image with the same stem). Returns the outputs' paths in that folder.
        """
        with self._lock:
            stem = Path(name).stem.lstrip(".") or "image"
            folder, n = stem, 0
            while (self.out_dir / folder).exists():
                n += 1
                folder = f"{stem}_{n}"
            self._append({"event": "placing", "image": name, "folder": folder})
            os.rename(staging, self.out_dir / folder)
            outputs = [self.out_dir / folder / Path(p).name for p in files]
            record = {"folder": folder, **entry, "outputs": [str(p) for p in outputs]}
            self._append({"event": "done", "image": name, **record})
            self.done[name] = record
            self.failed.pop(name, None)
        return outputs

    def fail(self, name: str, reason: str) -> None:
        with self._lock:
            self._append({"event": "failed", "image": name, "reason": reason})
            self.failed[name] = reason

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        written = self._file.write(line)
        while written < len(line):  # a raw write may be short; finish the line
            written += self._file.write(line[written:])

    def write_summary(self) -> Path:
        """manifest.json: every done and failed image in one file (once, at the end)."""
        data = {"workflow": self.workflow, "done": self.done, "failed": self.failed}
        text = json.dumps(data, indent=2, sort_keys=True).encode()
        return write_atomic(self.out_dir / SUMMARY, [text], overwrite=True)

    def close(self) -> None:
        self._file.close()  # also releases the lock
