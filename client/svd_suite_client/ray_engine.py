"""`svd-suite batch --engine ray`: the same batch, with each server driven by a Ray actor.

Ray (the optional extra, `pip install "svd-suite-client[ray]"`) places the actors: one per
`--server` URL, or one per launched ComfyUI (`--launch`, each on a node with the CPUs or GPUs it
asks for). The batch itself is batch.py's: one image in flight per server, the same journal,
atomic placement, `--resume`, progress and summary; a `RayWorker` is just another way to get an
image's output files. It holds two images (batch.py's `depth`): the call for the next one is
queued on the actor while the current one runs, so the actor goes from one prompt to the next
without waiting for a round trip to this process (it still runs one prompt at a time).

Ray handles failure: an actor whose process or node dies is restarted (max_restarts) and its
calls run again (max_task_retries); we write no retry loop. Only when Ray gives an actor up does
batch.py move that actor's images to the others, as it does for a server that went away.

Ray is imported here, lazily, and nowhere else on the submitting side: without the extra,
`svd-suite` works as before and `--engine ray` says how to install it.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from .batch import BatchSummary, close_all, run_workers
from .errors import ComfyClientError, EngineMissing, ServerGone, Timeout, ValidationFailed, WorkflowError
from .launch import LaunchRefused, LaunchSpec
from .progress import Reporter
from .ray_actor import ComfyUIServerActor

INSTALL_HINT = 'pip install "svd-suite-client[ray]"'
# An actor (or its node) that dies is restarted this often, and the call it was running is
# sent again as often: enough for a few crashes, bounded so a server that can never start
# does not loop forever.
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024  # outputs in flight: one image's files per server
ADDRESS_CHECK_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 30.0
PROGRESS_POLL_S = 0.5  # while an image runs longer than this, its events are fetched this often
CALLS_PER_ACTOR = 2  # the running image and the next one, queued behind it on the actor
# Actor threads: the queued calls (one runs, one waits for it), take_events, and queue_length or
# still_serving, answered at once while an image runs.
ACTOR_THREADS = CALLS_PER_ACTOR + 2
READY_MARGIN_S = 120.0  # placing an actor (and, without --launch, its first answer) beyond startup
# Errors that come back from an actor as data (ray_actor.error_data), rebuilt here by name so
# batch.py and the CLI treat them as they treat the plain engine's.
REBUILT_ERRORS = {
    "ServerGone": ServerGone,
    "Timeout": Timeout,
    "WorkflowError": WorkflowError,
    "LaunchRefused": LaunchRefused,
}


class RayUnreachable(ServerGone):
    """`--ray-address` names a cluster that does not answer."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise EngineMissing(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def rebuild_error(data: dict[str, Any]) -> Exception:
    if data.get("kind") == "ValidationFailed":
        return ValidationFailed(data.get("problems") or [data.get("message", "")])
    return REBUILT_ERRORS.get(data.get("kind"), ComfyClientError)(data.get("message", ""))


