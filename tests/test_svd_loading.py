"""Load SVD Model without ComfyUI: listing, variants, dtype/offload policy, cache, clear errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from support.svd_cases import Case, image_tensor, random_image, staged_frames

from dev.pack import load_pack
from dev.tiny_svd import save_tiny_svd

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.svd import (  # noqa: E402
    clear_model_cache,
    list_svd_models,
    load_svd_model,
    prepare_conditioning,
    resolve_model_name,
)

UNET_WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def model_roots(tmp_path, monkeypatch):
    """Empty models/diffusers and models/svd roots that the pack's lister sees."""
    roots = {kind: tmp_path / kind for kind in ("diffusers", "svd", "checkpoints")}
    for root in roots.values():
        root.mkdir()
    monkeypatch.setattr(comfy, "model_folders", lambda kind: [str(roots[kind])] if kind in roots else [])
    return roots


@pytest.fixture(scope="module")
def fp16_only_dir(tmp_path_factory):
    return save_tiny_svd(tmp_path_factory.mktemp("fp16") / "svd-fp16", fp16_variant=True)


def copy_model(src, dst):
    shutil.copytree(src, dst, symlinks=False)
    return dst


def test_lister_finds_svd_folders_in_diffusers_and_svd_roots_only(model_roots, tiny_svd_dir):
    (model_roots["diffusers"] / "svd-a").symlink_to(tiny_svd_dir)
    (model_roots["svd"] / "org").mkdir()
    (model_roots["svd"] / "org" / "svd-b").symlink_to(tiny_svd_dir)
    other = model_roots["diffusers"] / "sdxl"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    assert list_svd_models() == ["org/svd-b", "svd-a"]
    assert resolve_model_name("org/svd-b") == str(model_roots["svd"] / "org" / "svd-b")


def test_fp16_variant_only_folder_is_listed_and_loads_upcast_to_fp32_on_cpu(model_roots, fp16_only_dir):
    (model_roots["diffusers"] / "svd-fp16").symlink_to(fp16_only_dir)
    assert "svd-fp16" in list_svd_models()
    model = load_svd_model(resolve_model_name("svd-fp16"), dtype="fp32")
    assert model.dtype == torch.float32
    assert {p.dtype for p in model.unet.parameters()} == {torch.float32}
    assert {p.dtype for p in model.vae.parameters()} == {torch.float32}
    cond = prepare_conditioning(model, image_tensor(random_image(64, 64)), 64, 64, num_frames=2)
    assert cond.image_embeds.dtype == torch.float32


def test_auto_dtype_on_cpu_is_fp32(tiny_svd_dir):
    model = load_svd_model(str(tiny_svd_dir), dtype="auto")
    assert model.device.type == "cpu" and model.dtype == torch.float32
    assert next(model.unet.parameters()).dtype == torch.float32


def test_fp16_on_cpu_is_refused_with_a_clear_error(tiny_svd_dir):
    with pytest.raises(ValueError, match=r"dtype: 'fp16' is not supported on CPU.*bf16"):
        load_svd_model(str(tiny_svd_dir), dtype="fp16")


@pytest.mark.parametrize("offload", ["model", "sequential"])
def test_accelerator_offload_on_cpu_is_refused_with_a_clear_error(tiny_svd_dir, offload):
    with pytest.raises(ValueError, match=rf"offload: '{offload}'.*no accelerator"):
        load_svd_model(str(tiny_svd_dir), offload=offload)


def test_unknown_model_name_is_a_clear_error(model_roots):
    with pytest.raises(ValueError, match=r"model: 'no-such-svd' was not found"):
        resolve_model_name("no-such-svd")


def test_folder_naming_another_pipeline_is_rejected(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(
        ValueError, match=r"not a Stable Video Diffusion model.*'StableDiffusionPipeline'"
    ) as err:
        load_svd_model(str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_folder_without_model_index_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="model_index.json is missing"):
        load_svd_model(str(tmp_path))


def test_missing_unet_is_named(tmp_path, tiny_svd_dir):
    broken = copy_model(tiny_svd_dir, tmp_path / "svd-no-unet")
    shutil.rmtree(broken / "unet")
    with pytest.raises(ValueError, match=r"svd-no-unet: missing part unet/config.json"):
        load_svd_model(str(broken))


def test_truncated_safetensors_is_named_before_loading(tmp_path, tiny_svd_dir):
    broken = copy_model(tiny_svd_dir, tmp_path / "svd-truncated")
    weights = broken / UNET_WEIGHTS
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"truncated safetensors file .*diffusion_pytorch_model.safetensors"):
        load_svd_model(str(broken))


def test_same_model_is_loaded_once_and_a_chunk_hint_shares_components(tiny_svd_dir):
    clear_model_cache()
    first = load_svd_model(str(tiny_svd_dir))
    again = load_svd_model(str(tiny_svd_dir))
    hinted = load_svd_model(str(tiny_svd_dir), decode_chunk_size=2)
    assert again is first
    assert hinted.unet is first.unet and hinted.decode_chunk_size == 2


def test_replaced_weights_are_reloaded(tmp_path, tiny_svd_dir):
    folder = copy_model(tiny_svd_dir, tmp_path / "svd-copy")
    first = load_svd_model(str(folder))
    (folder / UNET_WEIGHTS).touch()  # a new download: same size, new mtime
    assert load_svd_model(str(folder)).unet is not first.unet


def test_cpu_default_releases_the_image_encoder_after_conditioning_without_changing_results(tiny_svd_dir):
    image = image_tensor(random_image(64, 64))
    clear_model_cache()
    released = load_svd_model(str(tiny_svd_dir))
    assert released.offload == "release"
    frames_released, _ = staged_frames(released, image, Case(num_frames=4))
    assert released.image_encoder is None
    clear_model_cache()
    resident = load_svd_model(str(tiny_svd_dir), offload="none")
    frames_resident, _ = staged_frames(resident, image, Case(num_frames=4))
    assert resident.image_encoder is not None
    assert torch.equal(frames_released, frames_resident)


def test_model_decode_chunk_hint_caps_the_decode_chunk(tiny_svd_dir):
    image = image_tensor(random_image(64, 64))
    capped = load_svd_model(str(tiny_svd_dir), decode_chunk_size=2)
    free = load_svd_model(str(tiny_svd_dir))
    frames_capped, _ = staged_frames(capped, image, Case(num_frames=6, decode_chunk_size=6))
    frames_two, _ = staged_frames(free, image, Case(num_frames=6, decode_chunk_size=2))
    frames_six, _ = staged_frames(free, image, Case(num_frames=6, decode_chunk_size=6))
    assert torch.equal(frames_capped, frames_two)
    assert not torch.equal(frames_capped, frames_six)


def test_released_image_encoder_is_freed_right_after_conditioning(tiny_svd_dir):
    import weakref

    clear_model_cache()
    model = load_svd_model(str(tiny_svd_dir))
    loaded = []
    original = model.image_encoder_loader
    model.image_encoder_loader = lambda: loaded.append(original()) or loaded[-1]
    prepare_conditioning(model, image_tensor(random_image(64, 64)), 64, 64, num_frames=2)
    alive = weakref.ref(loaded.pop())
    assert alive() is None, "the CLIP image encoder outlived its conditioning"
    clear_model_cache()
