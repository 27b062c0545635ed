"""Start and stop a ComfyUI server on this machine, for the Ray engine's launched servers.

A launched server listens on 127.0.0.1 only (the Ray actor next to it is its one client), on a
free port, and keeps everything it writes (output, temp, input, user data, its database) in a
folder of its own, so two servers of one ComfyUI folder never race for a file name. Models and
custom nodes come from the ComfyUI folder itself, or from a `--base-directory` passed through
`extra_args`; this module installs nothing. See docs/client.md, "Running on a cluster".

On Linux the server is tied to the process that started it (PR_SET_PDEATHSIG): when a Ray
actor is killed outright, its ComfyUI goes with it instead of holding the GPU.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .api import ServerApi
from .errors import ComfyClientError, ServerGone

STOP_GRACE_S = 15.0


class LaunchRefused(ComfyClientError, ValueError):
    """The launch cannot work as asked (no such ComfyUI folder, no such Python): bad usage."""


@dataclass(frozen=True)
class LaunchSpec:
    """What every launched server of a batch shares (plain data: it travels to each Ray node)."""

    comfyui_dir: str
    python: str | None = None  # None: the Python running this process
    extra_args: tuple[str, ...] = ()
    startup_timeout: float = 300.0
    run_root: str | None = None  # None: <temp dir>/svd-suite-ray


@dataclass
class LaunchedServer:
    """A running ComfyUI: its URL, process and the folder with its outputs and log."""

    port: int
    process: subprocess.Popen
    folder: Path
    spec: LaunchSpec = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "comfyui.log"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGINT (ComfyUI's own clean exit), then SIGKILL after STOP_GRACE_S."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE_S)

    def log_tail(self, chars: int = 800) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def comfyui_main(spec: LaunchSpec) -> Path:
    """main.py of the ComfyUI folder; LaunchRefused naming the folder when it is not there."""
    folder = Path(spec.comfyui_dir).expanduser()
    if not folder.is_dir():
        raise LaunchRefused(
            f"--launch {spec.comfyui_dir}: no such folder on node {socket.gethostname()}; "
            "the ComfyUI folder must exist at this path on every node"
        )
    main = folder / "main.py"
    if not main.is_file():
        raise LaunchRefused(f"--launch {spec.comfyui_dir}: holds no main.py, so it is not a ComfyUI folder")
    return main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(spec: LaunchSpec, main: Path, port: int, folder: Path) -> list[str]:
    """ComfyUI's command line: loopback only, this server's own folders; the user's extra
    arguments last, so they can override (e.g. --base-directory for custom nodes and models)."""
    python = spec.python or sys.executable
    return [
        python, str(main), "--listen", "127.0.0.1", "--port", str(port),
        "--output-directory", str(folder / "output"), "--temp-directory", str(folder / "temp"),
        "--input-directory", str(folder / "input"), "--user-directory", str(folder / "user"),
        "--database-url", f"sqlite:///{folder / 'user' / 'comfyui.db'}",
        "--disable-auto-launch", *spec.extra_args,
    ]  # fmt: skip


def _prepare_child() -> None:
    """Runs in the child before exec. Ray's workers ignore or block SIGINT, and both stay so
    across exec: give ComfyUI back the default handlers, so stop() ends it at once. Then tie
    it to its parent (Linux): SIGKILL it when the launching process dies."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def launch(spec: LaunchSpec, run_id: str) -> LaunchedServer:
    """Start ComfyUI and wait (up to spec.startup_timeout) until /system_stats answers.

    LaunchRefused when the folder or the Python is missing; ServerGone (with the log's tail)
    when ComfyUI exits or stays silent.
    """
    main = comfyui_main(spec)
    python = spec.python or sys.executable
    if not Path(python).exists():
        raise LaunchRefused(f"--comfyui-python {python}: no such file on node {socket.gethostname()}")
    port = free_port()
    root = Path(spec.run_root) if spec.run_root else Path(os.environ.get("TMPDIR", "/tmp")) / "svd-suite-ray"
    folder = root / run_id / f"server-{port}"
    for sub in ("output", "temp", "input", "user"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    with open(folder / "comfyui.log", "wb") as log:
        process = subprocess.Popen(
            server_command(spec, main, port, folder),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(main.parent),
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True,  # a Ctrl-C meant for the batch does not reach it
            preexec_fn=_prepare_child if os.name == "posix" else None,
        )
    server = LaunchedServer(port=port, process=process, folder=folder, spec=spec)
    api = ServerApi(server.url, http_timeout=5.0)
    deadline = time.monotonic() + spec.startup_timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServerGone(
                f"ComfyUI in {spec.comfyui_dir} exited with {process.returncode} while starting "
                f"(log {server.log_path}):\n{server.log_tail()}"
            )
        if api.wait_for_server(1.0):
            return server
    server.stop()
    raise ServerGone(
        f"ComfyUI in {spec.comfyui_dir} did not answer within {spec.startup_timeout:.0f}s "
        f"(log {server.log_path}):\n{server.log_tail()}"
    )
