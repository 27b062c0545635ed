"""save_video without ComfyUI: formats, exact fps, colour, naming, atomicity, metadata, streaming."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import pytest
import torch
from support.video_charts import (
    chart_frames,
    count_and_rate,
    decode_first_frame_bt709,
    patch_errors,
    pillow_count_and_durations,
)

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.video import encode  # noqa: E402
from svd_suite.nodes.video.decode import probe_video  # noqa: E402
from svd_suite.nodes.video.formats import fps_fraction, frame_delays  # noqa: E402
from svd_suite.nodes.video.save import save_video  # noqa: E402
from svd_suite.nodes.video.saved import SavedVideo, preview_payload  # noqa: E402

SECRET = "sk-live-9f8e7d6c5b4a"


def gradient(frames: int, height: int, width: int) -> torch.Tensor:
    x = torch.linspace(0, 1, width)[None, None, :, None].expand(frames, height, width, 1)
    y = torch.linspace(0, 1, height)[None, :, None, None].expand(frames, height, width, 1)
    t = torch.linspace(0, 1, frames)[:, None, None, None].expand(frames, height, width, 1)
    return torch.cat([(x + t) % 1, y, (x * y + t) % 1], dim=-1).contiguous()


def leftovers(folder) -> list[str]:
    return sorted(name for _, _, files in os.walk(folder) for name in files) + sorted(
        name for _, dirs, _ in os.walk(folder) for name in dirs if name != "svd"
    )


# --------------------------------------------------------------------------- fps


@pytest.mark.parametrize(
    "fps, expected",
    [(29.97, Fraction(30000, 1001)), (23.976, Fraction(24000, 1001)), (59.94, Fraction(60000, 1001)),
     (7.0, Fraction(7)), (12.5, Fraction(25, 2)), (30.0, Fraction(30)), (0.01, Fraction(1, 100))],
)  # fmt: skip
def test_float_fps_maps_to_the_exact_rate_it_stands_for(fps, expected):
    assert fps_fraction(fps) == expected


def test_gif_delays_alternate_so_the_total_duration_is_exact():
    delays = frame_delays(7, Fraction(7), 100)
    assert sum(delays) == 100 and set(delays) == {14, 15}


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["mp4-h264", "mp4-h265", "webm-vp9"])
def test_video_formats_keep_frame_count_fps_and_pad_odd_sizes(tmp_path, fmt):
    saved = save_video(gradient(9, 47, 63), 29.97, format=fmt, output_dir=str(tmp_path))
    frames, rate, width, height = count_and_rate(saved.path)
    assert (frames, rate) == (9, Fraction(30000, 1001))
    assert (width, height) == (64, 48) == (saved.width, saved.height)
    assert any("padded 63x47 to 64x48" in note for note in saved.notes)


@pytest.mark.parametrize("fmt", ["mp4-h264", "mp4-h265", "webm-vp9", "gif"])
def test_one_and_two_frame_clips_save_reliably(tmp_path, fmt):
    # libx265 gave 1–2 frame clips broken timestamps about half the time before B-frames were
    # turned off for them: six tries make a regression very likely to show.
    for frames in (1, 2) * 3:
        saved = save_video(gradient(frames, 16, 64), 7, format=fmt, output_dir=str(tmp_path))
        assert probe_video(saved.path)["frame_count"] == frames


def test_odd_size_padding_repeats_the_last_row_and_column(tmp_path):
    import av

    saved = save_video(gradient(1, 47, 63), 7, crf=0, output_dir=str(tmp_path))  # crf 0: luma is lossless
    with av.open(saved.path) as container:
        luma = next(container.decode(video=0)).to_ndarray()[:48]  # yuv420p rows: Y first
    assert (luma[47] == luma[46]).all() and (luma[:, 63] == luma[:, 62]).all()
    assert not (luma[:, 62] == luma[:, 61]).all()  # a real gradient, so the check can fail


def test_yuv444p_keeps_odd_sizes_unpadded(tmp_path):
    saved = save_video(gradient(3, 47, 63), 7, pix_fmt="yuv444p", output_dir=str(tmp_path))
    assert count_and_rate(saved.path)[2:] == (63, 47) and not saved.notes


@pytest.mark.parametrize("fmt, unit", [("gif", 10), ("webp", 1)])
def test_animated_images_keep_frame_count_size_and_fps(tmp_path, fmt, unit):
    saved = save_video(gradient(10, 47, 63), 7, format=fmt, output_dir=str(tmp_path), loop_count=0)
    count, durations, size = pillow_count_and_durations(saved.path)
    assert (count, size) == (10, (63, 47))
    assert all(d % unit == 0 for d in durations)
    assert abs(count * 1000 / sum(durations) - 7) < 0.05
    assert probe_video(saved.path)["fps"] == Fraction(7)


def test_png_frames_writes_a_numbered_folder_and_previews_its_first_frame(tmp_path):
    saved = save_video(gradient(4, 20, 30), 7, format="png-frames", output_dir=str(tmp_path))
    assert sorted(os.listdir(saved.path)) == [f"frame_{i:05d}.png" for i in range(1, 5)]
    entry = preview_payload(saved)["images"][0]
    assert (entry["subfolder"], entry["filename"]) == ("svd/video_00001", "frame_00001.png")


def test_pingpong_and_loops_repeat_frames_without_the_end_frames_twice(tmp_path):
    saved = save_video(gradient(5, 16, 16), 7, pingpong=True, loop_count=1, output_dir=str(tmp_path))
    assert saved.frame_count == count_and_rate(saved.path)[0] == (5 + 3) * 2


def test_preview_payload_has_comfyui_savevideo_shape(tmp_path):
    saved = save_video(gradient(2, 16, 16), 7, output_dir=str(tmp_path))
    assert preview_payload(saved) == {
        "images": [
            {"filename": "video_00001.mp4", "subfolder": "svd", "type": "output", "format": "video/mp4"}
        ],
        "animated": [True],
    }


def test_a_providers_file_previews_like_a_saved_video():
    remote = SavedVideo("/out/svd-remote/fal_00001.webm", "fal_00001.webm", "svd-remote", "video/webm")
    assert preview_payload(remote) == {
        "images": [
            {"filename": "fal_00001.webm", "subfolder": "svd-remote", "type": "output", "format": "video/webm"}
        ],
        "animated": [True],
    }


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize(
    "pix_fmt, crf, limit", [("yuv444p", 0, 2.0), ("yuv420p", 19, 4.0), ("yuv420p10le", 19, 4.0)]
)
def test_colour_chart_survives_a_bt709_decode(tmp_path, pix_fmt, crf, limit):
    saved = save_video(chart_frames(), 7, pix_fmt=pix_fmt, crf=crf, output_dir=str(tmp_path))
    errors = patch_errors(decode_first_frame_bt709(saved.path))
    assert max(errors) <= limit, errors


@pytest.mark.parametrize("fmt", ["mp4-h264", "mp4-h265", "webm-vp9"])
def test_streams_are_tagged_bt709_limited_range(tmp_path, fmt):
    info = probe_video(save_video(chart_frames(2), 7, format=fmt, output_dir=str(tmp_path)).path)
    assert (info["color_primaries"], info["color_trc"], info["colorspace"], info["color_range"]) == (
        1,
        1,
        1,
        1,
    )


# --------------------------------------------------------------------------- naming and atomicity


def test_second_save_gets_the_next_number_and_leaves_the_first_untouched(tmp_path):
    first = save_video(gradient(3, 16, 16), 7, output_dir=str(tmp_path))
    before = open(first.path, "rb").read()
    second = save_video(gradient(3, 16, 16) * 0.5, 7, output_dir=str(tmp_path))
    assert (first.filename, second.filename) == ("video_00001.mp4", "video_00002.mp4")
    assert open(first.path, "rb").read() == before


def test_counter_goes_past_the_highest_existing_number(tmp_path):
    (tmp_path / "svd").mkdir()
    (tmp_path / "svd" / "video_00041.webm").write_bytes(b"x")
    assert save_video(gradient(2, 16, 16), 7, output_dir=str(tmp_path)).filename == "video_00042.mp4"


@pytest.mark.parametrize("prefix", ["../../evil", "/etc/evil", "svd/../../evil", "..\\evil"])
def test_prefix_escaping_the_output_folder_is_refused(tmp_path, prefix):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="filename_prefix"):
        save_video(gradient(2, 16, 16), 7, filename_prefix=prefix, output_dir=str(out))
    assert not any(tmp_path.rglob("*evil*"))


def test_prefix_through_a_symlink_pointing_outside_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ValueError, match="filename_prefix"):
        save_video(gradient(2, 16, 16), 7, filename_prefix="link/clip", output_dir=str(tmp_path / "out"))
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_interrupt_inside_the_streaming_loop_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(encode, "MAX_CHUNK_FRAMES", 2)

    def interrupt_after_first_chunk(done, total):
        comfy.request_interrupt(True)

    try:
        with pytest.raises(comfy.SVDSuiteInterrupted):
            save_video(
                gradient(8, 16, 16), 7, output_dir=str(tmp_path), on_progress=interrupt_after_first_chunk
            )
    finally:
        comfy.request_interrupt(False)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["mp4-h264", "gif", "webp", "png-frames"])
def test_error_mid_encode_leaves_no_final_and_no_temp_file(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(encode, "MAX_CHUNK_FRAMES", 2)

    def fail_on_second_chunk(done, total):
        if done >= 4:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_video(
            gradient(8, 16, 16), 7, format=fmt, output_dir=str(tmp_path), on_progress=fail_on_second_chunk
        )
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, names",
    [({"fps": 0}, "fps"), ({"fps": 121}, "fps"), ({"crf": 52}, "crf"), ({"format": "avi"}, "format"),
     ({"format": "webm-vp9", "pix_fmt": "yuv420p10le"}, "pix_fmt"), ({"loop_count": -1}, "loop_count"),
     ({"format": "mp4-h265"}, "64 pixels wide")],
)  # fmt: skip
def test_bad_inputs_are_refused_by_name_before_writing(tmp_path, kwargs, names):
    args = {"fps": 7, **kwargs}
    with pytest.raises(ValueError, match=names):
        save_video(gradient(2, 16, 16), output_dir=str(tmp_path), **args)
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- metadata


def fake_metadata():
    prompt = {
        "1": {"class_type": "SVDSuite_RemoteFal", "inputs": {"api_key": SECRET, "fps": 7}},
        "2": {"class_type": "SVDSuite_SaveVideo", "inputs": {"filename_prefix": "svd/video"}},
    }
    workflow = {
        "nodes": [
            {"id": 1, "type": "SVDSuite_RemoteFal", "widgets_values": [SECRET, 7],
             "inputs": [{"name": "api_key", "type": "STRING", "widget": {"name": "api_key"}, "link": None},
                        {"name": "fps", "type": "FLOAT", "widget": {"name": "fps"}, "link": None}]},
            {"id": 3, "type": "Note", "widgets_values": [f"my key is {SECRET}"]},
        ]
    }  # fmt: skip
    return {"prompt": prompt, "workflow": workflow}


@pytest.mark.parametrize("fmt", ["mp4-h264", "webm-vp9", "webp", "png-frames"])
def test_prompt_is_embedded_and_readable_back(tmp_path, fmt):
    saved = save_video(gradient(2, 16, 16), 7, format=fmt, metadata=fake_metadata(), output_dir=str(tmp_path))
    path = os.path.join(saved.path, "frame_00001.png") if fmt == "png-frames" else saved.path
    if fmt in ("mp4-h264", "webm-vp9"):
        prompt = json.loads(probe_video(path)["tags"]["prompt"])
    else:
        from PIL import Image

        with Image.open(path) as image:
            text = image.info.get("prompt") or image.getexif().get(0x0110, "").removeprefix("prompt:")
        prompt = json.loads(text)
    assert prompt["2"]["class_type"] == "SVDSuite_SaveVideo"
    assert prompt["1"]["inputs"] == {"fps": 7}


@pytest.mark.parametrize("fmt", ["mp4-h264", "webm-vp9", "webp", "png-frames"])
def test_secret_inputs_never_reach_the_file_bytes(tmp_path, fmt):
    saved = save_video(gradient(2, 16, 16), 7, format=fmt, metadata=fake_metadata(), output_dir=str(tmp_path))
    paths = (
        [os.path.join(saved.path, n) for n in os.listdir(saved.path)] if fmt == "png-frames" else [saved.path]
    )
    data = b"".join(open(p, "rb").read() for p in paths)
    assert b"workflow" in data.lower() and SECRET.encode() not in data  # matroska upper-cases tag names


# --------------------------------------------------------------------------- streaming


def test_encoder_converts_frames_chunk_by_chunk(tmp_path, monkeypatch):
    seen = []

    class Spy(encode.RgbQuantiser):
        def __call__(self, chunk):
            converted = super().__call__(chunk)
            seen.append(int(converted.shape[0]))
            return converted

    monkeypatch.setattr(encode, "RgbQuantiser", Spy)
    monkeypatch.setattr(encode, "MAX_CHUNK_FRAMES", 4)
    save_video(gradient(10, 16, 16), 7, pingpong=True, output_dir=str(tmp_path))
    assert max(seen) <= 4 and sum(seen) == 10 + 8 and len(seen) >= 5


def test_swscale_gets_the_bt709_limited_range_matrix(pack):
    import numpy as np
    from svd_suite.nodes.video.colour import yuv_frame

    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    luma = yuv_frame(rgb, "yuv444p").to_ndarray()[0].astype(float)
    r, g, b = (rgb[..., i] / 255 for i in range(3))
    expected = 16 + 219 * (0.2126 * r + 0.7152 * g + 0.0722 * b)  # ITU-R BT.709-6, limited range
    assert np.abs(luma - expected).max() <= 1.0


def test_forward_chunks_are_views_of_the_input_not_copies():
    images = gradient(6, 8, 8)
    chunks = list(encode.iter_chunks(images, encode.frame_order(6), 4))
    assert all(chunk.untyped_storage().data_ptr() == images.untyped_storage().data_ptr() for chunk in chunks)
