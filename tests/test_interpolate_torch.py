"""The torch path (flow_torch.py + splat_torch.py, used on CUDA devices) run on the CPU: the same
frames as the OpenCV/NumPy path within float noise, and the accuracy tests hold (Cancel on both
paths: tests/test_interpolate.py).

Measured on these scenes (printed with -s): compositing alone in torch differed by at most 1.5e-5;
with the candidate search in torch too, most pixels still do, but where two candidate motions
cost the same up to rounding the other one can win: max 6e-4 here (2.6e-3 on the bench's
512x288 scene), mean under 1e-7. The tolerance is max 5e-3 and mean 1e-6.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
import test_interpolate as plain
import test_interpolate_textured as textured
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.extend.interpolate import interpolate_frames  # noqa: E402

in_torch = functools.partial(interpolate_frames, in_torch=True)


@pytest.fixture(autouse=True)
def one_torch_thread():
    # On the shared 2-core machine torch's thread pool contends with OpenCV's and other work:
    # the search of one 160x128 pair took 0.6 s with one thread, 3.7 s with the default (2).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    difference = (ours - reference).abs()
    print(f"{name} x{multiplier}: max {float(difference.max()):.2e} mean {float(difference.mean()):.2e}")
    # Float noise (<= 1.5e-5) except where two candidate motions match equally well and
    # summation order picks the other one: a few pixels off by up to ~1e-3 (see the module doc).
    assert float(difference.max()) <= 5e-3, (
        f"{name}: torch path differs by up to {float(difference.max()):.2e}"
    )
    assert float(difference.mean()) <= 1e-6, (
        f"{name}: torch path differs by {float(difference.mean()):.2e} on average"
    )
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


def test_cpu_device_keeps_the_opencv_path(monkeypatch):
    # Only CUDA devices compose in torch by default: a CPU device must not import splat_torch's work.
    from svd_suite.nodes.extend import splat_torch

    def refuse(*args, **kwargs):
        raise AssertionError("torch path used on a CPU device")

    monkeypatch.setattr(splat_torch, "frames_at", refuse)
    out, _ = interpolate_frames(plain.moving_square(2), 7.0, 2, device="cpu")
    assert out.shape[0] == 3
