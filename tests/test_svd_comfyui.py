"""The local SVD nodes inside the real ComfyUI server, checked against diffusers' pipeline.

Graph: LoadImage → Load SVD Model → SVD Conditioning → SVD Sampler → SVD Decode → SaveImage (core).
The PNGs ComfyUI writes are read back and compared with the pipeline's output_type="np" frames
(computed in this process on the same model folder) to within one 8-bit level.
"""

from __future__ import annotations

import shutil
import threading
import uuid

import numpy as np
import pytest
import requests
from PIL import Image
from support.svd_cases import Case, pipeline_frames, random_image

from dev.run_workflow import PromptRejected, output_files, run_workflow

MODEL = "svd-tiny"  # conftest links the tiny model at models/diffusers/svd-tiny
TIMEOUT = 240


def put_image(server, pil_image) -> str:
    name = f"svd-{uuid.uuid4().hex[:8]}.png"
    pil_image.save(server.input_dir / name)
    return name


def chain_prompt(image_name: str, case: Case, model: str = MODEL, **overrides) -> dict:
    cond = dict(
        svd_model=["2", 0],
        image=["1", 0],
        width=case.width,
        height=case.height,
        resize="crop",
        num_frames=case.num_frames,
        fps=case.fps,
        motion_bucket_id=case.motion_bucket_id,
        cond_aug=case.cond_aug,
    )
    cond.update(overrides)
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {
            "class_type": "SVDSuite_LoadModel",
            "inputs": {"model": model, "dtype": "auto", "offload": "auto", "decode_chunk_size": 0},
        },
        "3": {"class_type": "SVDSuite_Conditioning", "inputs": cond},
        "4": {
            "class_type": "SVDSuite_Sampler",
            "inputs": {
                "svd_model": ["2", 0],
                "conditioning": ["3", 0],
                "seed": case.seed,
                "steps": case.steps,
                "min_guidance_scale": case.min_guidance_scale,
                "max_guidance_scale": case.max_guidance_scale,
            },
        },
        "5": {
            "class_type": "SVDSuite_Decode",
            "inputs": {
                "svd_model": ["2", 0],
                "samples": ["4", 0],
                "decode_chunk_size": case.decode_chunk_size,
            },
        },
        "6": {
            "class_type": "SaveImage",
            "inputs": {"images": ["5", 0], "filename_prefix": f"svdtest/{uuid.uuid4().hex[:8]}"},
        },
    }


def saved_frames(server, result) -> np.ndarray:
    paths = output_files(result, server.output_dir, key="images")
    assert paths, result.outputs
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def assert_within_one_level(frames_u8: np.ndarray, expected: np.ndarray) -> None:
    assert frames_u8.shape == expected.shape
    diff = np.abs(frames_u8.astype(np.int32) - np.round(expected * 255).astype(np.int32))
    assert diff.max() <= 1, f"max 8-bit difference {diff.max()}"


SERVER_CASES = {
    "square_14_frames": Case(),
    "non_square": Case(width=128, height=64, num_frames=6, seed=5),
    "guidance_off": Case(max_guidance_scale=1.0, min_guidance_scale=1.0, num_frames=8, seed=6),
    "cond_aug_fps_motion": Case(cond_aug=0.25, fps=15, motion_bucket_id=30, num_frames=8, seed=8),
    "chunk_smaller_than_frames": Case(num_frames=10, decode_chunk_size=4, seed=9),
}


@pytest.mark.parametrize("name", list(SERVER_CASES))
def test_chain_in_real_comfyui_equals_the_pipeline(comfyui_server, tiny_svd_dir, name):
    case = SERVER_CASES[name]
    pil = random_image(case.width, case.height, seed=11)
    result = run_workflow(comfyui_server.url, chain_prompt(put_image(comfyui_server, pil), case), TIMEOUT)
    assert result.status == "execution_success", result.error
    assert_within_one_level(saved_frames(comfyui_server, result), pipeline_frames(tiny_svd_dir, pil, case))


