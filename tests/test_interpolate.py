"""SVDSuite_Interpolate: optical-flow in-between frames, unit-tested and once through the real server."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.interp_paths import PATHS
from support.interp_scenes import SIZE, SQUARE, STEP, X0, Y0, moving_square, textured_scene

from dev.pack import load_pack
from dev.run_workflow import output_files, run_workflow

load_pack()
from svd_suite.nodes.comfy import SVDSuiteInterrupted, request_interrupt  # noqa: E402
from svd_suite.nodes.extend.interpolate import interpolate_frames  # noqa: E402


def centroid(frame: torch.Tensor) -> tuple[float, float]:
    grey = frame.mean(-1).numpy().astype(np.float64)
    ys, xs = np.mgrid[: grey.shape[0], : grey.shape[1]]
    return float((grey * xs).sum() / grey.sum()), float((grey * ys).sum() / grey.sum())


def expected_centroid(time: float) -> tuple[float, float]:
    return X0 + time * STEP + (SQUARE - 1) / 2, Y0 + (SQUARE - 1) / 2


@pytest.mark.parametrize("path,multiplier", [("opencv", 2), ("opencv", 4), ("torch", 4)])
def test_in_between_square_sits_at_its_interpolated_position(interpolate, multiplier):
    out, _ = interpolate(moving_square(3), 7.0, multiplier)
    for index in range(out.shape[0]):
        cx, cy = centroid(out[index])
        ex, ey = expected_centroid(index / multiplier)
        assert abs(cx - ex) <= 1.0 and abs(cy - ey) <= 1.0, (index, (cx, cy), (ex, ey))


@pytest.mark.parametrize("path", PATHS)
def test_in_between_is_a_moved_square_not_a_cross_fade(interpolate):
    # A cross-fade has the right centroid too, but shows two half-bright squares.
    out, _ = interpolate(moving_square(2), 7.0, 2)
    middle = out[1].mean(-1)
    rows = slice(Y0 + 2, Y0 + SQUARE - 2)
    left = X0 + STEP // 2
    only_in_first = middle[rows, X0 : X0 + STEP // 2 - 1].mean()
    body = middle[rows, left + 1 : left + SQUARE - 1].mean()
    assert only_in_first < 0.2, f"ghost of the first frame's square left behind: {only_in_first:.2f}"
    assert body > 0.8, f"square not solid at its midway position: {body:.2f}"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("path", PATHS)
def test_occluding_motion_is_reconstructed_far_better_than_a_cross_fade(interpolate):
    clip = torch.from_numpy(np.stack([textured_scene(0.0), textured_scene(1.0)]))
    out, _ = interpolate(clip, 7.0, 2)
    truth = textured_scene(0.5)
    cross_fade = (clip[0].numpy() + clip[1].numpy()) / 2
    ours, fade = psnr(out[1].numpy(), truth), psnr(cross_fade, truth)
    assert ours > fade + 6.0, f"interpolated {ours:.1f} dB vs cross-fade {fade:.1f} dB"


def test_scene_cut_gets_a_plain_cross_fade_instead_of_invented_motion():
    import cv2

    def texture(seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).random((96, 128, 3)).astype(np.float32)
        return cv2.GaussianBlur(noise, (0, 0), 3)

    clip = torch.from_numpy(np.stack([texture(1), texture(2)]))
    out, _ = interpolate_frames(clip, 7.0, 4)
    for step in (1, 2, 3):
        t = step / 4
        assert torch.allclose(out[step], (1 - t) * clip[0] + t * clip[1], atol=1e-6)


@pytest.mark.parametrize("height,width", [(1, 1), (8, 12), (12, 300)])
def test_frames_too_small_for_motion_get_a_cross_fade_instead_of_an_error(height, width):
    clip = torch.rand(2, height, width, 3)
    out, _ = interpolate_frames(clip, 7.0, 2)
    assert torch.allclose(out[1], (clip[0] + clip[1]) / 2, atol=1e-6)


def test_a_thin_strip_is_interpolated_not_cross_faded():
    # Scaled down to a longest side of 256 px the strip would be 5 px high: too thin for DIS.
    strip = torch.zeros(2, 40, 2000, 3)
    strip[0, 10:30, 500:520] = 1.0
    strip[1, 10:30, 508:528] = 1.0
    out, _ = interpolate_frames(strip, 7.0, 2)
    column_mass = out[1].mean(dim=(0, 2)).numpy()
    centre = float((column_mass * np.arange(2000)).sum() / column_mass.sum())
    assert abs(centre - 513.5) <= 1.0
    assert float(out[1, 12:28, 506:522].mean()) > 0.8  # one square, not two half-bright ones


@pytest.mark.parametrize("frames,multiplier", [(2, 2), (3, 4), (5, 3), (1, 8)])
def test_frame_count_is_gaps_times_multiplier_plus_one(frames, multiplier):
    out, _ = interpolate_frames(moving_square(frames), 7.0, multiplier)
    assert out.shape == ((frames - 1) * multiplier + 1, SIZE, SIZE, 3)
    assert out.dtype == torch.float32


def test_original_frames_are_kept_unchanged_at_multiples_of_k():
    clip = torch.rand(3, 32, 40, 3)
    out, _ = interpolate_frames(clip, 7.0, 3)
    for i in range(3):
        assert torch.equal(out[i * 3], clip[i])


def test_output_fps_is_input_fps_times_multiplier():
    _, fps = interpolate_frames(moving_square(2), 12.5, 4)
    assert fps == pytest.approx(50.0)


@pytest.mark.parametrize("multiplier", [1, 9, 0, 2.5])
def test_multiplier_out_of_range_is_a_clear_error(multiplier):
    with pytest.raises(ValueError, match=r"multiplier.*2 to 8"):
        interpolate_frames(moving_square(2), 7.0, multiplier)


def test_fps_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match=r"fps.*0.01 to 120"):
        interpolate_frames(moving_square(2), 0.0, 2)


def test_alpha_channel_is_dropped():
    clip = torch.cat([moving_square(2), torch.ones(2, SIZE, SIZE, 1)], dim=-1)
    out, _ = interpolate_frames(clip, 7.0, 2)
    assert out.shape[-1] == 3


def test_progress_advances_once_per_pair():
    seen = []

    class Recorder:
        def update(self, value, preview=None):
            seen.append(value)

    interpolate_frames(moving_square(4), 7.0, 2, progress=Recorder())
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("path", PATHS)
def test_interrupt_stops_between_pairs(interpolate):
    # Both paths: the torch one (CUDA devices; here forced onto the CPU) streams pair by pair too.
    calls = []

    class InterruptAfterFirstPair:
        def update(self, value, preview=None):
            calls.append(value)
            request_interrupt(True)

    try:
        with pytest.raises(SVDSuiteInterrupted):
            interpolate(moving_square(5), 7.0, 2, progress=InterruptAfterFirstPair())
    finally:
        request_interrupt(False)
    assert calls == [1]


def test_real_server_interpolates_a_two_image_batch(comfyui_server):
    from PIL import Image

    clip = moving_square(2)
    for i in range(2):
        Image.fromarray((clip[i].numpy() * 255).astype(np.uint8)).save(
            comfyui_server.input_dir / f"square{i}.png"
        )
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "square0.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "square1.png"}},
        "3": {"class_type": "ImageBatch", "inputs": {"image1": ["1", 0], "image2": ["2", 0]}},
        "4": {
            "class_type": "SVDSuite_Interpolate",
            "inputs": {"images": ["3", 0], "fps": 7.0, "multiplier": 2},
        },
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "interp/square"}},
    }
    result = run_workflow(comfyui_server.url, prompt, timeout=120)
    assert result.status == "execution_success", result.error
    files = sorted(output_files(result, comfyui_server.output_dir))
    assert len(files) == 3
    middle = torch.from_numpy(np.asarray(Image.open(files[1]).convert("RGB"), dtype=np.float32) / 255.0)
    cx, cy = centroid(middle)
    ex, ey = expected_centroid(0.5)
    assert abs(cx - ex) <= 1.0 and abs(cy - ey) <= 1.0
