"""The `svd-suite` console script, run in a subprocess against the real ComfyUI server."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from PIL import Image
from support.proxy import CuttableProxy

from dev.pack import REPO_ROOT

_colors = itertools.count(5000)


def svd_suite_command() -> list[str]:
    """The installed console script (scripts/test.sh installs ./client beside the checkout and
    puts it first on PATH), else the venv's, else the module."""
    found = shutil.which("svd-suite")
    if found:
        return [found]
    script = Path(sys.executable).parent / "svd-suite"
    return [str(script)] if script.exists() else [sys.executable, "-m", "svd_suite_client.cli"]


def cli(
    *args: str, cwd: Path, timeout: float = 180, server_env: str | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("SVD_SUITE_SERVER", None)
    if server_env:
        env["SVD_SUITE_SERVER"] = server_env
    return subprocess.run(
        [*svd_suite_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def write_workflow(folder: Path, prompt: dict, name: str = "wf.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(prompt))
    return path


def invert_workflow(prefix: str = "cli/inv") -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}, "_meta": {"title": "Input"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}, "_meta": {"title": "Invert"}},
        "3": {
            "class_type": "SaveImage",
            "inputs": {"images": ["2", 0], "filename_prefix": prefix},
            "_meta": {"title": "Save"},
        },
    }


def blank_workflow() -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": next(_colors)},
            "_meta": {"title": "Canvas"},
        },
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": "cli/blank"},
            "_meta": {"title": "Save"},
        },
    }


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "input.png"
    Image.new("RGB", (20, 12), (250, 0, 0)).save(path)
    return path


def test_run_uploads_image_and_downloads_outputs(comfyui_server, tmp_path, image):
    wf = write_workflow(tmp_path, invert_workflow())
    out = cli(
        "run", str(wf), "--server", comfyui_server.url, "--image", str(image), "--out", "out", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    files = list((tmp_path / "out").iterdir())
    assert len(files) == 1 and out.stdout.strip() == str(Path("out") / files[0].name)
    red, green, blue = Image.open(files[0]).getpixel((0, 0))
    assert red < 10 and green > 250 and blue > 250  # the server really inverted our red upload


def test_server_defaults_to_the_environment_variable(comfyui_server, tmp_path):
    wf = write_workflow(tmp_path, blank_workflow())
    out = cli("run", str(wf), "--out", "o", cwd=tmp_path, server_env=comfyui_server.url)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "o").iterdir())) == 1


