"""ComfyUI's model management accounts for our SVD weights, makes room for them, evicts and frees them.

Both supported ComfyUI versions (0.3.75, 0.33.0), two views:
- in-process: tests/support/model_management_probe.py runs the pack against that ComfyUI's
  comfy.model_management in its own Python (never inside pytest, where the pack must use its
  fallbacks). No GPU here: the device "cpu:0" plays the accelerator, for which ComfyUI runs its
  real make-room and eviction code while the tensors stay in RAM;
- a real server: POST /free {"unload_models": true, "free_memory": true} (the UI's "Free model
  and node cache") makes the server's RSS fall by about the model's weights, and the next run
  loads them again and makes the same frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from support.svd_cases import random_image

from dev.comfyui import prepare_base, start_comfyui
from dev.run_workflow import output_files, run_workflow
from dev.tiny_svd import save_tiny_svd

PROBE = Path(__file__).resolve().parent / "support" / "model_management_probe.py"
COMPONENTS = {
    "SVDSuiteUNetSpatioTemporalConditionModel",
    "SVDSuiteAutoencoderKLTemporalDecoder",
    "SVDSuiteCLIPVisionModelWithProjection",
}
COMFYUI_OWN = "Linear"  # the probe's stand-in for one of ComfyUI's own models
TIMEOUT = 240


@pytest.fixture(scope="module")
def probe(comfyui_install, tiny_svd_dir) -> dict:
    """What the probe saw, once per ComfyUI version."""
    done = subprocess.run(
        [str(comfyui_install.python), str(PROBE), str(comfyui_install.main.parent), str(tiny_svd_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    return json.loads(lines[-1][len("PROBE ") :])


def test_loaded_components_show_in_comfyui_accounting_with_their_sizes(probe):
    assert probe["manages_models"] is True
    accounted = {entry["name"]: entry for entry in probe["accounted"]}
    assert COMPONENTS <= set(accounted)
    for component, weight_bytes in probe["weight_bytes"].items():
        entry = accounted[f"SVDSuite{component}"]
        assert entry["bytes"] == weight_bytes > 0
        assert entry["device"] == "cpu:0"


def test_comfyui_evicts_its_idle_model_to_make_room_for_our_stage(probe):
    assert COMFYUI_OWN in probe["after_run"]
    assert COMFYUI_OWN not in probe["after_run_needing_room"]
    assert "SVDSuiteUNetSpatioTemporalConditionModel" in probe["after_run_needing_room"]
    assert probe["diff_after_making_room"] == 0.0


def test_comfyui_evicts_ours_when_it_needs_room_and_the_next_run_loads_them_again(probe):
    assert probe["after_comfyui_needed_room"] == [COMFYUI_OWN]
    assert probe["unet_device_after_eviction"] == "cpu"  # back on the offload device
    assert COMPONENTS <= set(probe["after_reload"])
    assert probe["diff_after_reload"] == 0.0


def test_unloading_everything_reaches_our_components(probe):
    assert probe["after_unload_all"] == []


def test_model_offload_loads_each_component_only_while_its_stage_runs(probe):
    assert probe["model_policy_after_load"] == []
    assert probe["model_policy_during_unet"] == ["SVDSuiteUNetSpatioTemporalConditionModel"]
    assert probe["model_policy_after_run"] == []
    assert probe["diff_model_policy"] == 0.0


def test_sequential_offload_hands_no_weights_over_but_still_gets_room(probe):
    assert probe["sequential_handles"] == 0
    assert probe["sequential_after_run_needing_room"] == []  # ComfyUI's idle model was evicted
    assert probe["diff_sequential"] == 0.0


def test_a_comfyui_that_refuses_our_components_leaves_placement_to_us(probe):
    assert probe["refused_handles"] == 0
    assert probe["diff_refused"] == 0.0


# --------------------------------------------------------------------------- POST /free


@pytest.fixture(scope="module")
def big_svd_dir(tmp_path_factory) -> Path:
    """A tiny SVD with a 308 MiB (fp32) UNet, so freeing it stands out of the RSS noise."""
    return save_tiny_svd(tmp_path_factory.mktemp("big") / "svd-big", variant="big_unet")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def rss_after_falling(pid: int, target: int, timeout: float = 30.0) -> int:
    """The RSS once it is at or below `target`, or the last one read when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    rss = rss_bytes(pid)
    while rss > target and time.monotonic() < deadline:
        time.sleep(0.2)
        rss = rss_bytes(pid)
    return rss


def image_to_video_prompt(image_name: str) -> dict:
    # bf16 from an fp32 file: the weights are converted copies on the C heap (not the file's
    # memory map), the case where freeing them needs malloc_trim to show in RSS.
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {
            "class_type": "SVDSuite_LoadModel",
            "inputs": {"model": "svd-big", "dtype": "bf16", "offload": "auto", "decode_chunk_size": 0},
        },
        "3": {
            "class_type": "SVDSuite_ImageToVideo",
            "inputs": dict(
                svd_model=["2", 0],
                image=["1", 0],
                width=64,
                height=64,
                resize="crop",
                num_frames=2,
                fps=7,
                motion_bucket_id=127,
                cond_aug=0.02,
                seed=5,
                steps=1,
                min_guidance_scale=1.0,
                max_guidance_scale=3.0,
                decode_chunk_size=2,
            ),
        },
        "4": {
            "class_type": "SaveImage",
            "inputs": {"images": ["3", 0], "filename_prefix": f"free/{uuid.uuid4().hex[:8]}"},
        },
    }


def run_frames(server, image_name: str) -> np.ndarray:
    result = run_workflow(server.url, image_to_video_prompt(image_name), TIMEOUT)
    assert result.status == "execution_success", (result.error, server.log_text()[-3000:])
    paths = output_files(result, server.output_dir, key="images")
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths]).astype(np.int32)


def test_free_releases_our_weights_and_the_next_run_loads_them_again(comfyui_install, big_svd_dir, tmp_path):
    unet_file = big_svd_dir / "unet" / "diffusion_pytorch_model.safetensors"
    unet_bytes_bf16 = os.path.getsize(unet_file) // 2
    base = prepare_base(tmp_path / "comfyui", {"diffusers/svd-big": big_svd_dir})
    server = start_comfyui(base, install=comfyui_install)
    try:
        image_name = "free-test.png"
        random_image(64, 64, seed=21).save(server.input_dir / image_name)
        first = run_frames(server, image_name)
        time.sleep(1.0)
        loaded = rss_bytes(server.process.pid)

        answer = requests.post(
            f"{server.url}/free", json={"unload_models": True, "free_memory": True}, timeout=30
        )
        assert answer.status_code == 200
        freed = loaded - rss_after_falling(server.process.pid, loaded - unet_bytes_bf16)
        assert freed >= 0.7 * unet_bytes_bf16, (
            f"RSS fell by {freed / 2**20:.0f} MiB after /free; the UNet alone is "
            f"{unet_bytes_bf16 / 2**20:.0f} MiB"
        )

        again = run_frames(server, image_name)
        assert again.shape == first.shape
        assert np.abs(again - first).max() <= 1  # reloaded weights, same frames (8-bit files)
    finally:
        server.stop()
