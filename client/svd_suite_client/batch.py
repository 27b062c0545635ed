"""`svd-suite batch`: a folder of images through one workflow on one or several servers.

Each server gets its own client and worker thread running one prompt at a time; the next image
goes to the idle worker whose server reports the shortest /queue. The manifest (manifest.py, an
append-only journal in the output folder) records each finished image in O(1), so `--resume`
skips them, also after a kill. Before any image runs, the workflow and `--set`s are checked once
against a server's /object_info: a typo fails the batch at once, not every image.
"""

from __future__ import annotations

import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ComfyClient
from .errors import ComfyClientError, ServerGone
from .jobs import cancel, image_loader, prepare_prompt, run_to_files
from .manifest import JOURNAL, Manifest
from .progress import Reporter
from .workflow import apply_assignments, check, coerce, load_workflow

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MANIFEST = JOURNAL
MAX_ATTEMPTS = 3  # an image whose server dropped it while still answering is tried this often


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ComfyClientError(f"--images folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass
class Worker:
    client: ComfyClient
    inbox: queue.Queue = field(default_factory=queue.Queue)
    busy: bool = False
    retired: bool = False
    object_info: dict | None = None


@dataclass
class BatchSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    per_server: dict[str, int] = field(default_factory=dict)
    left: int = 0  # not run because no server was left (a later --resume runs them)


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
    """Run every image of `images_dir` through `workflow`; returns counts (done/skipped/failed/left)."""
    images = list_images(images_dir)
    manifest = Manifest(out_dir, str(workflow), resume)
    try:
        summary = BatchSummary()
        todo = []
        for image in images:
            if manifest.is_done(image.name):
                summary.skipped += 1
            else:
                todo.append(image)
        if manifest.recognised:
            reporter.message(
                f"{len(manifest.recognised)} image(s) finished before the last run stopped; recorded as done"
            )
        workers = [Worker(ComfyClient(url, **(client_options or {}))) for url in dict.fromkeys(servers)]
        try:
            if todo:
                _check_before_running(workers, workflow, assignments)
                _Batch(workflow, assignments, timeout, manifest, reporter, summary, workers).run(todo)
        finally:
            for worker in workers:
                worker.client.close()
        manifest.write_summary()
        return summary
    finally:
        manifest.close()


def _check_before_running(workers: list[Worker], workflow: str, assignments: tuple[str, ...]) -> None:
    """Load the workflow and apply the `--set`s once with the first server that answers
    (WorkflowError / ValidationFailed before any image runs); ServerGone when none answers."""
    unreachable = []
    for worker in workers:
        try:
            worker.object_info = worker.client.object_info()
        except ServerGone as exc:
            unreachable.append(str(exc))
            continue
        prompt = load_workflow(workflow, worker.object_info)
        image_loader(prompt)
        apply_assignments(prompt, list(assignments), worker.object_info)
        check(coerce(prompt, worker.object_info), worker.object_info)
        return
    raise ServerGone("no server answered, nothing was run: " + "; ".join(unreachable))


class _Batch:
    """The workers, the images waiting for one, and the counts, shared under one condition."""

    def __init__(self, workflow, assignments, timeout, manifest, reporter, summary, workers):
        self.workflow = workflow
        self.assignments = assignments
        self.timeout = timeout
        self.manifest: Manifest = manifest
        self.reporter: Reporter = reporter
        self.summary: BatchSummary = summary
        self.workers: list[Worker] = workers
        self.pending: queue.Queue = queue.Queue()
        self.idle = threading.Condition()
        self.attempts: dict[str, int] = {}
        self.total = 0

    def run(self, todo: list[Path]) -> None:
        self.total = len(todo)
        for image in todo:
            self.pending.put(image)
        threads = [threading.Thread(target=self._work, args=(w,), daemon=True) for w in self.workers]
        for thread in threads:
            thread.start()
        try:
            self._dispatch()
        except KeyboardInterrupt:
            for worker in self.workers:
                for prompt_id in worker.client.pending_prompts():
                    cancel(worker.client, prompt_id)
            raise
        finally:
            for worker in self.workers:
                worker.inbox.put(None)
            for thread in threads:
                thread.join(10)
        self.summary.left = self.pending.qsize()  # every server retired before these could run

    def _dispatch(self) -> None:
        """Hand each image to the idle worker whose server has the shortest queue, until all are settled."""
        while True:
            with self.idle:
                while True:
                    settled = self.summary.done + self.summary.failed
                    live = [w for w in self.workers if not w.retired]
                    if settled >= self.total or not live:
                        return
                    free = [w for w in live if not w.busy]
                    if free and not self.pending.empty():
                        break
                    self.idle.wait(1.0)
            # One free server leaves nothing to choose: no /queue request per image then.
            chosen = free[0] if len(free) == 1 else min(free, key=_queue_length)
            try:
                image = self.pending.get_nowait()
            except queue.Empty:
                continue
            with self.idle:
                chosen.busy = True
            chosen.inbox.put(image)

    def _work(self, worker: Worker) -> None:
        while True:
            image = worker.inbox.get()
            if image is None:
                return
            try:
                self._run_one(worker, image)
            finally:
                with self.idle:
                    worker.busy = False
                    self.idle.notify_all()
            if worker.retired:
                return

    def _run_one(self, worker: Worker, image: Path) -> None:
        client = worker.client
        staging = None
        try:
            if worker.object_info is None:
                worker.object_info = client.object_info()
            prepared = prepare_prompt(
                client, self.workflow, image, self.assignments, object_info=worker.object_info
            )
            staging = self.manifest.staging_dir()
            result, files = run_to_files(
                client, prepared.prompt, staging, self.reporter, self.timeout, label=image.name
            )
            entry = {"server": client.display_base, "prompt_id": result.prompt_id}
            outputs = self.manifest.commit(image.name, staging, files, entry)
            with self.idle:
                self.summary.done += 1
                self.summary.per_server[client.display_base] = (
                    self.summary.per_server.get(client.display_base, 0) + 1
                )
            self.reporter.message(
                f"done {image.name} on {client.display_base}: {', '.join(map(str, outputs))}"
            )
        except ServerGone as exc:
            self._server_lost(worker, image, exc)
        except (ComfyClientError, ValueError, OSError) as exc:
            self._failed(image, str(exc))
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _failed(self, image: Path, reason: str) -> None:
        self.manifest.fail(image.name, reason)
        with self.idle:
            self.summary.failed += 1
        self.reporter.message(f"failed {image.name}: {reason}")

    def _server_lost(self, worker: Worker, image: Path, error: ServerGone) -> None:
        """A connection failed mid-image. A server that still answers keeps working (the image
        is tried again, up to MAX_ATTEMPTS); one that stays silent for the budget is retired."""
        client = worker.client
        tries = self.attempts[image.name] = self.attempts.get(image.name, 0) + 1
        if client.wait_for_server(client.reconnect_budget):
            if tries >= MAX_ATTEMPTS:
                self._failed(image, f"{error} (tried {tries} times)")
            else:
                self.pending.put(image)
            return
        with self.idle:
            worker.retired = True
            self.pending.put(image)
            others = [w for w in self.workers if not w.retired]
            left = self.pending.qsize()
        if others:
            self.reporter.message(
                f"server {client.display_base} is gone ({error}); {image.name} and the rest go to "
                f"the {len(others)} other server(s)"
            )
        else:
            self.reporter.message(
                f"server {client.display_base} is gone ({error}); it was the last server, so {left} "
                "image(s) were not run. When a server answers again, run the same command with "
                "--resume: finished images are kept and only the rest run"
            )


def _queue_length(worker: Worker) -> int:
    try:
        return worker.client.queue_length()
    except ComfyClientError:
        return 1 << 30


def summary_text(summary: BatchSummary) -> str:
    text = f"done {summary.done}, skipped {summary.skipped}, failed {summary.failed}"
    if summary.left:
        text += f", not run {summary.left} (no server left; rerun with --resume)"
    return text
