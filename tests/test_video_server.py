"""Save Video / Load Video Frames through the real ComfyUI server (API prompts over HTTP + ws)."""

from __future__ import annotations

import json
import shutil
import uuid
from fractions import Fraction

import pytest
import requests
import torch
from support.video_charts import count_and_rate, pillow_count_and_durations

from dev.pack import load_pack
from dev.run_workflow import output_files, run_workflow

load_pack()
from svd_suite.nodes.video.decode import probe_video  # noqa: E402
from svd_suite.nodes.video.save import save_video  # noqa: E402

SECRET = "sk-live-0a1b2c3d4e5f6789"


def gradient(frames: int, height: int, width: int) -> torch.Tensor:
    x = torch.linspace(0, 1, width)[None, None, :, None].expand(frames, height, width, 1)
    t = torch.linspace(0, 1, frames)[:, None, None, None].expand(frames, height, width, 1)
    y = torch.linspace(0, 1, height)[None, :, None, None].expand(frames, height, width, 1)
    return torch.cat([(x + t) % 1, y, 1 - x], dim=-1).contiguous()


def put_input_clip(server, frames: int, fps: float, height: int = 47, width: int = 63) -> str:
    """Write a clip into the server's input folder (yuv444p crf 0 keeps odd sizes and pixels)."""
    saved = save_video(gradient(frames, height, width), fps, pix_fmt="yuv444p", crf=0,
                       filename_prefix=f"src_{uuid.uuid4().hex[:8]}", output_dir=str(server.input_dir))  # fmt: skip
    return saved.filename


def load_video(name: str, **selection) -> dict:
    inputs = {"video": name, "frame_cap": 0, "skip_first": 0, "every_nth": 1, **selection}
    return {"class_type": "SVDSuite_LoadVideo", "inputs": inputs}


def save_node(images, fps, prefix: str, **overrides) -> dict:
    inputs = {"images": images, "fps": fps, "format": "mp4-h264", "crf": 19, "pix_fmt": "yuv420p",
              "loop_count": 0, "pingpong": False, "filename_prefix": prefix, "save_metadata": True}  # fmt: skip
    inputs.update(overrides)
    return {"class_type": "SVDSuite_SaveVideo", "inputs": inputs}


def empty_image(color: int, batch: int = 3) -> dict:
    return {
        "class_type": "EmptyImage",
        "inputs": {"width": 64, "height": 48, "batch_size": batch, "color": color},
    }


def unique_prefix() -> str:
    return f"svdtest/{uuid.uuid4().hex[:10]}/clip"


def run_ok(server, prompt):
    result = run_workflow(server.url, prompt, timeout=180)
    assert result.status == "execution_success", result.error
    return result


@pytest.mark.parametrize(
    "fmt, size",
    [
        ("mp4-h264", (64, 48)),
        ("mp4-h265", (64, 48)),
        ("webm-vp9", (64, 48)),
        ("gif", (63, 47)),
        ("webp", (63, 47)),
    ],
)
def test_every_video_format_keeps_frames_fps_and_size(comfyui_server, fmt, size):
    source = put_input_clip(comfyui_server, 6, 7)
    prompt = {"1": load_video(source), "2": save_node(["1", 0], ["1", 1], unique_prefix(), format=fmt)}
    [path] = output_files(run_ok(comfyui_server, prompt), comfyui_server.output_dir)
    if fmt in ("gif", "webp"):
        count, durations, got_size = pillow_count_and_durations(path)
        assert (count, got_size) == (6, size)
        assert probe_video(path)["fps"] == Fraction(7)
    else:
        frames, rate, width, height = count_and_rate(path)
        assert (frames, rate, (width, height)) == (6, Fraction(7), size)  # odd 63x47 padded for 4:2:0


def test_png_frames_writes_every_frame_and_previews_the_first(comfyui_server):
    source = put_input_clip(comfyui_server, 5, 7)
    prefix = unique_prefix()
    prompt = {"1": load_video(source), "2": save_node(["1", 0], ["1", 1], prefix, format="png-frames")}
    result = run_ok(comfyui_server, prompt)
    [preview] = output_files(result, comfyui_server.output_dir)
    assert preview.name == "frame_00001.png"
    assert len(list(preview.parent.glob("frame_*.png"))) == 5