def check_address(address: str) -> None:
    """A host:port (or ray://host:port) that refuses connections fails here in seconds;
    ray.init itself would keep retrying for minutes. "auto" is left to Ray."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), ADDRESS_CHECK_TIMEOUT_S).close()
    except OSError as exc:
        raise RayUnreachable(
            f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc}); "
            "start one with `ray start --head` or check the address"
        ) from None


def connect(ray, address: str | None, local_cpus: int, dashboard: bool) -> str | None:
    """Join the cluster at `address`, or start a local Ray; returns the dashboard URL if any."""
    if address:
        check_address(address)
        context = ray.init(address=address, log_to_driver=False)
    else:
        context = ray.init(
            num_cpus=max(os.cpu_count() or 1, local_cpus),
            include_dashboard=dashboard,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            log_to_driver=False,
        )
    url = getattr(context, "dashboard_url", None)
    return f"http://{url}" if url and not url.startswith("http") else url or None


class RayWorker:
    """A Ray actor driving one server, as batch.py's worker (see batch.Worker)."""

    def __init__(self, ray, actor, name: str, workflow: dict):
        self.ray = ray
        self.actor = actor
        self.label = name
        self.workflow = workflow
        self.inbox: queue.Queue = queue.Queue()
        self.in_hand = 0
        self.depth = CALLS_PER_ACTOR
        self.retired = False

    def _call(self, method: str, *args, timeout: float | None = None):
        """One actor call; an actor Ray gave up on is a server that went away."""
        try:
            return self.ray.get(getattr(self.actor, method).remote(*args), timeout=timeout)
        except self.ray.exceptions.RayActorError as exc:
            raise ServerGone(f"Ray actor {self.label} is gone: {str(exc).splitlines()[0]}") from None
        except self.ray.exceptions.GetTimeoutError:
            raise Timeout(f"Ray actor {self.label} did not answer {method} within {timeout:.0f}s") from None

    def check(self, workflow: str, assignments: tuple[str, ...]) -> None:
        error = self._call("check", self.workflow, assignments)
        if error:
            raise rebuild_error(error)

    def start(self, batch, image: Path):
        """Queue the image's call on the actor now (batch.py hands it over while the previous
        one may still run); `produce` collects it. An unreadable image fails in `produce`."""
        try:
            data = image.read_bytes()
        except OSError as exc:
            return exc
        return self.actor.run_image.remote(image.name, data, self.workflow, batch.assignments, batch.timeout)

    def produce(self, batch, image: Path, staging: Path, running) -> tuple[list[Path], dict[str, Any]]:
        if isinstance(running, OSError):
            raise running
        # Bounded by the actor: each run ends within `timeout` (this one may first wait for the
        # one before it), and Ray's restarts are counted.
        while True:
            try:
                answer = self.ray.get(running, timeout=PROGRESS_POLL_S)
                break
            except self.ray.exceptions.GetTimeoutError:
                for label, event in self._events_so_far():
                    batch.reporter.event(event, label)
            except self.ray.exceptions.RayActorError as exc:
                raise ServerGone(f"Ray actor {self.label} is gone: {str(exc).splitlines()[0]}") from None
        if "error" in answer:
            raise rebuild_error(answer["error"])
        for label, event in answer["events"]:
            batch.reporter.event(event, label)
        files = []
        for name, data in answer["files"]:
            path = staging / name
            path.write_bytes(data)
            files.append(path)
        return files, {"server": answer["server"], "node": answer["node"], "prompt_id": answer["prompt_id"]}

    def _events_so_far(self) -> list:
        """Progress of the running image(s), as (image name, event); nothing while its actor is being restarted (not retried:
        the next poll asks again)."""
        try:
            ref = self.actor.take_events.options(max_task_retries=0).remote()
            return self.ray.get(ref, timeout=PROGRESS_POLL_S * 4)
        except self.ray.exceptions.RayError:
            return []

    def still_serving(self) -> bool:
        try:
            return bool(self._call("still_serving"))
        except ComfyClientError:
            return False

    def queue_length(self) -> int:
        try:
            return int(self._call("queue_length"))
        except ComfyClientError:
            return 1 << 30

    def cancel(self) -> None:
        self.ray.kill(self.actor)  # its launched ComfyUI dies with it (launch.py)

    def close(self) -> None:
        try:
            self._call("stop", timeout=STOP_TIMEOUT_S)
        except ComfyClientError:
            pass
        self.ray.kill(self.actor)


def _read_workflow(workflow: str) -> dict:
    """The workflow as data, read here: the actors' nodes need not have the file."""
    path = Path(workflow)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkflowError(f"workflow file not found: {path}") from None
    except ValueError as exc:
        raise WorkflowError(f"workflow {path} is not valid JSON: {exc}") from None


