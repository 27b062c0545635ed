"""What runs inside one Ray actor of `svd-suite batch --engine ray`: one ComfyUI server's driver.

The actor either drives a server that already runs (`--server URL`) or starts one on its node
(`--launch`, launch.py) and stops it when the actor ends. It runs one image per call and sends
the output files back as bytes, through Ray's object store, to the submitting machine, which
places them (batch.py, manifest.py): nothing is written on the actor's node but the server's own
folders.

Failures are Ray's to handle: when the launched ComfyUI dies, the actor ends its own process
(`os._exit`), so Ray restarts it (max_restarts: a fresh ComfyUI, on this or another node) and
runs the interrupted call again (max_task_retries). A node that disappears is the same to Ray.

One prompt at a time: the submitting side keeps the next image's call queued behind the running
one (ray_engine.CALLS_PER_ACTOR), and the actor has threads for them, so `run_image` holds a lock
while it runs: the queued call waits for it, then starts at once, without a round trip.

Progress: the events of the running image wait in the actor, with the image's name, until the
submitting side takes them (`take_events`, answered on another thread while `run_image` runs),
so the progress bar moves as it does without Ray; what is left comes back with the result.

Errors of a run come back as plain data, not as raised exceptions: our error classes take
structured arguments and do not survive pickling; `ray_engine` rebuilds them by name.

This module never imports ray at the top: it is imported on every node of the cluster, where ray
is already loaded, and by tests and the CLI where it may not be installed.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from .client import ComfyClient
from .errors import ComfyClientError, ServerGone, ValidationFailed
from .jobs import image_loader, prepare_prompt, run_to_files
from .launch import LaunchedServer, LaunchSpec, launch
from .progress import Reporter
from .workflow import apply_assignments, check, coerce, load_workflow


class _Recorder(Reporter):
    """Keeps a run's events until the submitting side takes them (take_events, or the result)."""

    def __init__(self):
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def event(self, event, label: str = "") -> None:
        with self.lock:
            self.events.append((label, event))

    def take(self) -> list[Any]:
        with self.lock:
            taken, self.events = self.events, []
        return taken

    def message(self, text: str) -> None:
        pass


def error_data(exc: Exception) -> dict[str, Any]:
    """An error as plain data: its class name, message and, for ValidationFailed, the problems."""
    data = {"kind": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ValidationFailed):
        data["problems"] = list(exc.problems)
    return data


def node_name() -> str:
    """The node's IP address as Ray knows it (what `ray status` and the dashboard show)."""
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - outside Ray (unit use): the host name will do
        return socket.gethostname()


class ComfyUIServerActor:
    """One server of the batch; created through `ray.remote(...)` in ray_engine."""

    def __init__(
        self,
        server: str | None,
        spec: LaunchSpec | None,
        run_id: str,
        client_options: dict[str, Any],
    ):
        self.node = node_name()
        self.launched: LaunchedServer | None = None
        self.client: ComfyClient | None = None
        self.object_info: dict | None = None
        self.startup_error: dict[str, Any] | None = None
        self.recorder = _Recorder()
        self.one_prompt = threading.Lock()  # one prompt in flight on this server
        try:
            if spec is not None:
                self.launched = launch(spec, run_id)
                server = self.launched.url
            self.client = ComfyClient(server, **client_options)
        except (ComfyClientError, OSError, ValueError) as exc:
            # Kept for ready(): a constructor that raised would be hidden in Ray's own message.
            self.startup_error = error_data(exc)

    def ready(self) -> dict[str, Any]:
        """Where this server runs, or why it could not start."""
        return {
            "node": self.node,
            "server": self.client.display_base if self.client else None,
            "log": str(self.launched.log_path) if self.launched else None,
            "error": self.startup_error,
        }

    def check(self, workflow: dict, assignments: tuple[str, ...]) -> dict[str, Any] | None:
        """The workflow and `--set`s against this server's /object_info; an error as data, or None."""
        try:
            self._require_server()
            self.object_info = self.client.object_info()
            prompt = load_workflow(workflow, self.object_info)
            image_loader(prompt)
            apply_assignments(prompt, list(assignments), self.object_info)
            check(coerce(prompt, self.object_info), self.object_info)
        except (ComfyClientError, OSError, ValueError) as exc:
            return error_data(exc)
        return None

    def run_image(
        self, name: str, data: bytes, workflow: dict, assignments: tuple[str, ...], timeout: float
    ) -> dict[str, Any]:
        """Run one image; {"files": [(name, bytes)], "prompt_id", "server", "node", "events"} or
        {"error": ...}. A launched server found dead ends this actor (Ray restarts and retries)."""
        with self.one_prompt:
            return self._run_image(name, data, workflow, assignments, timeout)

    def _run_image(
        self, name: str, data: bytes, workflow: dict, assignments: tuple[str, ...], timeout: float
    ) -> dict[str, Any]:
        self.recorder.take()  # what a failed run before left behind is not this image's
        try:
            self._require_server()
            if self.object_info is None:
                self.object_info = self.client.object_info()
            with tempfile.TemporaryDirectory(prefix="svd-suite-ray-") as scratch:
                image = Path(scratch) / name
                image.write_bytes(data)
                prepared = prepare_prompt(
                    self.client, workflow, image, assignments, object_info=self.object_info
                )
                outputs = Path(scratch) / "outputs"
                outputs.mkdir()
                result, files = run_to_files(
                    self.client, prepared.prompt, outputs, self.recorder, timeout, label=name
                )
                return {
                    "files": [(path.name, path.read_bytes()) for path in files],
                    "prompt_id": result.prompt_id,
                    "server": self.client.display_base,
                    "node": self.node,
                    "events": self.recorder.take(),
                }
        except ServerGone as exc:
            if self.launched is not None and not self.launched.alive():
                os._exit(1)  # a crash to Ray: restart this actor (a new ComfyUI), retry this call
            return {"error": error_data(exc)}
        except (ComfyClientError, OSError, ValueError) as exc:
            return {"error": error_data(exc)}

    def take_events(self) -> list[Any]:
        """The running image's (name, event)s since the last call (the progress bar's feed)."""
        return self.recorder.take()

    def still_serving(self) -> bool:
        """After a ServerGone: does the server answer again within the client's budget?"""
        return self.client is not None and self.client.wait_for_server(self.client.reconnect_budget)

    def queue_length(self) -> int:
        try:
            return self.client.queue_length() if self.client else 1 << 30
        except ComfyClientError:
            return 1 << 30

    def stop(self) -> None:
        """End of the batch: close the connection and stop a launched server."""
        if self.client is not None:
            self.client.close()
        if self.launched is not None:
            self.launched.stop()

    def _require_server(self) -> None:
        if self.startup_error is not None:
            raise ServerGone(f"the server of this actor did not start: {self.startup_error['message']}")
