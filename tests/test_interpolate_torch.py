"""The torch compositing path (splat_torch.py, used on CUDA devices) run on the CPU: the same
frames as the OpenCV/NumPy path within float noise, the accuracy tests hold, Cancel still works.

Measured on these scenes: max |torch - OpenCV| 1.5e-5 (0 on the plain square), mean ~1e-8.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
import test_interpolate as plain
import test_interpolate_textured as textured
import torch
from support.pack import load_pack

load_pack()
from svd_suite.nodes.comfy import SVDSuiteInterrupted, request_interrupt  # noqa: E402
from svd_suite.nodes.extend.interpolate import interpolate_frames  # noqa: E402

in_torch = functools.partial(interpolate_frames, in_torch=True)


def _textured_pair(width: int, height: int) -> torch.Tensor:
    frames = [plain.textured_scene(0.0), plain.textured_scene(1.0)]
    return torch.from_numpy(
        np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in frames])
    )


def _disc_pair(motion) -> torch.Tensor:
    (x0, y0), (dx, dy) = textured.START, motion
    first = textured.scene(x0, y0, "textured", "textured")[0]
    last = textured.scene(x0 + dx, y0 + dy, "textured", "textured")[0]
    return torch.from_numpy(np.stack([first, last]))


SCENES = {
    "square": lambda: plain.moving_square(3),
    "occluding texture": lambda: _textured_pair(128, 96),
    "disc 12 px/frame": lambda: _disc_pair((12, -12)),
    # Larger than the working sizes: motion at 256 px, search at 160 px, blend at 600x450.
    "texture at 600x450": lambda: _textured_pair(600, 450),
}


@pytest.mark.parametrize("multiplier", [2, 3])
@pytest.mark.parametrize("name", list(SCENES))
def test_torch_path_makes_the_same_frames_as_opencv(name, multiplier):
    clip = SCENES[name]()
    reference, fps = interpolate_frames(clip, 7.0, multiplier, in_torch=False)
    ours, torch_fps = in_torch(clip, 7.0, multiplier)
    assert ours.dtype == torch.float32 and ours.shape == reference.shape and torch_fps == fps
    difference = float((ours - reference).abs().max())
    assert difference <= 1e-4, f"{name}: torch path differs by up to {difference:.2e}"
    # The originals are copied, not recomposed.
    assert torch.equal(ours[::multiplier], clip[..., :3])


@pytest.mark.parametrize("motion", [(9, 9), (-6, -9), (12, -12)])
def test_textured_disc_accuracy_holds_on_the_torch_path(monkeypatch, motion):
    monkeypatch.setattr(textured, "interpolate_frames", in_torch)
    textured.test_textured_disc_over_texture_lands_at_its_linear_position(motion, 3)


def test_flat_background_accuracy_holds_on_the_torch_path(monkeypatch):
    monkeypatch.setattr(textured, "interpolate_frames", in_torch)
    textured.test_disc_over_a_flat_background_stays_in_place("plain", (9, 9), 4)


def test_occlusion_and_square_hold_on_the_torch_path(monkeypatch):
    monkeypatch.setattr(plain, "interpolate_frames", in_torch)
    plain.test_occluding_motion_is_reconstructed_far_better_than_a_cross_fade()
    plain.test_in_between_is_a_moved_square_not_a_cross_fade()
    plain.test_in_between_square_sits_at_its_interpolated_position(4)


def test_interrupt_stops_between_pairs_on_the_torch_path():
    calls = []

    class InterruptAfterFirstPair:
        def update(self, value, preview=None):
            calls.append(value)
            request_interrupt(True)

    try:
        with pytest.raises(SVDSuiteInterrupted):
            in_torch(plain.moving_square(5), 7.0, 2, progress=InterruptAfterFirstPair())
    finally:
        request_interrupt(False)
    assert calls == [1]


def test_cpu_device_keeps_the_opencv_path(monkeypatch):
    # Only CUDA devices compose in torch by default: a CPU device must not import splat_torch's work.
    from svd_suite.nodes.extend import splat_torch

    def refuse(*args, **kwargs):
        raise AssertionError("torch path used on a CPU device")

    monkeypatch.setattr(splat_torch, "frames_at", refuse)
    out, _ = interpolate_frames(plain.moving_square(2), 7.0, 2, device="cpu")
    assert out.shape[0] == 3