def test_image_to_video_node_in_real_comfyui_equals_the_pipeline(comfyui_server, tiny_svd_dir):
    case = Case(num_frames=6, decode_chunk_size=3, seed=21)
    pil = random_image(64, 64, seed=12)
    params = dict(
        width=64,
        height=64,
        resize="crop",
        num_frames=case.num_frames,
        fps=7,
        motion_bucket_id=127,
        cond_aug=0.02,
        seed=case.seed,
        steps=case.steps,
        min_guidance_scale=1.0,
        max_guidance_scale=3.0,
        decode_chunk_size=case.decode_chunk_size,
    )
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": put_image(comfyui_server, pil)}},
        "2": {
            "class_type": "SVDSuite_LoadModel",
            "inputs": {"model": MODEL, "dtype": "auto", "offload": "auto"},
        },
        "3": {
            "class_type": "SVDSuite_ImageToVideo",
            "inputs": {"svd_model": ["2", 0], "image": ["1", 0], **params},
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "svdtest/i2v"}},
    }
    result = run_workflow(comfyui_server.url, prompt, TIMEOUT)
    assert result.status == "execution_success", result.error
    assert_within_one_level(saved_frames(comfyui_server, result), pipeline_frames(tiny_svd_dir, pil, case))


def test_sampler_reports_progress_to_the_frontend(comfyui_server):
    case = Case(num_frames=4, steps=3, seed=31)
    result = run_workflow(
        comfyui_server.url, chain_prompt(put_image(comfyui_server, random_image(64, 64)), case), TIMEOUT
    )
    assert result.status == "execution_success", result.error
    steps = [
        e["data"]["value"] for e in result.events if e["type"] == "progress" and e["data"]["node"] == "4"
    ]
    assert steps == [1, 2, 3]


def test_interrupt_stops_the_sampler_and_the_next_prompt_succeeds(comfyui_server, tiny_svd_dir):
    slow = Case(width=128, height=128, num_frames=14, steps=200, seed=41)
    prompt = chain_prompt(put_image(comfyui_server, random_image(128, 128)), slow)
    sent = threading.Event()

    def interrupt_once(event):
        data = event.get("data") or {}
        if event.get("type") == "progress" and data.get("node") == "4" and not sent.is_set():
            sent.set()
            requests.post(f"{comfyui_server.url}/interrupt", json={}, timeout=10)

    result = run_workflow(comfyui_server.url, prompt, TIMEOUT, on_event=interrupt_once)
    assert sent.is_set()
    assert result.status == "execution_interrupted", result.error
    assert result.event("execution_interrupted")["node_type"] == "SVDSuite_Sampler"
    reported = [
        e["data"]["value"] for e in result.events if e["type"] == "progress" and e["data"]["node"] == "4"
    ]
    assert max(reported) < slow.steps

    case = Case(num_frames=4, seed=42)
    pil = random_image(64, 64, seed=13)
    after = run_workflow(comfyui_server.url, chain_prompt(put_image(comfyui_server, pil), case), TIMEOUT)
    assert after.status == "execution_success", after.error
    assert_within_one_level(saved_frames(comfyui_server, after), pipeline_frames(tiny_svd_dir, pil, case))


def test_size_not_multiple_of_64_fails_in_the_node_with_a_clear_message(comfyui_server):
    prompt = chain_prompt(put_image(comfyui_server, random_image(64, 64)), Case(num_frames=4), width=100)
    result = run_workflow(comfyui_server.url, prompt, TIMEOUT)
    assert result.status == "execution_error"
    assert result.error["node_type"] == "SVDSuite_Conditioning"
    assert "width: 100" in result.error["exception_message"]
    assert "multiple of 64" in result.error["exception_message"]