def test_load_then_save_keeps_frame_count_and_ntsc_fps(comfyui_server):
    source = put_input_clip(comfyui_server, 12, 29.97)
    prompt = {"1": load_video(source), "2": save_node(["1", 0], ["1", 1], unique_prefix())}
    [path] = output_files(run_ok(comfyui_server, prompt), comfyui_server.output_dir)
    frames, rate, _, _ = count_and_rate(path)
    assert (frames, rate) == (12, Fraction(30000, 1001))


def test_history_carries_the_video_preview_comfyui_plays(comfyui_server):
    prompt = {"1": empty_image(0x3366CC), "2": save_node(["1", 0], 7.0, unique_prefix())}
    output = run_ok(comfyui_server, prompt).outputs["2"]
    [entry] = output["images"]
    assert output["animated"] == [True]
    assert (
        entry["type"] == "output"
        and entry["format"] == "video/mp4"
        and entry["filename"].endswith("_00001.mp4")
    )
    view = requests.get(f"{comfyui_server.url}/view", params={k: entry[k] for k in ("filename", "subfolder", "type")},
                        timeout=10)  # fmt: skip
    assert view.status_code == 200 and view.content[4:8] == b"ftyp"


def test_repeated_runs_write_new_files_and_leave_the_first_unchanged(comfyui_server):
    prefix = unique_prefix()
    first = output_files(run_ok(comfyui_server, {"1": empty_image(0xFF0000), "2": save_node(["1", 0], 7.0, prefix)}),
                         comfyui_server.output_dir)[0]  # fmt: skip
    before = first.read_bytes()
    second = output_files(run_ok(comfyui_server, {"1": empty_image(0x00FF00), "2": save_node(["1", 0], 7.0, prefix)}),
                          comfyui_server.output_dir)[0]  # fmt: skip
    assert (first.name, second.name) == ("clip_00001.mp4", "clip_00002.mp4")
    assert first.read_bytes() == before


def test_prefix_escaping_the_output_folder_fails_with_a_clear_error(comfyui_server):
    prompt = {"1": empty_image(0), "2": save_node(["1", 0], 7.0, "../../evil")}
    result = run_workflow(comfyui_server.url, prompt, timeout=120)
    assert result.status == "execution_error"
    assert result.error["node_type"] == "SVDSuite_SaveVideo"
    assert "filename_prefix" in result.error["exception_message"]
    assert not list(comfyui_server.base.parent.rglob("evil*"))


def test_prompt_is_embedded_without_secret_inputs(comfyui_server):
    prompt = {"1": empty_image(0x808080), "2": save_node(["1", 0], 7.0, unique_prefix())}
    prompt["1"]["inputs"]["api_key"] = SECRET  # ComfyUI keeps unknown inputs in the hidden PROMPT
    [path] = output_files(run_ok(comfyui_server, prompt), comfyui_server.output_dir)
    embedded = json.loads(probe_video(path)["tags"]["prompt"])
    assert embedded["2"]["class_type"] == "SVDSuite_SaveVideo" and "api_key" not in embedded["1"]["inputs"]
    assert SECRET.encode() not in path.read_bytes()


def test_load_video_refuses_a_file_that_is_not_a_video(comfyui_server):
    name = f"notvideo_{uuid.uuid4().hex[:6]}.mp4"
    (comfyui_server.input_dir / name).write_bytes(b"definitely not a video " * 50)
    result = run_workflow(comfyui_server.url, {"1": load_video(name), "2": save_node(["1", 0], 7.0, unique_prefix())},
                          timeout=120)  # fmt: skip
    assert result.status == "execution_error"
    assert name in result.error["exception_message"]


def test_load_video_offers_upload_and_lists_input_videos(comfyui_server, tmp_path):
    saved = save_video(gradient(2, 16, 16), 7, output_dir=str(tmp_path), filename_prefix="listed")
    shutil.copy(saved.path, comfyui_server.input_dir / "listed_clip.mp4")
    info = requests.get(f"{comfyui_server.url}/object_info/SVDSuite_LoadVideo", timeout=10).json()
    choices, options = info["SVDSuite_LoadVideo"]["input"]["required"]["video"]
    assert options.get("video_upload") is True
    assert "listed_clip.mp4" in choices
