"""`svd-suite batch`: a folder of images through one workflow on one or several servers.

Each server gets its own client and worker thread running one prompt at a time; the next image
goes to the idle worker whose server reports the shortest /queue. A manifest in the output
folder (rewritten atomically after every image) records finished images, so `--resume` skips them.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ComfyClient
from .errors import ComfyClientError, ServerGone
from .jobs import cancel, prepare_prompt, run_to_files
from .outputs import write_atomic
from .progress import Reporter

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MANIFEST = "manifest.json"


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ComfyClientError(f"--images folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class Manifest:
    """{"workflow", "done": {image: {...}}, "failed": {image: reason}}, saved atomically."""

    def __init__(self, path: Path, resume: bool, workflow: str):
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, Any] = {"workflow": workflow, "done": {}, "failed": {}}
        if resume and path.is_file():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
                self.data["done"] = dict(old.get("done") or {})
            except ValueError:
                raise ComfyClientError(f"cannot resume: {path} is not valid JSON") from None

    def is_done(self, name: str) -> bool:
        return name in self.data["done"]

    def record(self, name: str, entry: dict[str, Any] | None = None, failure: str | None = None) -> None:
        with self.lock:
            if failure is None:
                self.data["done"][name] = entry or {}
                self.data["failed"].pop(name, None)
            else:
                self.data["failed"][name] = failure
            self.save()

    def save(self) -> None:
        text = json.dumps(self.data, indent=2, sort_keys=True).encode()
        write_atomic(self.path, [text], overwrite=True)


@dataclass
class Worker:
    client: ComfyClient
    inbox: queue.Queue = field(default_factory=queue.Queue)
    busy: bool = False
    retired: bool = False


@dataclass
class BatchSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    per_server: dict[str, int] = field(default_factory=dict)


def run_batch(
    workflow: str,
    images_dir: Path,
    out_dir: Path,
    servers: list[str],
    reporter: Reporter,
    resume: bool = False,
    assignments: tuple[str, ...] = (),
    timeout: float = 3600.0,
    client_options: dict[str, Any] | None = None,
) -> BatchSummary:
    """Run every image of `images_dir` through `workflow`; returns counts (done/skipped/failed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir / MANIFEST, resume, workflow)
    summary = BatchSummary()
    todo = []
    for image in list_images(images_dir):
        if manifest.is_done(image.name):
            summary.skipped += 1
        else:
            todo.append(image)
    manifest.save()
    workers = [Worker(ComfyClient(url, **(client_options or {}))) for url in dict.fromkeys(servers)]
    idle = threading.Condition()

    def work(worker: Worker) -> None:
        object_info = None
        while True:
            image = worker.inbox.get()
            if image is None:
                return
            label = image.name
            try:
                if object_info is None:
                    object_info = worker.client.object_info()
                prepared = prepare_prompt(
                    worker.client, workflow, image, assignments, object_info=object_info
                )
                result, files = run_to_files(
                    worker.client, prepared.prompt, out_dir / image.stem, reporter, timeout, label=label
                )
                manifest.record(
                    image.name,
                    {
                        "server": worker.client.display_base,
                        "prompt_id": result.prompt_id,
                        "outputs": [str(p) for p in files],
                    },
                )
                with idle:
                    summary.done += 1
                    summary.per_server[worker.client.display_base] = (
                        summary.per_server.get(worker.client.display_base, 0) + 1
                    )
                reporter.message(
                    f"done {image.name} on {worker.client.display_base}: {', '.join(map(str, files))}"
                )
            except ServerGone as exc:
                worker.retired = True
                pending.put(image)  # another server can still take it
                reporter.message(
                    f"server {worker.client.display_base} is gone ({exc}); its work moves elsewhere"
                )
            except (ComfyClientError, ValueError, OSError) as exc:
                manifest.record(image.name, failure=str(exc))
                with idle:
                    summary.failed += 1
                reporter.message(f"failed {image.name}: {exc}")
            finally:
                with idle:
                    worker.busy = False
                    idle.notify_all()
            if worker.retired:
                return

    pending: queue.Queue = queue.Queue()
    for image in todo:
        pending.put(image)
    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        _dispatch(pending, workers, idle, len(todo), summary)
    except KeyboardInterrupt:
        for worker in workers:
            for prompt_id in worker.client.pending_prompts():
                cancel(worker.client, prompt_id)
        raise
    finally:
        for worker in workers:
            worker.inbox.put(None)
        for thread in threads:
            thread.join(10)
        for worker in workers:
            worker.client.close()
    while not pending.empty():  # every server retired before these could run
        image = pending.get()
        manifest.record(image.name, failure="no server left to run it")
        summary.failed += 1
    return summary


def _dispatch(
    pending: queue.Queue, workers: list[Worker], idle: threading.Condition, total: int, summary: BatchSummary
) -> None:
    """Hand each image to the idle worker whose server has the shortest queue, until all are settled."""
    while True:
        with idle:
            while True:
                settled = summary.done + summary.failed
                live = [w for w in workers if not w.retired]
                if settled >= total or not live:
                    return
                free = [w for w in live if not w.busy]
                if free and not pending.empty():
                    break
                idle.wait(1.0)
        chosen = min(free, key=lambda w: _queue_length(w))
        try:
            image = pending.get_nowait()
        except queue.Empty:
            continue
        with idle:
            chosen.busy = True
        chosen.inbox.put(image)


def _queue_length(worker: Worker) -> int:
    try:
        return worker.client.queue_length()
    except ComfyClientError:
        return 1 << 30


def summary_text(summary: BatchSummary) -> str:
    return f"done {summary.done}, skipped {summary.skipped}, failed {summary.failed}"
