"""diffusers / transformers configs for an SVD single file, inferred from tensor shapes.

Why shapes and not a yaml: ComfyUI users have only the .safetensors file. Almost everything is
in the shapes; what is not (attention heads, num_frames, sample sizes, the VAE scaling factor) comes
from, in order: the JSON hints that `export_single_file` stores in the file's metadata under
HINTS_KEY, then the rules of the released models:
- UNet heads = channels / 64 (SGM's num_head_channels=64, as ComfyUI's SVD_img2vid says);
- CLIP heads: OpenCLIP ViT-H/14 (width 1280) has 16 heads of 80, not 1280/64; other widths use
  OpenCLIP's 64-wide heads, except the known 16-head towers (ViT-g 1408, ViT-bigG 1664);
- num_frames: 25 (SVD-XT) when the file name says "xt", 14 when it says "svd" without "xt",
  otherwise 25. Both releases share one architecture, so the name is the only clue; the frame
  count is a default the user can override per run anyway.
No torch import here: this works on (key -> shape) only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from .single_file_keys import CLIP_PREFIX, UNET_PREFIX, VAE_PREFIX

HINTS_KEY = "svd_suite"  # safetensors metadata key holding a JSON object of hints
SGM_HEAD_CHANNELS = 64
OPENCLIP_HEADS_BY_WIDTH = {1280: 16, 1408: 16, 1664: 16}  # ViT-H/14, ViT-g/14, ViT-bigG/14
SVD_UNET_SAMPLE_SIZE = 96
SVD_VAE_SAMPLE_SIZE = 768
SVD_VAE_SCALING_FACTOR = 0.18215
SVD_FRAMES, SVD_XT_FRAMES = 14, 25

Shapes = Mapping[str, Sequence[int]]


def frames_from_name(name: str | None) -> int:
    """SVD-XT (25) or SVD (14) from a file name; 25 when the name says neither."""
    stem = os.path.basename(name or "").lower()
    words = set(re.split(r"[^a-z0-9]+", stem))
    if "xt" in words or "svdxt" in words or "svd_xt" in stem:
        return SVD_XT_FRAMES
    if any(word.startswith("svd") for word in words):
        return SVD_FRAMES
    return SVD_XT_FRAMES


def _strip(shapes: Shapes, prefix: str) -> dict[str, tuple[int, ...]]:
    return {k[len(prefix) :]: tuple(v) for k, v in shapes.items() if k.startswith(prefix)}


def _count(keys, pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for k in keys if (m := regex.match(k))})


def _uniform(values: list[int]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else tuple(values)


def _require(shapes: dict, key: str, part: str) -> tuple[int, ...]:
    if key not in shapes:
        raise ValueError(f"cannot infer the {part} config: tensor {key!r} is missing from the file")
    return shapes[key]


def infer_unet_config(shapes: Shapes, hints: Mapping | None = None, name: str | None = None) -> dict:
    """UNetSpatioTemporalConditionModel kwargs from `model.diffusion_model.*` shapes."""
    hints = dict(hints or {})
    s = _strip(shapes, UNET_PREFIX)
    conv_in = _require(s, "input_blocks.0.0.weight", "UNet")
    in_channels = conv_in[1]
    out_channels = _require(s, "out.2.weight", "UNet")[0]
    n_input = _count(s, r"input_blocks\.(\d+)\.")
    channels, layers, attention, depth = [], [], [], []
    resnets = 0
    for i in range(1, n_input):
        if f"input_blocks.{i}.0.op.weight" in s:
            layers.append(resnets)
            resnets = 0
            continue
        if resnets == 0:
            channels.append(_require(s, f"input_blocks.{i}.0.out_layers.3.weight", "UNet")[0])
            attention.append(f"input_blocks.{i}.1.proj_in.weight" in s)
            depth.append(_count(s, rf"input_blocks\.{i}\.1\.transformer_blocks\.(\d+)\.") or 1)
        resnets += 1
    layers.append(resnets)
    if not channels:
        raise ValueError(
            "cannot infer the UNet config: no resnet blocks under model.diffusion_model.input_blocks"
        )

    cross_attention_dim = next(
        (v[1] for k, v in s.items() if k.endswith("transformer_blocks.0.attn2.to_k.weight")), None
    )
    adm_in = _require(s, "label_emb.0.0.weight", "UNet")[1]
    if adm_in % 3:
        raise ValueError(
            f"the UNet takes {adm_in} added-time inputs, not 3 embeddings: not an SVD img2vid UNet"
        )
    if "num_attention_heads" in hints:
        heads = tuple(int(h) for h in hints["num_attention_heads"])
    else:
        head_dim = int(hints.get("num_head_channels", SGM_HEAD_CHANNELS))
        bad = [c for c in channels if c % head_dim]
        if bad:
            raise ValueError(
                f"cannot infer UNet attention heads: {bad} channels are not a multiple of {head_dim} "
                "(the SGM head width); the file has no svd_suite hints to say otherwise"
            )
        heads = tuple(c // head_dim for c in channels)
    if len(heads) != len(channels):
        raise ValueError(f"UNet hint num_attention_heads={heads} does not match {len(channels)} levels")
    down = tuple("CrossAttnDownBlockSpatioTemporal" if a else "DownBlockSpatioTemporal" for a in attention)
    up = tuple(
        "CrossAttnUpBlockSpatioTemporal" if a else "UpBlockSpatioTemporal" for a in reversed(attention)
    )
    return dict(
        sample_size=int(hints.get("sample_size", SVD_UNET_SAMPLE_SIZE)),
        in_channels=in_channels,
        out_channels=out_channels,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=tuple(channels),
        addition_time_embed_dim=adm_in // 3,
        projection_class_embeddings_input_dim=adm_in,
        layers_per_block=_uniform(layers),
        cross_attention_dim=cross_attention_dim if cross_attention_dim is not None else 1024,
        transformer_layers_per_block=_uniform(depth),
        num_attention_heads=heads,
        num_frames=int(hints.get("num_frames", frames_from_name(name))),
    )


def infer_vae_config(shapes: Shapes, hints: Mapping | None = None) -> dict:
    """AutoencoderKLTemporalDecoder kwargs from `first_stage_model.*` shapes."""
    hints = dict(hints or {})
    s = _strip(shapes, VAE_PREFIX)
    conv_in = _require(s, "encoder.conv_in.weight", "VAE")
    levels = _count(s, r"encoder\.down\.(\d+)\.")
    if levels == 0:
        raise ValueError("cannot infer the VAE config: no first_stage_model.encoder.down.* tensors")
    channels = tuple(_require(s, f"encoder.down.{i}.block.0.conv2.weight", "VAE")[0] for i in range(levels))
    layers = _count(s, r"encoder\.down\.0\.block\.(\d+)\.")
    decoder_mid = _count(s, r"decoder\.mid\.block_(\d+)\.")
    if decoder_mid != layers:
        # diffusers' temporal decoder builds `layers_per_block` mid resnets; SGM always has two.
        raise ValueError(
            f"this VAE cannot be represented in diffusers: {layers} resnets per level but "
            f"{decoder_mid} decoder mid resnets (diffusers needs them equal)"
        )
    return dict(
        in_channels=conv_in[1],
        out_channels=_require(s, "decoder.conv_out.weight", "VAE")[0],
        down_block_types=("DownEncoderBlock2D",) * levels,
        block_out_channels=channels,
        layers_per_block=layers,
        latent_channels=_require(s, "encoder.conv_out.weight", "VAE")[0] // 2,
        sample_size=int(hints.get("sample_size", SVD_VAE_SAMPLE_SIZE)),
        scaling_factor=float(hints.get("scaling_factor", SVD_VAE_SCALING_FACTOR)),
        force_upcast=bool(hints.get("force_upcast", True)),
    )


def infer_clip_config(shapes: Shapes, hints: Mapping | None = None) -> dict:
    """transformers CLIPVisionConfig kwargs from OpenCLIP `visual.*` shapes."""
    hints = dict(hints or {})
    s = _strip(shapes, CLIP_PREFIX)
    hidden = _require(s, "class_embedding", "CLIP vision")[0]
    conv1 = _require(s, "conv1.weight", "CLIP vision")
    positions = _require(s, "positional_embedding", "CLIP vision")[0]
    patch = conv1[-1]
    grid = round((positions - 1) ** 0.5)
    if grid * grid != positions - 1:
        raise ValueError(
            f"CLIP positional_embedding has {positions} rows, not 1 + a square number of patches"
        )
    heads = int(hints.get("num_attention_heads", OPENCLIP_HEADS_BY_WIDTH.get(hidden, max(1, hidden // 64))))
    return dict(
        hidden_size=hidden,
        intermediate_size=_require(s, "transformer.resblocks.0.mlp.c_fc.weight", "CLIP vision")[0],
        projection_dim=_require(s, "proj", "CLIP vision")[1],
        num_hidden_layers=_count(s, r"transformer\.resblocks\.(\d+)\."),
        num_attention_heads=heads,
        num_channels=conv1[1],
        image_size=grid * patch,
        patch_size=patch,
        hidden_act="gelu",  # OpenCLIP's ViT uses exact GELU
        layer_norm_eps=1e-5,
    )


def infer_configs(keys_and_shapes: Shapes, hints: Mapping | None = None, name: str | None = None):
    """(unet_config, vae_config, clip_config) for a single file's key -> shape mapping.

    `hints` is the parsed HINTS_KEY metadata ({"unet": {...}, "vae": {...}, "clip": {...}});
    `name` is the file name, used only for the SVD / SVD-XT frame-count default.
    """
    hints = dict(hints or {})
    return (
        infer_unet_config(keys_and_shapes, hints.get("unet"), name),
        infer_vae_config(keys_and_shapes, hints.get("vae")),
        infer_clip_config(keys_and_shapes, hints.get("clip")),
    )
