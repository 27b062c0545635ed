"""The SVD parameter table: one declaration that every SVD entry point takes and checks."""

from __future__ import annotations

import asyncio

import pytest
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.remote import auto  # noqa: E402
from svd_suite.nodes.svd import image_to_video, load_svd_model  # noqa: E402
from svd_suite.nodes.svd.params import PARAM_NAMES, SPECS, SVDParams  # noqa: E402

# Small and non-square, so resize modes and decode chunks give different frames.
PARAMS = dict(width=128, height=64, num_frames=6, steps=2, seed=3, max_guidance_scale=2.0)


@pytest.fixture(scope="module")
def model(tiny_svd_dir):
    return load_svd_model(str(tiny_svd_dir))


@pytest.fixture(scope="module")
def image():
    return torch.rand((1, 80, 100, 3), generator=torch.Generator().manual_seed(5))


def test_auto_engine_local_path_honours_resize_and_decode_chunk_size(model, image):
    asked = dict(PARAMS, resize="pad", decode_chunk_size=2)
    result = asyncio.run(auto.auto_image_to_video(image, "local", model, timeout_s=20, **asked))
    expected, fps = image_to_video(model, image, **asked)
    defaults, _ = image_to_video(model, image, **PARAMS)
    assert result.engine == "local" and result.fps == fps
    assert torch.equal(result.images, expected)
    assert not torch.equal(result.images, defaults)


def test_every_parameter_has_a_default_inside_its_range_and_a_tooltip():
    for name, spec in SPECS.items():
        assert spec.tooltip, name
        assert spec.check(name, spec.default) == spec.default
    assert PARAM_NAMES == tuple(SVDParams().as_dict())


@pytest.mark.parametrize(
    "name, value, allowed",
    [
        ("width", 100, "multiple of 64"),
        ("resize", "zoom", "['crop', 'pad', 'stretch', 'keep']"),
        ("num_frames", 129, "0 to 128 (0 = the model's default)"),
        ("cond_aug", float("nan"), "0.0 to 10.0"),
        ("seed", -1, "0 to 18446744073709551615"),
        ("decode_chunk_size", 0, "1 to 128"),
    ],
)
def test_a_value_out_of_range_fails_naming_the_input_the_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(ValueError) as error:
        SVDParams(**{name: value}).check()
    assert str(error.value).startswith(f"{name}: {value!r}") and allowed in str(error.value)


def test_image_to_video_checks_every_parameter_before_any_model_runs(image):
    with pytest.raises(ValueError, match="^decode_chunk_size: 0"):
        image_to_video(object(), image, decode_chunk_size=0)