def test_run_json_prints_one_object_per_event_and_a_summary_with_paths(comfyui_server, tmp_path):
    wf = write_workflow(tmp_path, blank_workflow())
    out = cli(
        "run",
        str(wf),
        "--server",
        comfyui_server.url,
        "--out",
        "o",
        "--json",
        "--set",
        "Canvas.width=24",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["event"] == "started" and lines[-2]["event"] == "success"
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["status"] == "success"
    assert Image.open(tmp_path / summary["outputs"][0]).size == (24, 8)


def test_run_rejected_by_server_exits_3_with_node_input_reason(comfyui_server, tmp_path):
    prompt = blank_workflow()
    del prompt["2"]["inputs"]["images"]
    wf = write_workflow(tmp_path, prompt)
    out = cli("run", str(wf), "--server", comfyui_server.url, "--no-validate", cwd=tmp_path)
    assert out.returncode == 3
    assert out.stderr.strip().splitlines() == [
        "svd-suite: error: prompt rejected: node 2 (SaveImage) input images: Required input is missing"
    ]


def test_run_out_of_range_value_is_caught_before_queueing(comfyui_server, tmp_path):
    wf = write_workflow(tmp_path, blank_workflow())
    out = cli("run", str(wf), "--server", comfyui_server.url, "--set", "1.width=0", cwd=tmp_path)
    assert out.returncode == 3
    assert "node 1 (EmptyImage) input width: value 0 is below the minimum 1" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_run_node_failure_exits_1_naming_node_and_class(comfyui_server, tmp_path):
    wf = write_workflow(tmp_path, blank_workflow())
    out = cli(
        "run",
        str(wf),
        "--server",
        comfyui_server.url,
        "--set",
        "Save.filename_prefix=../../../x",
        cwd=tmp_path,
    )
    assert out.returncode == 1
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("svd-suite: error: node 2 (SaveImage) failed: Exception:")


def test_run_image_without_loadimage_node_is_a_usage_error(comfyui_server, tmp_path, image):
    wf = write_workflow(tmp_path, blank_workflow())
    out = cli("run", str(wf), "--server", comfyui_server.url, "--image", str(image), cwd=tmp_path)
    assert out.returncode == 2 and "needs a LoadImage node" in out.stderr


def test_unreachable_server_exits_4(tmp_path):
    wf = write_workflow(tmp_path, blank_workflow())
    out = cli("run", str(wf), "--server", "http://127.0.0.1:9", cwd=tmp_path)
    assert out.returncode == 4 and "unreachable" in out.stderr


def test_ctrl_c_interrupts_the_prompt_on_the_server_and_exits_130(comfyui_server, tmp_path):
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 4, "color": next(_colors)},
        }
    }
    for i in range(60):
        prompt[str(i + 2)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i + 1), 0], "blur_radius": 15, "sigma": 1.0},
        }
    prompt["999"] = {"class_type": "PreviewImage", "inputs": {"images": ["61", 0]}}
    wf = write_workflow(tmp_path, prompt)
    process = subprocess.Popen(
        [*svd_suite_command(), "run", str(wf), "--server", comfyui_server.url, "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        prompt_id = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = json.loads(process.stdout.readline() or "{}")
            prompt_id = prompt_id or event.get("prompt_id")
            if event.get("event") == "executing" and event.get("node") == "3":
                break
        assert prompt_id, "the CLI never reported the prompt running"
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    entry = {}
    for _ in range(100):
        entry = (
            requests.get(f"{comfyui_server.url}/history/{prompt_id}", timeout=10).json().get(prompt_id, {})
        )
        if entry:
            break
        time.sleep(0.1)
    messages = [kind for kind, _ in entry["status"]["messages"]]
    assert "execution_interrupted" in messages


def test_timeout_exits_5_and_stops_the_prompt_on_the_server(comfyui_server, tmp_path):
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 4, "color": next(_colors)},
        }
    }
    for i in range(60):
        prompt[str(i + 2)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i + 1), 0], "blur_radius": 15, "sigma": 1.0},
        }
    prompt["999"] = {"class_type": "PreviewImage", "inputs": {"images": ["61", 0]}}
    wf = write_workflow(tmp_path, prompt)
    out = cli("run", str(wf), "--server", comfyui_server.url, "--timeout", "2", "--json", cwd=tmp_path)
    assert out.returncode == 5 and "did not finish within 2s" in out.stderr
    prompt_id = json.loads(out.stdout.splitlines()[0])["prompt_id"]
    entry = {}
    for _ in range(300):
        entry = (
            requests.get(f"{comfyui_server.url}/history/{prompt_id}", timeout=10).json().get(prompt_id, {})
        )
        if entry:
            break
        time.sleep(0.1)
    assert "execution_interrupted" in [kind for kind, _ in entry["status"]["messages"]]


def test_batch_resume_skips_finished_images(comfyui_server, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.new("RGB", (8, 8), (i * 100, 0, 0)).save(images / f"a{i}.png")
    wf = write_workflow(tmp_path, invert_workflow("cli/batch"))
    first = cli(
        "batch",
        str(wf),
        "--images",
        str(images),
        "--out",
        "out",
        "--server",
        comfyui_server.url,
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "done 2, skipped 0, failed 0"
    Image.new("RGB", (8, 8), (0, 0, 200)).save(images / "a2.png")
    second = cli(
        "batch",
        str(wf),
        "--images",
        str(images),
        "--out",
        "out",
        "--server",
        comfyui_server.url,
        "--resume",
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == "done 1, skipped 2, failed 0"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest["done"]) == ["a0.png", "a1.png", "a2.png"]
    done = [r["image"] for r in journal_records(tmp_path / "out") if r["event"] == "done"]
    assert sorted(done) == ["a0.png", "a1.png", "a2.png"]  # the first two were not redone


def test_batch_records_failures_and_exits_nonzero(comfyui_server, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8)).save(images / "only.png")
    wf = write_workflow(tmp_path, invert_workflow("../../../escape"))
    out = cli(
        "batch",
        str(wf),
        "--images",
        str(images),
        "--out",
        "out",
        "--server",
        comfyui_server.url,
        cwd=tmp_path,
    )
    assert out.returncode == 6
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "SaveImage" in manifest["failed"]["only.png"] and manifest["done"] == {}


def journal_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_bytes().splitlines()]


def done_lines(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b'"event": "done"')
    except FileNotFoundError:
        return 0


