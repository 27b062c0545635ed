"""The torch path (flow_torch.py + splat_torch.py, used on CUDA devices) run on the CPU makes the
same frames as the OpenCV/NumPy path within float noise, and a CPU device keeps the OpenCV path.
The accuracy tests run on both paths in their own files (the `path` parameter,
support/interp_paths.py): tests/test_interpolate.py, tests/test_interpolate_textured.py.

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
import torch
from support.interp_scenes import DISC_START, disc_scene, moving_square, textured_scene

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.extend.interpolate import interpolate_frames  # noqa: E402

in_torch = functools.partial(interpolate_frames, in_torch=True)


def _textured_pair(width: int, height: int) -> torch.Tensor:
    frames = [textured_scene(0.0), textured_scene(1.0)]
    return torch.from_numpy(
        np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in frames])
    )


def _disc_pair(motion) -> torch.Tensor:
    (x0, y0), (dx, dy) = DISC_START, motion
    first = disc_scene(x0, y0, "textured", "textured")[0]
    last = disc_scene(x0 + dx, y0 + dy, "textured", "textured")[0]
    return torch.from_numpy(np.stack([first, last]))


SCENES = {
    "square": lambda: moving_square(3),
    "occluding texture": lambda: _textured_pair(128, 96),
    "disc 12 px/frame": lambda: _disc_pair((12, -12)),
    # Larger than the working sizes: motion at 256 px, search at 160 px, blend at 600x450.
    "texture at 600x450": lambda: _textured_pair(600, 450),
}


@pytest.mark.usefixtures("one_torch_thread")
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


def test_cpu_device_keeps_the_opencv_path(monkeypatch):
    # Only CUDA devices compose in torch by default: a CPU device must not import splat_torch's work.
    from svd_suite.nodes.extend import splat_torch

    def refuse(*args, **kwargs):
        raise AssertionError("torch path used on a CPU device")

    monkeypatch.setattr(splat_torch, "frames_at", refuse)
    out, _ = interpolate_frames(moving_square(2), 7.0, 2, device="cpu")
    assert out.shape[0] == 3
