"""`svd-suite batch --engine ray` on a real local Ray with real ComfyUI 0.3.75 servers (CPU).

Every test runs the real CLI in its own process, as a user would, with Ray's files in a short
private folder (RAY_TMPDIR) so that whatever a test leaves running (a killed batch leaves Ray's
own processes) is found by that folder's name and stopped by PID at the end. Ray takes seconds
to start on two cores: the tests are few, and each is bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from dev.comfyui import OLDEST, comfyui_install, prepare_base, start_comfyui

pytest.importorskip("ray")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGES = 12
# Uniform colours: a blur keeps them, so each output shows which input it came from.
COLOURS = [(20 * i, 255 - 20 * i, (90 * i) % 256) for i in range(IMAGES)]
TEST_TIMEOUT_S = 300


def write_inputs(folder: Path, count: int = IMAGES, size: int = 256) -> Path:
    folder.mkdir()
    for i in range(count):
        Image.new("RGB", (size, size), COLOURS[i]).save(folder / f"img{i:02d}.png")
    return folder


def write_workflow(folder: Path, blurs: int = 1) -> Path:
    """LoadImage, `blurs` ImageBlur nodes (more: a slower image to kill things during), SaveImage."""
    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}}}
    for i in range(blurs):
        graph[str(i + 2)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i + 1), 0], "blur_radius": 15, "sigma": 3.0},
        }
    graph["99"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [str(blurs + 1), 0], "filename_prefix": "ray"},
    }
    path = folder / "wf.json"
    path.write_text(json.dumps(graph))
    return path


class RaySandbox:
    """Runs `svd-suite` with Ray's files under one short folder; stops what it leaves behind."""

    def __init__(self, tmp_path: Path):
        # Ray puts unix sockets under RAY_TMPDIR: the path must stay short (108-byte limit).
        self.ray_dir = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))
        self.launch_dir = tmp_path / "launched"
        self.base = prepare_base(tmp_path / "comfyui-base")  # this pack in its custom_nodes
        self.comfyui_dir = comfyui_install(OLDEST).main.parent

    def env(self) -> dict[str, str]:
        env = dict(os.environ, RAY_TMPDIR=str(self.ray_dir), RAY_USAGE_STATS_ENABLED="0")
        env.pop("SVD_SUITE_SERVER", None)
        env.pop("RAY_ADDRESS", None)
        return env

    def command(self, *args: str, hide_ray: bool = False) -> list[str]:
        runner = (
            "import sys\n"
            + ("sys.modules['ray'] = None  # as if the [ray] extra were not installed\n" if hide_ray else "")
            + "from svd_suite_client.cli import main\nsys.exit(main(sys.argv[1:]))"
        )
        return [sys.executable, "-c", runner, *args]

    def launch_args(self, servers: int = 2) -> list[str]:
        return [
            "--engine", "ray", "--launch", str(self.comfyui_dir), "--cpu-servers", str(servers),
            "--comfyui-args", f"--base-directory {self.base}", "--launch-dir", str(self.launch_dir),
            "--no-ray-dashboard", "--json",
        ]  # fmt: skip

    def run(self, *args: str, hide_ray: bool = False, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args, hide_ray=hide_ray),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(*args), env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def processes(self, marker: str) -> list[int]:
        """PIDs whose command line mentions `marker` (Ray's folder, or the launched servers')."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(int(entry.name))
        return found

    def stop_leftovers(self) -> None:
        """Kill, by PID, Ray's and ComfyUI's processes that name our folders (bounded)."""
        for marker in (str(self.ray_dir), str(self.launch_dir)):
            for _ in range(3):
                pids = self.processes(marker)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.5)
        shutil.rmtree(self.ray_dir, ignore_errors=True)


@pytest.fixture
def ray_sandbox(tmp_path):
    sandbox = RaySandbox(tmp_path)
    try:
        yield sandbox
    finally:
        sandbox.stop_leftovers()


def summary_of(stdout: str) -> dict:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "summary"][-1]


def messages_of(stdout: str) -> list[str]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [line["text"] for line in lines if line.get("event") == "message"]


def journal_done(out: Path) -> list[dict]:
    journal = out / "manifest.jsonl"
    if not journal.exists():
        return []
    records = []
    for line in journal.read_bytes().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return [r for r in records if r.get("event") == "done"]


def assert_each_image_once_with_its_own_pixels(out: Path, count: int = IMAGES) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["done"]) == [f"img{i:02d}.png" for i in range(count)], manifest["failed"]
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert folders == [f"img{i:02d}" for i in range(count)]  # no image placed twice (no img00_1)
    for name, entry in manifest["done"].items():
        (output,) = entry["outputs"]
        with Image.open(output) as picture:
            pixel = picture.convert("RGB").getpixel((picture.width // 2, picture.height // 2))
        expected = COLOURS[int(name[3:5])]
        assert all(abs(a - b) <= 2 for a, b in zip(pixel, expected, strict=True)), (name, pixel, expected)
    return manifest


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_launched_cpu_servers_run_every_image_once_on_both(tmp_path, ray_sandbox):
    images = write_inputs(tmp_path / "images")
    out = tmp_path / "out"
    result = ray_sandbox.run(
        "batch", str(write_workflow(tmp_path)), "--images", str(images), "--out", str(out),
        *ray_sandbox.launch_args(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    manifest = assert_each_image_once_with_its_own_pixels(out)
    servers = {entry["server"] for entry in manifest["done"].values()}
    assert len(servers) == 2, servers  # both launched servers took images
    assert all(entry["node"] for entry in manifest["done"].values())
    summary = summary_of(result.stdout)
    assert summary["done"] == IMAGES and sum(summary["per_node"].values()) == IMAGES
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    followed = {e.get("label") for e in events if e.get("event") in ("executing", "success")}
    assert followed == {f"img{i:02d}.png" for i in range(IMAGES)}  # each image's progress shown
    started = [m for m in messages_of(result.stdout) if m.startswith("server launched #")]
    assert len(started) == 2 and all("comfyui.log" in m for m in started)
    logs = list(ray_sandbox.launch_dir.glob("*/server-*/comfyui.log"))
    assert len(logs) == 2 and all("comfyui-svd-suite" in log.read_text(errors="replace") for log in logs)
    # Stopped by its SIGINT, not killed after the grace period (Ray's workers ignore SIGINT).
    assert all("Stopped server" in log.read_text(errors="replace") for log in logs)
    assert not ray_sandbox.processes(str(ray_sandbox.launch_dir)), "a launched ComfyUI outlived the batch"


def wait_for_done(out: Path, process: subprocess.Popen, count: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while len(journal_done(out)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"fewer than {count} images done in {seconds}s"
        time.sleep(0.2)


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_a_launched_server_killed_mid_batch_is_restarted_by_ray_and_every_image_finishes_once(
    tmp_path, ray_sandbox
):
    images = write_inputs(tmp_path / "images")
    out = tmp_path / "out"
    batch = ray_sandbox.start(
        "batch", str(write_workflow(tmp_path, blurs=12)), "--images", str(images), "--out", str(out),
        *ray_sandbox.launch_args(),
    )  # fmt: skip
    try:
        wait_for_done(out, batch, 2)
        (victim, *_) = [pid for pid in ray_sandbox.processes(str(ray_sandbox.launch_dir)) if pid != batch.pid]
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = batch.communicate(timeout=240)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait(10)
    assert batch.returncode == 0, stderr[-3000:] + stdout[-3000:]
    assert_each_image_once_with_its_own_pixels(out)
    assert len(journal_done(out)) == IMAGES
    # Two servers at the start, and the one Ray's restart of the actor launched in place of the killed.
    assert len(list(ray_sandbox.launch_dir.glob("*/server-*"))) == 3


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_a_killed_ray_batch_resumes_under_ray_with_only_the_missing_images(tmp_path, ray_sandbox):
    images = write_inputs(tmp_path / "images")
    out = tmp_path / "out"
    workflow = write_workflow(tmp_path, blurs=12)
    args = ["batch", str(workflow), "--images", str(images), "--out", str(out), *ray_sandbox.launch_args()]
    first = ray_sandbox.start(*args)
    try:
        wait_for_done(out, first, 3)
    finally:
        first.kill()
        first.wait(10)
    # Its actors' owner is gone: Ray ends them, and their ComfyUIs go with them.
    deadline = time.monotonic() + 60
    while ray_sandbox.processes(str(ray_sandbox.launch_dir)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not ray_sandbox.processes(str(ray_sandbox.launch_dir)), "a ComfyUI outlived its killed batch"
    ray_sandbox.stop_leftovers()
    ray_sandbox.ray_dir.mkdir()
    finished_before = {record["image"] for record in journal_done(out)}
    assert 3 <= len(finished_before) < IMAGES, "the batch ended before it was killed: nothing tested"
    result = ray_sandbox.run(*args, "--resume")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    summary = summary_of(result.stdout)
    assert summary["skipped"] + summary["done"] == IMAGES and summary["skipped"] >= len(finished_before)
    ran_again = [m.split()[1] for m in messages_of(result.stdout) if m.startswith("done ")]
    assert not set(ran_again) & finished_before and len(ran_again) == summary["done"]
    assert_each_image_once_with_its_own_pixels(out)


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    server = start_comfyui(
        prepare_base(tmp_path_factory.mktemp("ray_plain")), install=comfyui_install(OLDEST)
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_server_urls_under_ray_give_the_same_outputs_as_without_ray(tmp_path, ray_sandbox, plain_server):
    images = write_inputs(tmp_path / "images", count=4, size=32)
    workflow = str(write_workflow(tmp_path))
    outputs = {}
    for engine in ("plain", "ray"):
        out = tmp_path / f"out-{engine}"
        extra = ["--engine", "ray", "--no-ray-dashboard"] if engine == "ray" else []
        result = ray_sandbox.run(
            "batch", workflow, "--images", str(images), "--out", str(out), "--server", plain_server.url,
            "--json", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
        manifest = json.loads((out / "manifest.json").read_text())
        assert {entry["server"] for entry in manifest["done"].values()} == {plain_server.url}
        outputs[engine] = {
            name: [Image.open(p).convert("RGB").tobytes() for p in entry["outputs"]]
            for name, entry in manifest["done"].items()
        }
    assert len(outputs["ray"]) == 4 and outputs["ray"] == outputs["plain"]


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_an_actor_with_its_next_call_queued_still_sends_one_prompt_at_a_time(
    tmp_path, plain_server, monkeypatch
):
    """The engine keeps the next image's call queued behind the running one, and the actor has
    threads for both: the server must still get one prompt at a time, and each image's events
    must come back with it (no Ray needed: the actor's own code, two calls at once)."""
    from svd_suite_client.client import ComfyClient
    from svd_suite_client.ray_actor import ComfyUIServerActor
    from svd_suite_client.ray_engine import CALLS_PER_ACTOR

    counting = threading.Lock()
    in_flight = [0, 0]  # now, most
    real_queue, real_wait = ComfyClient.queue, ComfyClient.wait

    def queue(self, *args, **kwargs):
        with counting:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        return real_queue(self, *args, **kwargs)

    def wait(self, *args, **kwargs):
        try:
            return real_wait(self, *args, **kwargs)
        finally:
            with counting:
                in_flight[0] -= 1

    monkeypatch.setattr(ComfyClient, "queue", queue)
    monkeypatch.setattr(ComfyClient, "wait", wait)
    actor = ComfyUIServerActor(plain_server.url, None, "test", {})
    workflow = json.loads(write_workflow(tmp_path, blurs=3).read_text())
    images = sorted(write_inputs(tmp_path / "images", count=4, size=64).iterdir())
    try:
        with ThreadPoolExecutor(CALLS_PER_ACTOR) as pool:
            answers = list(
                pool.map(lambda p: actor.run_image(p.name, p.read_bytes(), workflow, (), 120), images)
            )
    finally:
        actor.stop()
    assert [sorted(answer) for answer in answers] == [["events", "files", "node", "prompt_id", "server"]] * 4
    assert in_flight == [0, 1]
    for image, answer in zip(images, answers, strict=True):
        assert answer["events"] and {label for label, _ in answer["events"]} == {image.name}


@pytest.mark.timeout(TEST_TIMEOUT_S)
def test_ray_missing_unreachable_or_no_comfyui_folder_is_one_clear_line_and_nothing_written(
    tmp_path, ray_sandbox
):
    images = write_inputs(tmp_path / "images", count=1, size=16)
    workflow = str(write_workflow(tmp_path))
    cases = {
        "missing extra": (dict(hide_ray=True), [], 2, 'pip install "svd-suite-client[ray]"'),
        "unreachable address": ({}, ["--ray-address", "127.0.0.1:9"], 4, "--ray-address 127.0.0.1:9"),
        "no ComfyUI folder": (
            {},
            ["--launch", str(tmp_path / "no-such-comfyui"), "--cpu-servers", "1", "--no-ray-dashboard"],
            2,
            "the ComfyUI folder must exist at this path on every node",
        ),
    }
    for case, (options, extra, code, expected) in cases.items():
        out = tmp_path / f"out-{case.replace(' ', '-')}"
        result = ray_sandbox.run(
            "batch", workflow, "--images", str(images), "--out", str(out), "--engine", "ray", *extra, **options
        )  # fmt: skip
        errors = [line for line in result.stderr.splitlines() if line.startswith("svd-suite: error:")]
        assert result.returncode == code, (case, result.stderr[-3000:])
        assert len(errors) == 1 and expected in errors[0], (case, result.stderr[-3000:])
        assert not out.exists(), f"{case}: {out} was created"


def test_the_client_imports_no_ray_until_the_ray_engine_runs(ray_sandbox):
    check = (
        "import sys\n"
        "import svd_suite_client.cli, svd_suite_client.batch, svd_suite_client.ray_engine\n"
        "print('ray' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], env=ray_sandbox.env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--cpu-servers", "2"], "--cpu-servers needs --engine ray"),
        (["--engine", "ray", "--cpu-servers", "2"], "go with --launch COMFYUI_DIR"),
        (["--engine", "ray", "--launch", "/x"], "exactly one of --gpus-per-server N or --cpu-servers N"),
        (["--engine", "ray", "--launch", "/x", "--cpu-servers", "0"], "--cpu-servers 0: must be at least 1"),
    ],
)
def test_ray_options_out_of_place_are_refused_before_anything_starts(tmp_path, ray_sandbox, extra, expected):
    out = tmp_path / "out"
    result = ray_sandbox.run(
        "batch", "wf.json", "--images", str(tmp_path), "--out", str(out), *extra, timeout=60
    )
    assert result.returncode == 2 and result.stderr.strip().endswith(expected), result.stderr
    assert not out.exists()