def test_batch_killed_again_and_again_resumes_without_redoing_or_duplicating(comfyui_server, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    # Enough images that every run is killed with work left: a warm server turns one around in
    # tens of milliseconds, so a short batch could end before the second kill.
    names = [f"k{i:02d}.png" for i in range(40)]
    for i, name in enumerate(names):
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(images / name)
    wf = write_workflow(tmp_path, invert_workflow("cli/killed"))
    out = tmp_path / "out"
    journal = out / "manifest.jsonl"
    command = [*svd_suite_command(), "batch", str(wf), "--images", str(images), "--out", str(out)]
    command += ["--server", comfyui_server.url, "--resume"]
    chance = random.Random(15)
    kills = 0
    for _ in range(8):
        before = done_lines(journal)
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while process.poll() is None and done_lines(journal) <= before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(chance.uniform(0.0, 0.05))
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)
    final = cli(
        "batch",
        str(wf),
        "--images",
        str(images),
        "--out",
        str(out),
        "--server",
        comfyui_server.url,
        "--resume",
        cwd=tmp_path,
    )
    assert final.returncode == 0, final.stderr
    assert kills >= 2, "the batch finished before it could be killed twice: nothing tested"
    done = [r["image"] for r in journal_records(out) if r["event"] == "done"]  # every line parses
    assert sorted(done) == names  # each image recorded exactly once: nothing recorded was redone
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == [Path(n).stem for n in names]  # no image has a second folder, no leftovers
    assert all(len(list((out / Path(n).stem).iterdir())) == 1 for n in names)
    summary = json.loads((out / "manifest.json").read_text())
    assert sorted(summary["done"]) == names and summary["failed"] == {}


