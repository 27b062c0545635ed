"""The CLIP image encoder streamed from disk block by block (the CPU "release" policy)."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPVisionModelWithProjection

from dev.pack import load_pack
from dev.tiny_svd import save_tiny_svd

load_pack()
from svd_suite.nodes.svd import clear_model_cache, load_svd_model, streaming  # noqa: E402


@pytest.fixture(scope="module")
def fp16_only_dir(tmp_path_factory):
    return save_tiny_svd(tmp_path_factory.mktemp("fp16") / "svd-fp16", fp16_variant=True)


def pixels():
    return torch.linspace(-2, 2, 3 * 224 * 224).reshape(1, 3, 224, 224)


def all_on_meta(model) -> bool:
    return all(p.device.type == "meta" for p in model.parameters())


@pytest.mark.parametrize("unit_bytes", [streaming.UNIT_BYTES, 0], ids=["default-units", "smallest-units"])
def test_streamed_encoder_equals_from_pretrained_and_holds_no_weights_after(
    tiny_svd_dir, monkeypatch, unit_bytes
):
    monkeypatch.setattr(streaming, "UNIT_BYTES", unit_bytes)
    reference = CLIPVisionModelWithProjection.from_pretrained(tiny_svd_dir, subfolder="image_encoder").eval()
    streamed = streaming.load_streaming(
        CLIPVisionModelWithProjection, str(tiny_svd_dir), "image_encoder", "model", None, torch.float32
    )
    assert all_on_meta(streamed)  # nothing read before it runs
    with torch.no_grad():
        expected = reference(pixels()).image_embeds
        got = streamed(pixels()).image_embeds
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert all_on_meta(streamed)  # and nothing kept after


def test_streamed_fp16_variant_is_cast_like_from_pretrained(fp16_only_dir):
    reference = CLIPVisionModelWithProjection.from_pretrained(
        fp16_only_dir, subfolder="image_encoder", variant="fp16", dtype=torch.float32
    ).eval()
    streamed = streaming.load_streaming(
        CLIPVisionModelWithProjection, str(fp16_only_dir), "image_encoder", "model", "fp16", torch.float32
    )
    with torch.no_grad():
        torch.testing.assert_close(
            streamed(pixels()).image_embeds, reference(pixels()).image_embeds, rtol=0, atol=1e-6
        )


def test_cpu_release_policy_streams_the_image_encoder(tiny_svd_dir):
    clear_model_cache()
    model = load_svd_model(str(tiny_svd_dir))
    assert model.offload == "release" and model.image_encoder is None
    encoder = model.image_encoder_loader()
    assert all_on_meta(encoder)


def test_weights_under_other_names_fall_back_to_loading_whole(tiny_svd_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "svd"
    shutil.copytree(tiny_svd_dir, folder)
    weights = folder / "image_encoder" / "model.safetensors"
    tensors = load_file(weights)
    renamed = next(k for k in tensors if k.startswith("visual_projection"))
    tensors["old_name." + renamed] = tensors.pop(renamed)
    save_file(tensors, weights)
    with pytest.raises(KeyError, match="visual_projection"):
        streaming.load_streaming(
            CLIPVisionModelWithProjection, str(folder), "image_encoder", "model", None, torch.float32
        )
    clear_model_cache()
    encoder = load_svd_model(str(folder)).image_encoder_loader()
    assert not all_on_meta(encoder)  # from_pretrained loaded it whole instead
    clear_model_cache()
