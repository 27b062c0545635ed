"""Bad inputs fail with a clear error before any model runs; resize modes do what they say."""

from __future__ import annotations

import pytest
import torch
from support.svd_cases import image_tensor, random_image

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.svd import (  # noqa: E402
    decode_latents,
    image_to_video,
    load_svd_model,
    prepare_conditioning,
    sample_latents,
)
from svd_suite.nodes.svd.conditioning import resize_frame  # noqa: E402
from svd_suite.nodes.svd.nodes import SVDSuite_Conditioning  # noqa: E402
from svd_suite.nodes.svd.types import SVDConditioning  # noqa: E402


class UntouchableModel:
    """Any attribute access fails: proves validation happened before heavy work."""

    def __getattr__(self, name):
        raise AssertionError(f"model.{name} used before the inputs were validated")


IMAGE = torch.rand(1, 64, 64, 3)

CONDITIONING_ERRORS = {
    "width_not_multiple_of_64": (dict(width=100), r"width: 100 .*multiple of 64"),
    "height_too_big": (dict(height=4096), r"height: 4096 .*multiple of 64 from 64 to 2048"),
    "frames_above_range": (dict(num_frames=129), r"num_frames: 129 .*0 to 128"),
    "frames_negative": (dict(num_frames=-1), r"num_frames: -1 "),
    "fps_zero": (dict(fps=0), r"fps: 0 .*1 to 60"),
    "motion_bucket_too_big": (dict(motion_bucket_id=256), r"motion_bucket_id: 256 .*1 to 255"),
    "cond_aug_negative": (dict(cond_aug=-0.1), r"cond_aug: -0.1 .*0.0 to 10.0"),
    "unknown_resize": (dict(resize="zoom"), r"resize: 'zoom' is not one of"),
}


@pytest.mark.parametrize("name", list(CONDITIONING_ERRORS))
def test_conditioning_rejects_bad_values_before_heavy_work(name):
    changes, message = CONDITIONING_ERRORS[name]
    params = {
        **dict(width=64, height=64, resize="crop", num_frames=0, fps=7, motion_bucket_id=127, cond_aug=0.02),
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        prepare_conditioning(UntouchableModel(), IMAGE, **params)


def test_conditioning_node_reports_the_same_size_error():
    node = SVDSuite_Conditioning()
    with pytest.raises(ValueError, match=r"height: 70 "):
        # ComfyUI passes every input by name
        node.condition(
            UntouchableModel(), IMAGE, width=64, height=70, resize="crop", num_frames=0, fps=7,
            motion_bucket_id=127, cond_aug=0.02,
        )  # fmt: skip


def test_empty_image_batch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"image: the image batch is empty"):
        prepare_conditioning(UntouchableModel(), torch.zeros(0, 64, 64, 3), 64, 64)


SAMPLER_ERRORS = {
    "seed_negative": (dict(seed=-1), r"seed: -1 "),
    "seed_too_big": (dict(seed=2**64), r"seed: 18446744073709551616 .*18446744073709551615"),
    "steps_zero": (dict(steps=0), r"steps: 0 .*1 to 200"),
    "guidance_too_big": (dict(max_guidance_scale=21.0), r"max_guidance_scale: 21.0 "),
}


@pytest.mark.parametrize("name", list(SAMPLER_ERRORS))
def test_sampler_rejects_bad_values_before_heavy_work(name):
    changes, message = SAMPLER_ERRORS[name]
    cond = SVDConditioning(
        image_embeds=None,
        init_image=None,
        width=64,
        height=64,
        num_frames=2,
        fps=7,
        motion_bucket_id=127,
        cond_aug=0.02,
    )
    params = {**dict(seed=0, steps=2, min_guidance_scale=1.0, max_guidance_scale=3.0), **changes}
    with pytest.raises(ValueError, match=message):
        sample_latents(UntouchableModel(), cond, **params)


def test_image_to_video_checks_sampler_values_before_conditioning():
    with pytest.raises(ValueError, match=r"steps: 500 "):
        image_to_video(UntouchableModel(), IMAGE, width=64, height=64, steps=500)


def test_decode_rejects_a_chunk_size_of_zero():
    with pytest.raises(ValueError, match=r"decode_chunk_size: 0 .*1 to 128"):
        decode_latents(UntouchableModel(), {"samples": torch.zeros(2, 4, 8, 8)}, decode_chunk_size=0)


def test_decode_rejects_a_latent_without_samples(tiny_svd_dir):
    model = load_svd_model(str(tiny_svd_dir))
    with pytest.raises(ValueError, match=r"samples: expected a LATENT"):
        decode_latents(model, {"samples": torch.zeros(4, 8, 8)}, 2)


RESIZE_SIZES = {  # a 100x50 image (w x h) into 128x128, and "keep" (100x50 → 128x64)
    "crop": (128, 128),
    "pad": (128, 128),
    "stretch": (128, 128),
    "keep": (64, 128),
}


@pytest.mark.parametrize("mode", list(RESIZE_SIZES))
def test_resize_modes_produce_the_promised_size(mode):
    out = resize_frame(torch.rand(1, 50, 100, 3), 128, 128, mode)
    assert tuple(out.shape) == (1, *RESIZE_SIZES[mode], 3)
    assert out.min() >= 0 and out.max() <= 1


def test_pad_mode_keeps_the_aspect_ratio_with_black_bars():
    out = resize_frame(torch.full((1, 50, 100, 3), 0.8), 128, 128, "pad")
    assert torch.all(out[0, :30] == 0) and torch.all(out[0, -30:] == 0)
    assert torch.allclose(out[0, 40:88], torch.tensor(0.8), atol=1e-3)


def test_crop_mode_keeps_the_centre():
    image = torch.zeros(1, 64, 192, 3)
    image[:, :, 64:128] = 1.0  # a white centre third
    out = resize_frame(image, 64, 64, "crop")
    assert torch.equal(out, torch.ones(1, 64, 64, 3))


def test_matching_size_is_passed_through_bit_exact():
    image = torch.rand(1, 64, 128, 3)
    assert torch.equal(resize_frame(image, 128, 64, "crop"), image)


def test_batch_uses_its_first_frame(tiny_svd_dir):
    model = load_svd_model(str(tiny_svd_dir))
    first = image_tensor(random_image(64, 64, seed=1))
    batch = torch.cat([first, image_tensor(random_image(64, 64, seed=2))])
    one = prepare_conditioning(model, first, 64, 64)
    both = prepare_conditioning(model, batch, 64, 64)
    assert torch.equal(one.image_embeds, both.image_embeds)
    assert torch.equal(both.frame, first)


def test_zero_frames_means_the_model_default(tiny_svd_dir):
    model = load_svd_model(str(tiny_svd_dir))
    assert prepare_conditioning(model, IMAGE, 64, 64, num_frames=0).num_frames == model.num_frames == 14
