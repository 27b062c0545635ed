"""Remote nodes inside the REAL ComfyUI server, talking to the fake providers over loopback."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest
import requests
from PIL import Image

from dev.remote_nodes import NODE_INPUTS
from dev.run_workflow import run_workflow

pytestmark = pytest.mark.integration

PROVIDER_OF = {
    "SVDSuite_RemoteFal": "fal",
    "SVDSuite_RemoteReplicate": "replicate",
    "SVDSuite_RemoteSegmind": "segmind",
    "SVDSuite_RemoteSiliconFlow": "siliconflow",
}


def graph(node_type: str, **overrides) -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x3366AA},
        },
        "2": {"class_type": node_type, "inputs": {"image": ["1", 0], **NODE_INPUTS[node_type], **overrides}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


def interrupt_when(server, predicate):
    """POST /interrupt once `predicate()` holds (the fake has the job in progress)."""
    fake_seen = threading.Event()

    def watch():
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if predicate():
                fake_seen.set()
                requests.post(f"{server.url}/interrupt", json={}, timeout=10)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, fake_seen


@pytest.fixture
def fakes(fake_providers):
    fake_providers.reset()
    return fake_providers


@pytest.mark.parametrize("node_type", list(PROVIDER_OF))
def test_remote_node_returns_frames_and_shows_the_saved_video(comfyui_server, fakes, node_type):
    result = run_workflow(comfyui_server.url, graph(node_type), timeout=120)
    assert result.status == "execution_success", result.error
    (video,) = result.outputs["2"]["images"]
    saved = comfyui_server.output_dir / video["subfolder"] / video["filename"]
    assert saved.read_bytes() == fakes.video
    assert video["filename"].startswith(PROVIDER_OF[node_type] + "_") and video["format"] == "video/mp4"
    assert len(result.outputs["3"]["images"]) == 8  # the decoded frames reached PreviewImage
    states = [e["data"]["state"] for e in result.events if e.get("type") == "svd-suite.job-status"]
    assert states[0] == "submitted" and states[-1] == "done"


def test_interrupt_during_a_fal_job_sends_cancel(comfyui_server, fakes):
    fakes.fal.plan("hold")
    thread, seen = interrupt_when(comfyui_server, fakes.fal.has_running_job)
    result = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteFal"), timeout=120)
    thread.join(5)
    assert seen.is_set() and result.status == "execution_interrupted"
    (job_id,) = fakes.fal.jobs
    assert fakes.fal.wait_for(lambda: ("cancel", job_id) in fakes.fal.events, 10)


def test_interrupt_during_a_replicate_job_sends_cancel(comfyui_server, fakes):
    fakes.replicate.plan("hold")
    fake = fakes.replicate
    thread, seen = interrupt_when(comfyui_server, fake.has_running_job)
    result = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteReplicate"), timeout=120)
    thread.join(5)
    assert seen.is_set() and result.status == "execution_interrupted"
    (pid,) = fake.jobs
    assert fake.wait_for(lambda: bool(fake.seen("POST", f"/v1/predictions/{pid}/cancel")), 10)


def test_interrupt_during_a_segmind_request_aborts_it(comfyui_server, fakes):
    fakes.segmind.plan("hold")
    fake = fakes.segmind
    thread, seen = interrupt_when(comfyui_server, fake.has_running_job)
    result = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteSegmind"), timeout=120)
    thread.join(5)
    assert seen.is_set() and result.status == "execution_interrupted"
    assert fake.wait_for(lambda: any(kind == "disconnect" for kind, _ in fake.events), 10)


def test_auto_engine_falls_back_and_reports_skipped_and_failed_engines(comfyui_server, fakes):
    fakes.fal.plan("job_failed")
    result = run_workflow(
        comfyui_server.url, graph("SVDSuite_AutoImageToVideo", engines="local,fal,replicate"), timeout=120
    )
    assert result.status == "execution_success", result.error
    (summary,) = result.outputs["2"]["text"]
    assert "local: skipped" in summary and "fal: failed" in summary and "replicate: used" in summary
    assert result.outputs["2"]["images"][0]["filename"].startswith("replicate_")


def test_interrupt_during_the_auto_engine_never_falls_back(comfyui_server, fakes):
    fakes.fal.plan("hold")
    thread, seen = interrupt_when(comfyui_server, fakes.fal.has_running_job)
    result = run_workflow(
        comfyui_server.url, graph("SVDSuite_AutoImageToVideo", engines="fal,replicate"), timeout=120
    )
    thread.join(5)
    assert seen.is_set() and result.status == "execution_interrupted"
    assert fakes.replicate.seen() == []


def test_auto_engine_runs_locally_when_a_model_is_connected(comfyui_server, fakes):
    prompt = graph(
        "SVDSuite_AutoImageToVideo", engines="local,fal", num_frames=3, steps=2, seed=5, svd_model=["4", 0]
    )
    prompt["4"] = {
        "class_type": "SVDSuite_LoadModel",
        "inputs": {"model": "svd-tiny", "dtype": "auto", "offload": "auto"},
    }
    result = run_workflow(comfyui_server.url, prompt, timeout=240)
    assert result.status == "execution_success", result.error
    assert result.outputs["2"]["text"] == ["local: used"]
    assert len(result.outputs["3"]["images"]) == 3
    assert fakes.fal.seen() == []


def saved_frames(server, result, node_id: str) -> np.ndarray:
    items = result.outputs[node_id]["images"]
    paths = [server.output_dir / item["subfolder"] / item["filename"] for item in items]
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in paths])


def test_auto_engine_passes_resize_and_decode_chunk_size_to_the_local_path(comfyui_server, fakes):
    # A 2:1 image into 64x64: pad and crop condition on different pictures. Each auto node must
    # give what SVD Image to Video gives for the same inputs; left out, the inputs are crop and 8.
    name = f"auto-{uuid.uuid4().hex[:8]}.png"  # a new file: nothing of an earlier run is cached
    pixels = np.random.default_rng(7).integers(0, 256, (48, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(comfyui_server.input_dir / name)
    local = dict(NODE_INPUTS["SVDSuite_AutoImageToVideo"], engines="local", num_frames=6, seed=5)
    local.update(image=["1", 0], svd_model=["4", 0])
    i2v = {name: value for name, value in local.items() if name not in ("engines", "timeout_s")}
    asked = dict(resize="pad", decode_chunk_size=2)
    # id -> node; each saves its frames through SaveImage id+10.
    nodes = {
        "2": ("SVDSuite_AutoImageToVideo", dict(local, **asked)),
        "3": ("SVDSuite_ImageToVideo", dict(i2v, **asked)),
        "5": ("SVDSuite_AutoImageToVideo", local),
        "6": ("SVDSuite_ImageToVideo", dict(i2v, resize="crop", decode_chunk_size=8)),
    }
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": name}},
        "4": {"class_type": "SVDSuite_LoadModel", "inputs": {"model": "svd-tiny", "dtype": "auto", "offload": "auto"}},
    }  # fmt: skip
    for node_id, (class_type, inputs) in nodes.items():
        prompt[node_id] = {"class_type": class_type, "inputs": inputs}
        prefix = f"autotest/{uuid.uuid4().hex[:8]}"
        save = {"images": [node_id, 0], "filename_prefix": prefix}
        prompt[str(int(node_id) + 10)] = {"class_type": "SaveImage", "inputs": save}
    result = run_workflow(comfyui_server.url, prompt, timeout=300)
    assert result.status == "execution_success", result.error
    auto_pad, i2v_pad, auto_default, i2v_crop = (
        saved_frames(comfyui_server, result, str(int(node_id) + 10)) for node_id in nodes
    )
    assert np.array_equal(auto_pad, i2v_pad)
    assert np.array_equal(auto_default, i2v_crop)
    assert auto_pad.shape == auto_default.shape == (6, 64, 64, 3)
    assert not np.array_equal(auto_pad, auto_default)
    # The bar counts sampling steps, then decoded chunks: 6 frames are 3 chunks of 2, 1 of 8.
    totals = {e["data"]["node"]: e["data"]["max"] for e in result.events if e.get("type") == "progress"}
    assert (totals["2"], totals["5"]) == (2 + 3, 2 + 1)
    assert fakes.fal.seen() == []


def test_failed_job_is_reported_as_a_node_error_with_the_providers_message(comfyui_server, fakes):
    fakes.replicate.plan("job_failed")
    result = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteReplicate"), timeout=120)
    assert result.status == "execution_error"
    assert result.error["node_id"] == "2" and "CUDA out of memory" in result.error["exception_message"]


def test_keys_appear_nowhere_in_outputs_history_or_log(comfyui_server, fakes):
    fakes.fal.plan("echo_key")  # a gateway that echoes the Authorization header back
    failed = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteFal"), timeout=120)
    assert failed.status == "execution_error" and "***" in failed.error["exception_message"]
    history = requests.get(f"{comfyui_server.url}/history", timeout=30).text
    log = comfyui_server.log_text()
    assert "Rejected header: Key ***" in log  # the error did reach the log, redacted
    files = [p for p in comfyui_server.base.rglob("*") if p.is_file() and "models" not in p.parts]
    for key in fakes.keys:
        secret = key.split(":")[-1]
        assert secret not in history and secret not in log
        needle = secret.encode()
        leaked = [str(p) for p in files if needle in p.read_bytes()]
        assert not leaked, leaked


def test_siliconflow_text_to_video_runs_without_an_image(comfyui_server, fakes):
    inputs = {**NODE_INPUTS["SVDSuite_RemoteSiliconFlow"], "model": "Wan-AI/Wan2.2-T2V-A14B"}
    prompt = {
        "2": {"class_type": "SVDSuite_RemoteSiliconFlow", "inputs": inputs},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    result = run_workflow(comfyui_server.url, prompt, timeout=120)
    assert result.status == "execution_success", result.error
    assert result.outputs["2"]["images"][0]["filename"].startswith("siliconflow_")
    assert "image" not in fakes.siliconflow.seen("POST", "/v1/video/submit")[0].json


def test_siliconflow_image_to_video_without_an_image_names_the_input(comfyui_server, fakes):
    prompt = {
        "2": {"class_type": "SVDSuite_RemoteSiliconFlow", "inputs": NODE_INPUTS["SVDSuite_RemoteSiliconFlow"]}
    }
    result = run_workflow(comfyui_server.url, prompt, timeout=120)
    assert result.status == "execution_error"
    assert "image: Wan-AI/Wan2.2-I2V-A14B animates an image" in result.error["exception_message"]
    assert fakes.siliconflow.seen() == []


def test_siliconflow_failed_job_reports_its_reason(comfyui_server, fakes):
    fakes.siliconflow.plan("job_failed")
    result = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteSiliconFlow"), timeout=120)
    assert result.status == "execution_error"
    assert "content safety check" in result.error["exception_message"]


def test_interrupt_during_a_siliconflow_job_stops_without_a_cancel_call(comfyui_server, fakes):
    fake = fakes.siliconflow
    fake.plan("never")
    thread, seen = interrupt_when(comfyui_server, fake.has_running_job)
    result = run_workflow(comfyui_server.url, graph("SVDSuite_RemoteSiliconFlow"), timeout=120)
    thread.join(5)
    assert seen.is_set() and result.status == "execution_interrupted"
    assert all(r.path in ("/v1/video/submit", "/v1/video/status") for r in fake.seen())
    (job_id,) = fake.jobs
    assert f"so job {job_id} may still finish" in comfyui_server.log_text()