def test_frames_out_of_range_is_rejected_at_queue_time(comfyui_server):
    prompt = chain_prompt("unused.png", Case(), num_frames=200)
    with pytest.raises(PromptRejected) as err:
        run_workflow(comfyui_server.url, prompt, 30)
    errors = err.value.body["node_errors"]["3"]["errors"]
    assert any(
        e["type"] == "value_bigger_than_max" and "num_frames" in e["message"] + str(e.get("details"))
        for e in errors
    )


def test_unknown_model_name_is_rejected_at_queue_time(comfyui_server):
    prompt = chain_prompt("unused.png", Case(), model="no-such-svd")
    with pytest.raises(PromptRejected) as err:
        run_workflow(comfyui_server.url, prompt, 30)
    assert err.value.body["node_errors"]["2"]["errors"][0]["type"] == "value_not_in_list"


def test_non_svd_folder_is_not_offered(comfyui_server):
    folder = comfyui_server.models_dir / "diffusers" / "sd15-not-svd"
    folder.mkdir(exist_ok=True)
    try:
        (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
        info = requests.get(f"{comfyui_server.url}/object_info/SVDSuite_LoadModel", timeout=30).json()
    finally:
        shutil.rmtree(folder)  # the server is shared with other test files
    choices = info["SVDSuite_LoadModel"]["input"]["required"]["model"][0]
    assert MODEL in choices and "sd15-not-svd" not in choices


def test_truncated_weights_fail_in_load_model_naming_the_file(comfyui_server, tiny_svd_dir):
    broken = comfyui_server.models_dir / "diffusers" / "svd-truncated"
    shutil.copytree(tiny_svd_dir, broken)
    try:
        weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100_000])
        image = put_image(comfyui_server, random_image(64, 64))
        prompt = chain_prompt(image, Case(num_frames=4), model="svd-truncated")
        result = run_workflow(comfyui_server.url, prompt, TIMEOUT)
    finally:
        shutil.rmtree(broken)  # the server is shared with other test files
    assert result.status == "execution_error"
    assert result.error["node_type"] == "SVDSuite_LoadModel"
    message = result.error["exception_message"]
    assert "truncated safetensors file" in message and "unet" in message and "svd-truncated" in message


EXPECTED_WIDGETS = {  # the node contract (public API): (default, min, max) per input
    "SVDSuite_Conditioning": {
        "width": (1024, 64, 2048),
        "height": (576, 64, 2048),
        "num_frames": (0, 0, 128),
        "fps": (7, 1, 60),
        "motion_bucket_id": (127, 1, 255),
        "cond_aug": (0.02, 0, 10),
    },
    "SVDSuite_Sampler": {
        "seed": (0, 0, 2**64 - 1),
        "steps": (25, 1, 200),
        "min_guidance_scale": (1.0, 0, 20),
        "max_guidance_scale": (3.0, 0, 20),
    },
    "SVDSuite_Decode": {"decode_chunk_size": (8, 1, 128)},
}


def test_node_inputs_follow_the_design_contract(comfyui_server):
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    for node, widgets in EXPECTED_WIDGETS.items():
        required = info[node]["input"]["required"]
        for name, (default, low, high) in widgets.items():
            options = required[name][1]
            assert (options["default"], options["min"], options["max"]) == (default, low, high), (node, name)
            assert options.get("tooltip"), (node, name)
    assert info["SVDSuite_Conditioning"]["input"]["required"]["resize"][0] == [
        "crop",
        "pad",
        "stretch",
        "keep",
    ]
    assert info["SVDSuite_LoadModel"]["input"]["required"]["dtype"][0] == ["auto", "fp32", "fp16", "bf16"]
    assert info["SVDSuite_LoadModel"]["input"]["required"]["offload"][0] == [
        "auto",
        "none",
        "model",
        "sequential",
    ]
    assert info["SVDSuite_Decode"]["output"] == ["IMAGE", "FLOAT"]
    assert set(info["SVDSuite_ImageToVideo"]["input"]["required"]) >= {
        "svd_model",
        "image",
        "seed",
        "cond_aug",
        "decode_chunk_size",
        "resize",
    }
