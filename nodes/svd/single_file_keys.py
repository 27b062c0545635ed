"""Key maps between diffusers' SVD components and the original Stability (SGM) single file.

Why one table serves both directions: every diffusers parameter name is mapped to the SGM name
it is stored under (plus how the tensor changes on the way), so export walks the table forwards
and loading walks it backwards. The table is built from the diffusers model's own key list (a
real model for export, an empty meta-device model for loading), so both sides always agree.

The SGM names follow ComfyUI's SVD classes (openaimodel.UNetModel with temporal blocks,
temporal_ae.VideoDecoder, OpenCLIP's visual tower); tests check outputs against those classes.
No torch import here: the rules are plain strings, the tensor transforms live in `apply_*`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "conditioner.embedders.0.open_clip.model.visual."

# How a tensor changes between the two layouts.
SAME = "same"  # identical tensor
TRANSPOSE = (
    "transpose"  # OpenCLIP `proj` is [hidden, projection]; HF visual_projection is [projection, hidden]
)
SPLIT3 = "split3"  # OpenCLIP fused in_proj (q|k|v stacked on dim 0) <-> HF q_proj, k_proj, v_proj
CONV1X1 = "conv1x1"  # SGM VAE attention uses 1x1 convs [C, C, 1, 1]; diffusers uses Linear [C, C]


class Rule(NamedTuple):
    """One tensor in the single file and the diffusers parameter(s) it holds."""

    sgm_key: str
    diffusers_keys: tuple[str, ...]
    kind: str


_RESNET = {  # diffusers ResnetBlock2D name -> SGM/openaimodel ResBlock name
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _swap_first(name: str, table: dict[str, str]) -> str:
    for old, new in table.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


def _count_children(keys: Iterable[str], pattern: str) -> dict[int, int]:
    """For keys like `down_blocks.B.resnets.J...`: the number of distinct J for each B."""
    found: dict[int, set[int]] = {}
    regex = re.compile(pattern)
    for key in keys:
        match = regex.match(key)
        if match:
            found.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    return {block: len(children) for block, children in found.items()}


# --------------------------------------------------------------------------- UNet


def _unet_resnet(rest: str) -> str:
    if rest.startswith("spatial_res_block."):
        return _swap_first(rest[len("spatial_res_block.") :], _RESNET)
    if rest.startswith("temporal_res_block."):
        return "time_stack." + _swap_first(rest[len("temporal_res_block.") :], _RESNET)
    return rest  # time_mixer.mix_factor


def _unet_attention(rest: str) -> str:
    rest = _swap_first(
        rest,
        {
            "temporal_transformer_blocks": "time_stack",
            "time_pos_embed.linear_1": "time_pos_embed.0",
            "time_pos_embed.linear_2": "time_pos_embed.2",
        },
    )
    return rest


def unet_rules(diffusers_keys: Iterable[str]) -> list[Rule]:
    """Rules for UNetSpatioTemporalConditionModel <-> `model.diffusion_model.*`.

    SGM numbers its blocks flat: input_blocks[0] is conv_in, then each level contributes its
    resnets (with their attention at sub-index 1) and a downsampler; output_blocks mirror that,
    with the upsampler after the attention (sub-index 2) or after the resnet (sub-index 1).
    """
    keys = list(diffusers_keys)
    down_resnets = _count_children(keys, r"down_blocks\.(\d+)\.resnets\.(\d+)\.")
    up_resnets = _count_children(keys, r"up_blocks\.(\d+)\.resnets\.(\d+)\.")
    up_with_attention = {int(k.split(".")[1]) for k in keys if re.match(r"up_blocks\.\d+\.attentions\.", k)}

    def down_start(block: int) -> int:
        return 1 + sum(down_resnets.get(b, 0) + 1 for b in range(block))

    def up_start(block: int) -> int:
        return sum(up_resnets.get(b, 0) for b in range(block))

    top = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    rules = []
    for key in keys:
        parts = key.split(".")
        if parts[0] == "down_blocks":
            block, kind, index, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets":
                sgm = f"input_blocks.{down_start(block) + index}.0.{_unet_resnet(rest)}"
            elif kind == "attentions":
                sgm = f"input_blocks.{down_start(block) + index}.1.{_unet_attention(rest)}"
            else:  # downsamplers.0.conv.*
                sgm = f"input_blocks.{down_start(block) + down_resnets[block]}.0.op.{parts[-1]}"
        elif parts[0] == "up_blocks":
            block, kind, index, rest = int(parts[1]), parts[2], int(parts[3]), ".".join(parts[4:])
            if kind == "resnets":
                sgm = f"output_blocks.{up_start(block) + index}.0.{_unet_resnet(rest)}"
            elif kind == "attentions":
                sgm = f"output_blocks.{up_start(block) + index}.1.{_unet_attention(rest)}"
            else:  # upsamplers.0.conv.*
                last = up_start(block) + up_resnets[block] - 1
                sub = 2 if block in up_with_attention else 1
                sgm = f"output_blocks.{last}.{sub}.conv.{parts[-1]}"
        elif parts[0] == "mid_block":
            kind, index, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            if kind == "resnets":
                sgm = f"middle_block.{2 * index}.{_unet_resnet(rest)}"
            else:
                sgm = f"middle_block.1.{_unet_attention(rest)}"
        else:
            sgm = _swap_first(key, top)
        rules.append(Rule(UNET_PREFIX + sgm, (key,), SAME))
    return rules


# --------------------------------------------------------------------------- VAE


def _vae_resnet(rest: str) -> str:
    return _swap_first(rest, {"conv_shortcut": "nin_shortcut"})


def _vae_temporal_resnet(rest: str) -> str:
    if rest.startswith("spatial_res_block."):
        return _vae_resnet(rest[len("spatial_res_block.") :])
    if rest.startswith("temporal_res_block."):
        return "time_stack." + _swap_first(rest[len("temporal_res_block.") :], _RESNET)
    return _swap_first(rest, {"time_mixer.mix_factor": "mix_factor"})


def vae_rules(diffusers_keys: Iterable[str]) -> list[Rule]:
    """Rules for AutoencoderKLTemporalDecoder <-> `first_stage_model.*`.

    SGM's decoder counts `up.N` from the lowest resolution backwards (up.{n-1} runs first);
    diffusers' up_blocks run in list order, so the index is reversed. The temporal decoder's
    final Conv3d lives inside SGM's conv_out (`conv_out.time_mix_conv`).
    """
    keys = list(diffusers_keys)
    n_up = len({k.split(".")[2] for k in keys if k.startswith("decoder.up_blocks.")})
    rules = []
    for key in keys:
        parts = key.split(".")
        kind = SAME
        if parts[0] == "quant_conv":
            sgm = key  # absent from Stability's files (identity there); kept when not identity
        elif parts[0] in ("encoder", "decoder"):
            side, rest = parts[0], ".".join(parts[1:])
            if rest.startswith("down_blocks."):
                block, sub, index, tail = parts[2], parts[3], parts[4], ".".join(parts[5:])
                if sub == "resnets":
                    sgm_rest = f"down.{block}.block.{index}.{_vae_resnet(tail)}"
                else:
                    sgm_rest = f"down.{block}.downsample.{tail}"
            elif rest.startswith("up_blocks."):
                block, sub, index, tail = int(parts[2]), parts[3], parts[4], ".".join(parts[5:])
                level = n_up - 1 - block
                if sub == "resnets":
                    sgm_rest = f"up.{level}.block.{index}.{_vae_temporal_resnet(tail)}"
                else:
                    sgm_rest = f"up.{level}.upsample.{tail}"
            elif rest.startswith("mid_block.resnets."):
                index, tail = int(parts[3]), ".".join(parts[4:])
                inner = _vae_temporal_resnet(tail) if side == "decoder" else _vae_resnet(tail)
                sgm_rest = f"mid.block_{index + 1}.{inner}"
            elif rest.startswith("mid_block.attentions."):
                tail = ".".join(parts[4:])
                sgm_rest = "mid.attn_1." + _swap_first(tail, _VAE_ATTN)
                if tail.endswith("weight") and not tail.startswith("group_norm"):
                    kind = CONV1X1
            else:
                sgm_rest = _swap_first(
                    rest, {"conv_norm_out": "norm_out", "time_conv_out": "conv_out.time_mix_conv"}
                )
            sgm = f"{side}.{sgm_rest}"
        else:
            raise KeyError(f"unexpected VAE parameter {key!r}")
        rules.append(Rule(VAE_PREFIX + sgm, (key,), kind))
    return rules


# --------------------------------------------------------------------------- CLIP vision


def clip_rules(diffusers_keys: Iterable[str]) -> list[Rule]:
    """Rules for transformers' CLIPVisionModelWithProjection <-> OpenCLIP's `visual.*`.

    OpenCLIP fuses q/k/v into one `in_proj_weight` (q rows first), so three HF tensors share
    one rule; `proj` is stored transposed (x @ proj) compared to HF's Linear weight.
    """
    top = {
        "vision_model.embeddings.class_embedding": ("class_embedding", SAME),
        "vision_model.embeddings.patch_embedding.weight": ("conv1.weight", SAME),
        "vision_model.embeddings.position_embedding.weight": ("positional_embedding", SAME),
        "visual_projection.weight": ("proj", TRANSPOSE),
    }
    layer_map = {
        "self_attn.out_proj": "attn.out_proj",
        "layer_norm1": "ln_1",
        "layer_norm2": "ln_2",
        "mlp.fc1": "mlp.c_fc",
        "mlp.fc2": "mlp.c_proj",
    }
    rules: list[Rule] = []
    fused: dict[str, dict[str, str]] = {}
    for key in diffusers_keys:
        if key in top:
            sgm, kind = top[key]
            rules.append(Rule(CLIP_PREFIX + sgm, (key,), kind))
            continue
        match = re.match(r"vision_model\.encoder\.layers\.(\d+)\.(.+)$", key)
        if match:
            layer, rest = match.group(1), match.group(2)
            qkv = re.match(r"self_attn\.([qkv])_proj\.(weight|bias)$", rest)
            if qkv:
                sgm = f"{CLIP_PREFIX}transformer.resblocks.{layer}.attn.in_proj_{qkv.group(2)}"
                fused.setdefault(sgm, {})[qkv.group(1)] = key
                continue
            rules.append(
                Rule(
                    f"{CLIP_PREFIX}transformer.resblocks.{layer}.{_swap_first(rest, layer_map)}", (key,), SAME
                )
            )
            continue
        rest = _swap_first(
            key, {"vision_model.pre_layrnorm": "ln_pre", "vision_model.post_layernorm": "ln_post"}
        )
        if rest == key:
            raise KeyError(f"unexpected CLIP vision parameter {key!r}")
        rules.append(Rule(CLIP_PREFIX + rest, (key,), SAME))
    for sgm, parts in fused.items():
        rules.append(Rule(sgm, (parts["q"], parts["k"], parts["v"]), SPLIT3))
    return rules


# --------------------------------------------------------------------------- tensor transforms


def to_sgm(rule: Rule, tensors: list):
    """The single-file tensor for `rule`, given its diffusers tensor(s) in rule order."""
    import torch

    if rule.kind == SPLIT3:
        return torch.cat(tensors, dim=0)
    (tensor,) = tensors
    if rule.kind == TRANSPOSE:
        return tensor.t().contiguous()
    if rule.kind == CONV1X1:
        return tensor.reshape(*tensor.shape, 1, 1)
    return tensor


def from_sgm(rule: Rule, tensor) -> list:
    """The diffusers tensor(s) for `rule`, given the single-file tensor."""
    if rule.kind == SPLIT3:
        if tensor.shape[0] % 3:
            raise ValueError(f"{rule.sgm_key} has {tensor.shape[0]} rows, not a multiple of 3 (q|k|v)")
        return list(tensor.chunk(3, dim=0))
    if rule.kind == TRANSPOSE:
        return [tensor.t().contiguous()]
    if rule.kind == CONV1X1:
        return [tensor.reshape(tensor.shape[0], tensor.shape[1])]
    return [tensor]
