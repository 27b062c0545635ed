"""read_video / probe_video without ComfyUI: every format back to frames, selection, errors."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from support.video_charts import CHART, PATCH, chart_frames

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.video import decode  # noqa: E402
from svd_suite.nodes.video.decode import probe_video, read_video, simplest_fraction_between  # noqa: E402
from svd_suite.nodes.video.save import save_video  # noqa: E402


def numbered(frames: int, height: int = 32, width: int = 64) -> torch.Tensor:
    """Frames whose brightness encodes their index, so selection can be checked after decoding."""
    levels = torch.linspace(0.1, 0.9, frames)
    return levels[:, None, None, None].expand(frames, height, width, 3).contiguous()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """12 frames at 29.97 fps, mp4."""
    out = tmp_path_factory.mktemp("clip")
    return save_video(numbered(12), 29.97, crf=0, pix_fmt="yuv444p", output_dir=str(out)).path


@pytest.mark.parametrize("fmt", ["mp4-h264", "mp4-h265", "webm-vp9", "gif", "webp"])
def test_read_video_gives_back_frames_fps_and_size(tmp_path, fmt):
    saved = save_video(numbered(8), 7, format=fmt, output_dir=str(tmp_path))
    images, fps, count = read_video(saved.path)
    assert (count, tuple(images.shape), images.dtype) == (8, (8, 32, 64, 3), torch.float32)
    assert fps == pytest.approx(7.0)


def test_read_video_keeps_ntsc_fps(clip):
    assert read_video(clip)[1] == pytest.approx(30000 / 1001, abs=1e-9)
    assert probe_video(clip)["fps"] == Fraction(30000, 1001)


def test_selection_skips_strides_and_caps_and_divides_fps(clip):
    images, fps, count = read_video(clip, frame_cap=3, skip_first=2, every_nth=3)
    assert count == 3 and fps == pytest.approx(30000 / 1001 / 3)
    expected = np.linspace(0.1, 0.9, 12)[[2, 5, 8]]
    assert np.allclose(images[:, 16, 32, 0].numpy(), expected, atol=2 / 255)


@pytest.mark.parametrize("pix_fmt, crf", [("yuv444p", 0), ("yuv420p10le", 0)])
def test_decoding_uses_the_tagged_bt709_matrix(tmp_path, pix_fmt, crf):
    saved = save_video(chart_frames(1), 7, pix_fmt=pix_fmt, crf=crf, output_dir=str(tmp_path))
    rgb = read_video(saved.path)[0][0].numpy() * 255
    for index, colour in enumerate(CHART):
        inner = rgb[8:56, index * PATCH + 8 : (index + 1) * PATCH - 8]
        assert np.abs(inner - np.array(colour) * 255).mean() <= 2.0, (colour, inner.mean(axis=(0, 1)))


def test_probe_reports_size_count_codec_and_container(clip):
    info = probe_video(clip)
    assert (info["width"], info["height"], info["frame_count"], info["codec"]) == (64, 32, 12, "h264")
    assert "mp4" in info["container"]


def test_gif_rate_is_the_simplest_rate_behind_rounded_delays(tmp_path):
    saved = save_video(numbered(10), 7, format="gif", output_dir=str(tmp_path))
    assert probe_video(saved.path)["fps"] == Fraction(7)
    assert simplest_fraction_between(Fraction(61, 5), Fraction(63, 5)) == Fraction(25, 2)


def test_buffer_is_preallocated_once_when_the_count_is_known(clip, monkeypatch):
    sizes = []
    real = decode._FrameBuffer.__init__

    def spy(self, capacity, height, width):
        sizes.append(capacity)
        real(self, capacity, height, width)

    monkeypatch.setattr(decode._FrameBuffer, "__init__", spy)
    images, _, count = read_video(clip, skip_first=1, every_nth=2)
    assert sizes == [count] == [images.shape[0]] == [6]


@pytest.mark.parametrize(
    "payload", [b"this is not a video at all" * 20, b"\x00" * 1000, b"RIFF\x00\x00\x00\x00WEBPjunk"]
)
def test_bytes_that_are_not_a_video_raise_valueerror_naming_the_file(tmp_path, payload):
    path = tmp_path / "holiday.mp4"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="holiday.mp4"):
        read_video(path)
    with pytest.raises(ValueError, match="holiday.mp4"):
        probe_video(path)


def test_missing_file_and_bad_selection_raise_valueerror(tmp_path, clip):
    with pytest.raises(ValueError, match="not found"):
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(ValueError, match="every_nth"):
        read_video(clip, every_nth=0)