def test_batch_set_of_an_input_the_node_lacks_fails_before_any_image(comfyui_server, tmp_path, image):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(image, images / "one.png")
    wf = write_workflow(tmp_path, invert_workflow("cli/typo"))
    out = cli(
        "batch",
        str(wf),
        "--images",
        str(images),
        "--out",
        "out",
        "--server",
        comfyui_server.url,
        "--set",
        "Invert.imagee=1",
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "node 2 (ImageInvert) has no input 'imagee' (did you mean 'image'?)" in out.stderr
    assert [p.name for p in (tmp_path / "out").iterdir() if p.is_dir()] == []


def test_run_set_of_an_input_the_node_lacks_fails_before_queueing(comfyui_server, tmp_path):
    wf = write_workflow(tmp_path, invert_workflow())
    history_before = len(requests.get(f"{comfyui_server.url}/history", timeout=30).json())
    for assignment, node, names in (
        ("3.bananna=7", "node 3 (SaveImage) has no input 'bananna'", {"images", "filename_prefix"}),
        ("Save.filename_prefx=x", "node 3 (SaveImage) has no input 'filename_prefx' (did you mean", None),
    ):
        out = cli("run", str(wf), "--server", comfyui_server.url, "--set", assignment, cwd=tmp_path)
        assert out.returncode == 2
        [line] = out.stderr.strip().splitlines()
        assert line.startswith(f"svd-suite: error: cannot set '{assignment}': {node}"), line
        listed = line.split("closest first: ")[1].split(", ")
        assert set(listed) == {"images", "filename_prefix"}
        if names is None:
            assert listed[0] == "filename_prefix"
    assert len(requests.get(f"{comfyui_server.url}/history", timeout=30).json()) == history_before


def test_run_survives_the_websocket_refused_for_eight_seconds_and_exits_0(comfyui_server, tmp_path):
    color = next(_colors)
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 2, "color": color},
        }
    }
    for i in range(4):  # a few seconds of work: it ends while the websocket is still refused
        prompt[str(i + 2)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i + 1), 0], "blur_radius": 15, "sigma": 1.0},
        }
    prompt["99"] = {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "cli/ws"}}
    wf = write_workflow(tmp_path, prompt)
    proxy = CuttableProxy(comfyui_server.port)
    process = subprocess.Popen(
        [*svd_suite_command(), "run", str(wf), "--server", proxy.url, "--out", "out", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events.append(json.loads(process.stdout.readline() or "{}"))
            if events[-1].get("event") == "executing" and events[-1].get("node") == "2":
                break
        proxy.refuse_websocket_for(8.0)  # the reconnect budget is 3.1 s
        rest, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
        assert proxy.refuse_websocket, "the websocket was back before the run ended: nothing tested"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        proxy.close()
    events += [json.loads(line) for line in rest.splitlines()]
    assert not any(e.get("event") == "executed" for e in events), "the prompt ended before the cut"
    summary = events[-1]
    assert summary["status"] == "success" and len(summary["outputs"]) == 2
    expected = ((color >> 16) & 255, (color >> 8) & 255, color & 255)
    for path in summary["outputs"]:
        picture = Image.open(tmp_path / path).convert("RGB")
        assert picture.size == (512, 512)
        assert all(abs(a - b) <= 1 for a, b in zip(picture.getpixel((100, 100)), expected, strict=True))


def test_img2vid_refuses_to_overwrite_existing_output(tmp_path, image):
    target = tmp_path / "video.mp4"
    target.write_bytes(b"keep me")
    out = cli("img2vid", str(image), "-o", str(target), "--server", "http://127.0.0.1:9", cwd=tmp_path)
    assert out.returncode == 2 and "--overwrite" in out.stderr
    assert target.read_bytes() == b"keep me"


def test_img2vid_option_the_engine_lacks_is_a_usage_error(tmp_path, image):
    out = cli(
        "img2vid",
        str(image),
        "-o",
        "v.mp4",
        "--engine",
        "fal",
        "--frames",
        "14",
        "--server",
        "http://127.0.0.1:9",
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "--frames is not available with --engine fal" in out.stderr


def test_installed_console_script_finds_the_bundled_workflows(tmp_path):
    out = cli("workflows", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = {Path(line).name: Path(line) for line in out.stdout.split()}
    for name in (
        "svd_img2vid.json",
        "svd_xt_img2vid.json",
        "remote_fal.json",
        "remote_replicate.json",
        "remote_segmind.json",
        "auto_engine.json",
    ):
        assert name in listed and json.loads(listed[name].read_text())


def test_built_wheel_contains_the_bundled_workflow_files(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT / "client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("svd_suite_client-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in sorted((REPO_ROOT / "workflows" / "api").glob("*.json")):
        assert f"svd_suite_client/workflows/{path.name}" in names


def test_img2vid_with_the_tiny_local_model_writes_a_video(comfyui_server, tmp_path, image):
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    missing = [
        n for n in ("SVDSuite_LoadModel", "SVDSuite_ImageToVideo", "SVDSuite_SaveVideo") if n not in info
    ]
    if missing:
        pytest.skip(f"node(s) not registered on the server yet: {', '.join(missing)}")
    target = tmp_path / "clip.mp4"
    out = cli(
        "img2vid",
        str(image),
        "-o",
        str(target),
        "--server",
        comfyui_server.url,
        "--model",
        "svd-tiny",
        "--frames",
        "2",
        "--steps",
        "1",
        "--width",
        "64",
        "--height",
        "64",
        "--fps",
        "4",
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(target)
    data = target.read_bytes()
    assert data[4:8] == b"ftyp"


@pytest.mark.parametrize(
    "engine, extra",
    [
        ("fal", ["--fps", "12", "--motion-bucket-id", "100"]),
        ("replicate", ["--frames", "14", "--fps", "6"]),
        ("segmind", ["--frames", "25", "--fps", "7"]),
    ],
)
def test_img2vid_remote_engines_write_a_video_via_the_fake_providers(
    comfyui_server, tmp_path, image, engine, extra
):
    node = {
        "fal": "SVDSuite_RemoteFal",
        "replicate": "SVDSuite_RemoteReplicate",
        "segmind": "SVDSuite_RemoteSegmind",
    }[engine]
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    missing = [n for n in (node, "SVDSuite_SaveVideo") if n not in info]
    if missing:
        pytest.skip(f"node(s) not registered on the server yet: {', '.join(missing)}")
    target = tmp_path / f"{engine}.mp4"
    out = cli(
        "img2vid",
        str(image),
        "-o",
        str(target),
        "--engine",
        engine,
        "--server",
        comfyui_server.url,
        *extra,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert target.read_bytes()[4:8] == b"ftyp"


def test_installed_client_is_this_checkout():
    import svd_suite_client

    installed = Path(svd_suite_client.__file__).parent
    source = REPO_ROOT / "client" / "svd_suite_client"
    if installed.resolve() == source.resolve():
        return  # imported straight from the checkout
    stale = [
        p.name
        for p in source.glob("*.py")
        if not (installed / p.name).is_file() or (installed / p.name).read_bytes() != p.read_bytes()
    ]
    assert not stale, f"installed svd_suite_client differs from the checkout ({stale}): pip install ./client"
