"""`svd-suite batch`: a folder of images through one workflow on one or several servers.

Each server gets its own worker thread running one prompt at a time; the next image goes to the
idle worker whose server reports the shortest /queue. A worker may hold `depth` images: the Ray
engine's keeps one call queued behind the running one, so its actor starts the next image without
a round trip (it still runs one prompt at a time). A worker is anything that turns an image into
output files in a staging folder: `Worker` drives a server from this process (its own
client); the Ray engine's `RayWorker` (ray_engine.py) asks a Ray actor on some node instead.
The manifest (manifest.py, an append-only journal in the output folder) records each finished
image in O(1), so `--resume` skips them, also after a kill. Before any image runs, the workflow
and `--set`s are checked once against a server's /object_info: a typo fails the batch at once,
not every image.
"""

from __future__ import annotations

import queue
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
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
    """One server driven from this process: its client, and the image handed to it."""

    client: ComfyClient
    inbox: queue.Queue = field(default_factory=queue.Queue)
    in_hand: int = 0  # images handed to this worker and not yet settled (at most `depth`)
    retired: bool = False
    object_info: dict | None = None
    depth = 1  # one image at a time: it runs in this process, nothing to hide

    @property
    def label(self) -> str:
        return self.client.display_base

    def check(self, workflow: str, assignments: tuple[str, ...]) -> None:
        """Load the workflow and apply the `--set`s against this server's /object_info
        (WorkflowError / ValidationFailed; ServerGone when it does not answer)."""
        self.object_info = self.client.object_info()
        prompt = load_workflow(workflow, self.object_info)
        image_loader(prompt)
        apply_assignments(prompt, list(assignments), self.object_info)
        check(coerce(prompt, self.object_info), self.object_info)

    def start(self, batch: _Batch, image: Path) -> None:
        """Called when the image is handed over; this worker does its work in `produce`."""

    def produce(
        self, batch: _Batch, image: Path, staging: Path, started: None = None
    ) -> tuple[list[Path], dict[str, Any]]:
        """Run one image; its outputs land in `staging`. Returns them and the journal entry."""
        if self.object_info is None:
            self.object_info = self.client.object_info()
        prepared = prepare_prompt(
            self.client, batch.workflow, image, batch.assignments, object_info=self.object_info
        )
        result, files = run_to_files(
            self.client, prepared.prompt, staging, batch.reporter, batch.timeout, label=image.name
        )
        return files, {"server": self.client.display_base, "prompt_id": result.prompt_id}

    def still_serving(self) -> bool:
        return self.client.wait_for_server(self.client.reconnect_budget)

    def queue_length(self) -> int:
        try:
            return self.client.queue_length()
        except ComfyClientError:
            return 1 << 30

    def cancel(self) -> None:
        for prompt_id in self.client.pending_prompts():
            cancel(self.client, prompt_id)

    def close(self) -> None:
        self.client.close()


@dataclass
class BatchSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    per_server: dict[str, int] = field(default_factory=dict)
    per_node: dict[str, int] = field(default_factory=dict)  # the Ray engine: images per node
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
    workers = [Worker(ComfyClient(url, **(client_options or {}))) for url in dict.fromkeys(servers)]
    return run_workers(workers, workflow, images_dir, out_dir, reporter, resume, assignments, timeout)


def run_workers(
    workers: list,
    workflow: str,
    images_dir: Path,
    out_dir: Path,
    reporter: Reporter,
    resume: bool = False,
    assignments: tuple[str, ...] = (),
    timeout: float = 3600.0,
) -> BatchSummary:
    """The batch itself, on any workers (see the module docstring); closes them at the end."""
    try:
        images = list_images(images_dir)
        manifest = Manifest(out_dir, str(workflow), resume)
    except BaseException:
        close_all(workers)
        raise
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
        try:
            if todo:
                _check_before_running(workers, workflow, assignments)
                _Batch(workflow, assignments, timeout, manifest, reporter, summary, workers).run(todo)
        finally:
            close_all(workers)
        manifest.write_summary()
        return summary
    finally:
        manifest.close()


def close_all(workers: list) -> None:
    """Close every worker at once: a launched server takes seconds to stop, so not one by one."""
    if workers:
        with ThreadPoolExecutor(len(workers)) as pool:
            list(pool.map(lambda worker: worker.close(), workers))


def _check_before_running(workers: list, workflow: str, assignments: tuple[str, ...]) -> None:
    """Check the workflow and the `--set`s once with the first server that answers
    (WorkflowError / ValidationFailed before any image runs); ServerGone when none answers."""
    unreachable = []
    for worker in workers:
        try:
            worker.check(workflow, assignments)
        except ServerGone as exc:
            unreachable.append(str(exc))
            continue
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
                worker.cancel()
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
                    free = [w for w in live if w.in_hand < w.depth]
                    if free and not self.pending.empty():
                        break
                    self.idle.wait(1.0)
            # The emptiest workers first; one of them leaves nothing to choose (no /queue request).
            least = min(w.in_hand for w in free)
            free = [w for w in free if w.in_hand == least]
            chosen = free[0] if len(free) == 1 else min(free, key=lambda w: w.queue_length())
            try:
                image = self.pending.get_nowait()
            except queue.Empty:
                continue
            with self.idle:
                if chosen.retired:  # retired while we chose: the image waits for another
                    self.pending.put(image)
                    continue
                chosen.in_hand += 1
                chosen.inbox.put((image, chosen.start(self, image)))

    def _work(self, worker: Worker) -> None:
        while True:
            item = worker.inbox.get()
            if item is None:
                return
            image, started = item
            try:
                self._run_one(worker, image, started)
            finally:
                with self.idle:
                    worker.in_hand -= 1
                    self.idle.notify_all()
            if worker.retired:
                self._hand_back(worker)
                return

    def _hand_back(self, worker: Worker) -> None:
        """A retired worker's images not yet run go back to the others (under the lock: no
        image is handed to it after this)."""
        with self.idle:
            while True:
                try:
                    item = worker.inbox.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    worker.in_hand -= 1
                    self.pending.put(item[0])
            self.idle.notify_all()

    def _run_one(self, worker: Worker, image: Path, started: Any = None) -> None:
        staging = None
        try:
            staging = self.manifest.staging_dir()
            files, entry = worker.produce(self, image, staging, started)
            outputs = self.manifest.commit(image.name, staging, files, entry)
            server, node = entry["server"], entry.get("node")
            with self.idle:
                self.summary.done += 1
                self.summary.per_server[server] = self.summary.per_server.get(server, 0) + 1
                if node:
                    self.summary.per_node[node] = self.summary.per_node.get(node, 0) + 1
            where = f"{server} on node {node}" if node else server
            self.reporter.message(f"done {image.name} on {where}: {', '.join(map(str, outputs))}")
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
        tries = self.attempts[image.name] = self.attempts.get(image.name, 0) + 1
        if worker.still_serving():
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
                f"server {worker.label} is gone ({error}); {image.name} and the rest go to "
                f"the {len(others)} other server(s)"
            )
        else:
            self.reporter.message(
                f"server {worker.label} is gone ({error}); it was the last server, so {left} "
                "image(s) were not run. When a server answers again, run the same command with "
                "--resume: finished images are kept and only the rest run"
            )


def summary_text(summary: BatchSummary) -> str:
    text = f"done {summary.done}, skipped {summary.skipped}, failed {summary.failed}"
    if summary.left:
        text += f", not run {summary.left} (no server left; rerun with --resume)"
    if summary.per_node:
        text += "; by node: " + ", ".join(f"{node} {n}" for node, n in sorted(summary.per_node.items()))
    return text
