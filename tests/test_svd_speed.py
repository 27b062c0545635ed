"""The GPU speed options keep the picture: each one against the default path on the CPU (fp32).

SDPA attention is always on (it is the default of diffusers 0.42.1 and transformers 5 for every
attention of SVD, the temporal blocks included); channels_last and compile_unet are opt-in
inputs of Load SVD Model. CFG batching (one UNet call for both halves) is checked in
test_svd_staged.py.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from support.svd_cases import ATOL, Case, image_tensor, random_image, staged_frames

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.svd import load_svd_model, loading, speed  # noqa: E402
from svd_suite.nodes.svd.nodes import SVDSuite_LoadModel  # noqa: E402

CASE = Case(num_frames=6, steps=3, decode_chunk_size=6, seed=17)


@pytest.fixture(scope="module")
def image():
    return image_tensor(random_image(64, 64, seed=9))


@pytest.fixture(scope="module")
def default_frames(tiny_svd_dir, image):
    frames, _ = staged_frames(load_svd_model(str(tiny_svd_dir), offload="none"), image, CASE)
    return frames


def test_every_attention_runs_through_sdpa_temporal_blocks_included(tiny_svd_dir):
    model = load_svd_model(str(tiny_svd_dir), offload="none")
    temporal = {
        name: type(processor).__name__
        for name, processor in model.unet.attn_processors.items()
        if "temporal_transformer_blocks" in name
    }
    assert temporal and set(temporal.values()) == {"AttnProcessor2_0"}
    assert speed.attention_kinds(model.unet) == {"AttnProcessor2_0"}
    assert speed.attention_kinds(model.vae) == {"AttnProcessor2_0"}
    assert speed.attention_kinds(model.image_encoder) == {"sdpa"}


def test_sdpa_gives_the_frames_of_classic_attention(tiny_svd_dir, image, default_frames):
    from diffusers.models.attention_processor import AttnProcessor

    model = load_svd_model(str(tiny_svd_dir), offload="none")
    unet, vae, encoder = (copy.deepcopy(m) for m in (model.unet, model.vae, model.image_encoder))
    unet.set_attn_processor(AttnProcessor())  # softmax(QK^T)V spelled out, no SDPA
    vae.set_attn_processor(AttnProcessor())
    encoder.set_attn_implementation("eager")
    classic = dataclasses.replace(
        model, unet=unet, vae=vae, image_encoder=encoder, image_encoder_loader=lambda: encoder, handles={}
    )
    assert speed.attention_kinds(classic.unet) == {"AttnProcessor"}
    frames, _ = staged_frames(classic, image, CASE)
    np.testing.assert_allclose(frames.numpy(), default_frames.numpy(), atol=ATOL, rtol=0)


def test_other_attention_is_switched_to_sdpa(tiny_svd_dir):
    from diffusers.models.attention_processor import AttnProcessor

    model = load_svd_model(str(tiny_svd_dir), offload="none")
    unet, encoder = copy.deepcopy(model.unet), copy.deepcopy(model.image_encoder)
    unet.set_attn_processor(AttnProcessor())
    encoder.set_attn_implementation("eager")
    speed.use_sdpa(unet)
    speed.use_sdpa(encoder)
    assert speed.attention_kinds(unet) == {"AttnProcessor2_0"}
    assert speed.attention_kinds(encoder) == {"sdpa"}


def test_channels_last_keeps_the_frames(tiny_svd_dir, image, default_frames):
    model = load_svd_model(str(tiny_svd_dir), offload="none", channels_last=True)
    convs = [m for m in (*model.unet.modules(), *model.vae.modules()) if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(
        c.weight.is_contiguous(memory_format=torch.channels_last) and not c.weight.is_contiguous()
        for c in convs
        if c.weight.shape[-1] > 1 or c.weight.shape[-2] > 1  # a 1x1 kernel is both layouts at once
    )
    frames, _ = staged_frames(model, image, CASE)
    np.testing.assert_allclose(frames.numpy(), default_frames.numpy(), atol=ATOL, rtol=0)


def test_compiled_unet_keeps_the_frames_and_compiles_once(tiny_svd_dir, image, default_frames, monkeypatch):
    graphs = []

    def counting_backend(graph_module, example_inputs):
        # Dynamo's graph capture without code generation: inductor would need ~100 s on two
        # CPU cores for this UNet, and its kernels are what the GPU benchmark measures.
        graphs.append(graph_module)
        return graph_module.forward

    torch._dynamo.reset()
    monkeypatch.setattr(speed, "COMPILE_BACKEND", counting_backend)
    model = load_svd_model(str(tiny_svd_dir), offload="none", compile_unet=True)
    try:
        frames, _ = staged_frames(model, image, CASE)
        compiled_in_first_run = len(graphs)
        again, _ = staged_frames(model, image, CASE.replace(seed=18))
    finally:
        torch._dynamo.reset()
    assert compiled_in_first_run >= 1
    assert len(graphs) == compiled_in_first_run, "the UNet was recompiled between steps or runs"
    np.testing.assert_allclose(frames.numpy(), default_frames.numpy(), atol=ATOL, rtol=0)
    assert not torch.equal(frames, again)


def test_speed_options_are_part_of_the_cache_key(tiny_svd_dir):
    plain = load_svd_model(str(tiny_svd_dir), offload="none")
    fast = load_svd_model(str(tiny_svd_dir), offload="none", channels_last=True)
    assert fast.unet is not plain.unet
    assert fast.options == speed.SpeedOptions(channels_last=True)


def test_speed_options_must_be_booleans(tiny_svd_dir):
    with pytest.raises(ValueError, match=r"channels_last: 'yes' must be true or false"):
        load_svd_model(str(tiny_svd_dir), channels_last="yes")


def test_compile_with_sequential_offload_is_refused(tiny_svd_dir, monkeypatch):
    monkeypatch.setattr(loading, "resolve_offload", lambda offload, device: "sequential")
    with pytest.raises(ValueError, match=r"compile_unet: not available with offload 'sequential'"):
        load_svd_model(str(tiny_svd_dir), compile_unet=True)


def test_load_node_offers_the_options_as_optional_switches_off_by_default():
    inputs = SVDSuite_LoadModel.INPUT_TYPES()
    assert list(inputs["required"]) == ["model", "dtype", "offload"]
    for name in ("channels_last", "compile_unet"):
        kind, options = inputs["optional"][name]
        assert kind == "BOOLEAN" and options["default"] is False and options["tooltip"]
