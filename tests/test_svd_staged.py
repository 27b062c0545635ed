"""The staged SVD path (no ComfyUI): equal to diffusers' pipeline, seeded, interruptible."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.svd_cases import (
    ATOL,
    Case,
    UNetCallCounter,
    image_tensor,
    pipeline_frames,
    random_image,
    staged_frames,
)

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.svd import image_to_video, load_svd_model  # noqa: E402

CASES = {
    "square_guided": Case(),
    "non_square_chunked": Case(width=128, height=64, num_frames=8, decode_chunk_size=3, seed=7),
    "guidance_off": Case(max_guidance_scale=1.0, steps=3),
    "cond_aug_fps_motion": Case(
        cond_aug=0.3, fps=12, motion_bucket_id=40, min_guidance_scale=2.0, max_guidance_scale=2.5
    ),
}


@pytest.fixture(scope="module")
def model(tiny_svd_dir):
    return load_svd_model(str(tiny_svd_dir))


@pytest.mark.parametrize("name", list(CASES))
def test_staged_path_equals_the_diffusers_pipeline(model, tiny_svd_dir, name):
    case = CASES[name]
    pil = random_image(case.width, case.height, seed=3)
    expected = pipeline_frames(tiny_svd_dir, pil, case)
    frames, fps = staged_frames(model, image_tensor(pil), case)
    assert frames.shape == expected.shape == (case.num_frames, case.height, case.width, 3)
    assert frames.dtype == torch.float32
    np.testing.assert_allclose(frames.numpy(), expected, atol=ATOL, rtol=0)
    assert fps == case.fps


def test_image_to_video_equals_the_pipeline(model, tiny_svd_dir):
    case = Case(decode_chunk_size=5, seed=99)
    pil = random_image(case.width, case.height, seed=4)
    frames, fps = image_to_video(
        model,
        image_tensor(pil),
        width=case.width,
        height=case.height,
        num_frames=case.num_frames,
        seed=case.seed,
        steps=case.steps,
        decode_chunk_size=case.decode_chunk_size,
    )
    np.testing.assert_allclose(frames.numpy(), pipeline_frames(tiny_svd_dir, pil, case), atol=ATOL, rtol=0)
    assert fps == 7.0


def test_same_seed_gives_identical_frames_and_leaves_global_rng_untouched(model):
    case = Case(num_frames=6)
    image = image_tensor(random_image(64, 64))
    torch.manual_seed(2024)
    rng_before = torch.get_rng_state()
    first, _ = staged_frames(model, image, case)
    second, _ = staged_frames(model, image, case)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert torch.equal(first, second)


def test_different_seeds_give_different_frames(model):
    image = image_tensor(random_image(64, 64))
    a, _ = staged_frames(model, image, Case(num_frames=6, seed=1))
    b, _ = staged_frames(model, image, Case(num_frames=6, seed=2))
    assert (a - b).abs().max() > 1e-3


def test_largest_seed_is_accepted(model):
    frames, _ = staged_frames(
        model, image_tensor(random_image(64, 64)), Case(num_frames=4, steps=1, seed=2**64 - 1)
    )
    assert torch.isfinite(frames).all()


class InterruptAt:
    """A progress object that presses Cancel when step `k` is reported."""

    def __init__(self, k: int):
        self.k, self.values, self.previews = k, [], []

    def update(self, value, preview=None):
        self.values.append(value)
        self.previews.append(preview)
        if value == self.k:
            comfy.request_interrupt(True)


def test_interrupt_stops_sampling_within_one_step_and_model_stays_usable(model):
    case = Case(num_frames=6, steps=6)
    image = image_tensor(random_image(64, 64))
    fresh, _ = staged_frames(model, image, case)
    progress = InterruptAt(2)
    try:
        with UNetCallCounter(model.unet) as counter, pytest.raises(comfy.SVDSuiteInterrupted):
            staged_frames(model, image, case, progress=progress)
    finally:
        comfy.request_interrupt(False)
    assert counter.calls == 2
    again, _ = staged_frames(model, image, case)
    assert torch.equal(again, fresh)


def test_progress_reports_every_step_with_a_preview_image(model):
    progress = InterruptAt(k=-1)
    staged_frames(model, image_tensor(random_image(64, 64)), Case(num_frames=4, steps=3), progress=progress)
    assert progress.values == [1, 2, 3]
    assert all(p is not None and p.size == (64, 64) for p in progress.previews)


def test_guidance_off_makes_one_unet_call_per_step_and_on_makes_a_batch_of_two(model):
    image = image_tensor(random_image(64, 64))
    batches = []
    handle = model.unet.register_forward_pre_hook(lambda m, args: batches.append(args[0].shape[0]))
    try:
        staged_frames(model, image, Case(num_frames=4, steps=2, max_guidance_scale=1.0))
        staged_frames(model, image, Case(num_frames=4, steps=2, max_guidance_scale=1.5))
    finally:
        handle.remove()
    assert batches == [1, 1, 2, 2]


class RaisingBar:
    def __init__(self, exc):
        self.exc = exc

    def update_absolute(self, value, total, preview):
        raise self.exc


def test_node_progress_lets_cancel_through_but_swallows_preview_failures():
    # ComfyUI's progress hook raises its interrupt exception; losing it would ignore Cancel.
    progress = comfy.Progress(3)
    progress._bar = RaisingBar(comfy.SVDSuiteInterrupted("cancel"))
    with pytest.raises(comfy.SVDSuiteInterrupted):
        progress.update(1)
    progress._bar = RaisingBar(OSError("preview encoder broke"))
    progress.update(2)
    assert progress.value == 2


def test_fp16_vae_encodes_upcast_and_stays_fp16_for_decoding(model):
    # The pipeline's force_upcast: an fp16 VAE overflows when encoding, so encode runs in fp32.
    import copy
    import dataclasses

    from svd_suite.nodes.svd.conditioning import prepare_conditioning
    from svd_suite.nodes.svd.sampling import encode_start_latent, make_generator

    vae16 = copy.deepcopy(model.vae).to(torch.float16)
    model16 = dataclasses.replace(model, vae=vae16)
    cond = prepare_conditioning(model16, image_tensor(random_image(64, 64)), 64, 64, num_frames=2)
    dtypes_seen = []
    handle = vae16.encoder.register_forward_pre_hook(lambda m, args: dtypes_seen.append(args[0].dtype))
    try:
        latent = encode_start_latent(model16, cond, make_generator(0, model.device))
    finally:
        handle.remove()
    assert dtypes_seen == [torch.float32]
    assert vae16.dtype == torch.float16
    assert latent.dtype == cond.image_embeds.dtype and torch.isfinite(latent).all()