def start_workers(
    ray,
    workflow: dict,
    servers: list[str],
    spec: LaunchSpec | None,
    launch_count: int,
    resources: dict[str, float],
    client_options: dict[str, Any],
    reporter: Reporter,
) -> list[RayWorker]:
    """Create the actors and wait until each server answers (or says why it cannot)."""
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    remote = ray.remote(ComfyUIServerActor)
    # Names for messages: batch.py says "server <name> is gone", the start says "<name>: <url> on node".
    plans = [(url, url, None, {"num_cpus": 0}) for url in dict.fromkeys(servers)]
    plans += [(f"launched #{i + 1}", None, spec, resources) for i in range(launch_count)]
    actors = []
    for name, url, launch_spec, needs in plans:
        actor = remote.options(
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_TASK_RETRIES,
            max_concurrency=ACTOR_THREADS,
            scheduling_strategy="SPREAD",
            **needs,
        ).remote(url, launch_spec, run_id, client_options)
        actors.append((name, actor))
    workers, problems = [], []
    # Bounded: an actor that asks for resources no node has would wait for them for ever.
    deadline = time.monotonic() + (spec.startup_timeout if spec else 0) + READY_MARGIN_S
    for name, actor in actors:
        worker = RayWorker(ray, actor, name, workflow)
        try:
            where = worker._call("ready", timeout=max(1.0, deadline - time.monotonic()))
        except Timeout:
            where = {
                "error": {
                    "kind": "ServerGone",
                    "message": f"{name} was not placed or did not start "
                    "in time: does a node have the CPUs / GPUs it asks for (`ray status`)?",
                }
            }
        except ComfyClientError as exc:
            where = {"error": {"kind": "ServerGone", "message": str(exc)}}
        if where.get("error"):
            problems.append(rebuild_error(where["error"]))
            ray.kill(actor)
            continue
        log = f", log {where['node']}:{where['log']}" if where.get("log") else ""
        reporter.message(f"server {name}: {where['server']} on node {where['node']}{log}")
        workers.append(worker)
    if problems and (not workers or any(isinstance(p, LaunchRefused) for p in problems)):
        close_all(workers)
        raise problems[0]
    for problem in problems:
        reporter.message(f"a server did not start, the batch goes on without it: {problem}")
    return workers


def launch_plan(ray, gpus_per_server: float | None, cpu_servers: int | None) -> tuple[int, dict[str, float]]:
    """How many servers to launch and what each asks Ray for."""
    if cpu_servers:
        return cpu_servers, {"num_cpus": 1}
    total = ray.cluster_resources().get("GPU", 0)
    count = int(total // gpus_per_server)
    if count < 1:
        raise ValueError(
            f"--gpus-per-server {gpus_per_server:g}: the Ray cluster has {total:g} GPU(s); "
            "use fewer GPUs per server, add GPU nodes, or --cpu-servers N to try it on CPUs"
        )
    return count, {"num_gpus": gpus_per_server, "num_cpus": 1}


def run_batch_on_ray(
    workflow: str,
    images_dir: Path,
    out_dir: Path,
    servers: list[str],
    reporter: Reporter,
    *,
    address: str | None = None,
    launch: LaunchSpec | None = None,
    gpus_per_server: float | None = None,
    cpu_servers: int | None = None,
    dashboard: bool = True,
    resume: bool = False,
    assignments: tuple[str, ...] = (),
    timeout: float = 3600.0,
    client_options: dict[str, Any] | None = None,
) -> BatchSummary:
    """run_batch's twin on Ray. Ray, the actors and their servers are up before the output
    folder is touched: a setup that fails leaves nothing written."""
    ray = import_ray()
    data = _read_workflow(workflow)
    if not images_dir.is_dir():
        raise ComfyClientError(f"--images folder not found: {images_dir}")
    dashboard_url = connect(ray, address, cpu_servers or 0, dashboard)
    try:
        if dashboard_url:
            reporter.message(f"Ray dashboard: {dashboard_url}")
        count, resources = launch_plan(ray, gpus_per_server, cpu_servers) if launch else (0, {})
        workers = start_workers(ray, data, servers, launch, count, resources, client_options or {}, reporter)
        return run_workers(workers, workflow, images_dir, out_dir, reporter, resume, assignments, timeout)
    finally:
        ray.shutdown()
