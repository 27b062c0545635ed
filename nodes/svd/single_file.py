"""Stable Video Diffusion single-file checkpoints (svd.safetensors, svd_xt.safetensors).

Most ComfyUI users keep SVD as one file in models/checkpoints, in Stability's original (SGM)
layout, which diffusers 0.42 cannot load. This module recognises such files from their
safetensors header alone (cheap enough to filter a whole folder), and converts them into the
diffusers / transformers components the rest of the pack uses, reading one tensor at a time
into models built on the meta device, so converting needs about the file's size in memory.

Key maps: single_file_keys.py. Config inference from shapes: single_file_config.py.
Reading headers and tensors (no mmap): single_file_io.py.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

from ..comfy import log, model_folders
from .single_file_config import HINTS_KEY, infer_configs
from .single_file_io import TensorReader, read_header
from .single_file_keys import (
    CLIP_PREFIX,
    UNET_PREFIX,
    VAE_PREFIX,
    clip_rules,
    from_sgm,
    to_sgm,
    unet_rules,
    vae_rules,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "is_svd_checkpoint",
    "svd_checkpoint_problems",
    "list_svd_checkpoints",
    "checkpoint_path",
    "load_single_file",
    "export_single_file",
    "single_file_state_dict",
    "infer_configs",
    "SCHEDULER_CONFIG",
    "IMAGE_MEAN",
    "IMAGE_STD",
]

SUFFIXES = (".safetensors", ".sft")  # header-only detection needs safetensors; pickles are never opened

# The EulerDiscreteScheduler config released with SVD and SVD-XT (docs/svd_notes.md §2 scheduler_cfg).
SCHEDULER_CONFIG: dict[str, Any] = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    trained_betas=None, prediction_type="v_prediction", interpolation_type="linear", use_karras_sigmas=True,
    sigma_min=0.002, sigma_max=700.0, timestep_spacing="leading", timestep_type="continuous", steps_offset=1,
)  # fmt: skip
# OpenCLIP's normalisation constants (the same numbers as CLIPImageProcessor's defaults).
IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]

# What makes a file SVD: (description, key prefix, substrings of which one must appear after it).
_SIGNATURE = (
    ("a temporal UNet (model.diffusion_model.* with time_stack/time_mixer)", UNET_PREFIX, (".time_stack.", ".time_mixer.")),
    ("a temporal VAE decoder (first_stage_model.decoder.* with time_mix_conv/time_stack)",
     VAE_PREFIX + "decoder.", ("time_mix_conv", ".time_stack.")),
    ("an OpenCLIP image encoder (conditioner.embedders.0.open_clip.*visual*)",
     "conditioner.embedders.0.open_clip.", ("visual",)),
)  # fmt: skip


# --------------------------------------------------------------------------- detection


def _problems_for_header(header: dict[str, dict]) -> list[str]:
    problems = []
    for description, prefix, markers in _SIGNATURE:
        if not any(k.startswith(prefix) and any(m in k[len(prefix) :] for m in markers) for k in header):
            problems.append(f"no {description}")
    # SVD's UNet embeds 3 added-time ids (fps-1, motion bucket, augmentation); SV3D has the same
    # key families but embeds 1 or 5 values, which this pipeline cannot drive.
    adm = header.get(UNET_PREFIX + "label_emb.0.0.weight", {}).get("shape")
    if adm and len(adm) == 2 and adm[1] % 3:
        problems.append(
            f"the UNet takes {adm[1]} added-time inputs, not 3 embeddings (fps, motion, augmentation): "
            "an SV3D or other non-img2vid model"
        )
    return problems


def svd_checkpoint_problems(path: str) -> list[str]:
    """Why `path` is not an SVD single file (empty list when it is one)."""
    if not str(path).lower().endswith(SUFFIXES):
        return ["only .safetensors single files are read (pickled .ckpt/.pt files are never opened)"]
    try:
        header, _ = read_header(path)
    except (OSError, ValueError) as exc:
        return [f"unreadable safetensors header ({exc})"]
    return _problems_for_header(header)


def is_svd_checkpoint(path: str) -> bool:
    """True when the file's safetensors header has SVD's UNet, temporal VAE and OpenCLIP keys."""
    return not svd_checkpoint_problems(path)


_cache: dict[str, tuple[int, int, bool]] = {}
_cache_lock = threading.Lock()


def _cached_is_svd(path: str) -> bool:
    """is_svd_checkpoint, remembered per (path, mtime, size) so repeated listings stay fast."""
    try:
        stat = os.stat(path)
    except OSError:
        return False
    with _cache_lock:
        hit = _cache.get(path)
    if hit is not None and hit[0] == stat.st_mtime_ns and hit[1] == stat.st_size:
        return hit[2]
    result = is_svd_checkpoint(path)
    with _cache_lock:
        _cache[path] = (stat.st_mtime_ns, stat.st_size, result)
    return result


def _walk_files(folder: str):
    """Files under `folder` (following links, as ComfyUI does), each real directory once."""
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(root, name)


def list_svd_checkpoints() -> list[str]:
    """Names (relative to a checkpoints folder, as ComfyUI lists them) of SVD single files."""
    names: set[str] = set()
    for folder in model_folders("checkpoints"):
        if not os.path.isdir(folder):
            continue
        for full in _walk_files(folder):
            if full.lower().endswith(SUFFIXES) and _cached_is_svd(full):
                names.add(os.path.relpath(full, folder))
    return sorted(names)


def checkpoint_path(name: str) -> str:
    """The full path of a listed checkpoint name; ValueError if missing or not an SVD file."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"checkpoint name must be a file name from models/checkpoints, got {name!r}")
    folders = model_folders("checkpoints")
    for folder in folders:
        base = os.path.abspath(folder)
        full = os.path.abspath(os.path.join(base, name))
        try:
            inside = os.path.commonpath([full, base]) == base
        except ValueError:  # different drives (Windows)
            inside = False
        if not inside:
            continue  # "../" escapes and absolute paths are not checkpoint names
        if os.path.isfile(full):
            problems = svd_checkpoint_problems(full)
            if problems:
                raise ValueError(
                    f"checkpoint {name!r} is not an SVD checkpoint: {'; '.join(problems)}. "
                    "Use Stability's svd.safetensors / svd_xt.safetensors, or a diffusers SVD folder."
                )
            return full
    raise ValueError(
        f"checkpoint {name!r} was not found in the checkpoints folders {folders}; "
        "put svd.safetensors or svd_xt.safetensors in ComfyUI/models/checkpoints"
    )


# --------------------------------------------------------------------------- loading


def _parse_hints(metadata: dict[str, str]) -> dict:
    raw = metadata.get(HINTS_KEY)
    if not raw:
        return {}
    try:
        hints = json.loads(raw)
    except ValueError:
        log.warning("ignoring unreadable %s metadata in a single-file checkpoint", HINTS_KEY)
        return {}
    return hints if isinstance(hints, dict) else {}


def _as_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
             "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}  # fmt: skip
    if str(dtype).lower() not in names:
        raise ValueError(f"dtype {dtype!r} is not supported; use one of {sorted(names)} or a torch.dtype")
    return names[str(dtype).lower()]


def _identity_quant_conv(latent_channels: int, dtype, device) -> tuple[Any, Any]:
    """Stability's VAE has no quant_conv: diffusers' 1x1 conv must then pass moments through."""
    import torch

    size = 2 * latent_channels
    weight = torch.eye(size, dtype=dtype or torch.float32, device=device).reshape(size, size, 1, 1)
    return weight, torch.zeros(size, dtype=dtype or torch.float32, device=device)


def _fill(model, rules, handle: TensorReader, dtype, device, part: str) -> None:
    """Read each rule's tensor once, convert, and assign it into the meta-device `model`."""
    state = {}
    missing = []
    for rule in rules:
        if rule.sgm_key not in handle:
            if rule.sgm_key == VAE_PREFIX + "quant_conv.weight":
                continue
            if rule.sgm_key == VAE_PREFIX + "quant_conv.bias":
                continue
            missing.append(rule.sgm_key)
            continue
        # A cast copies anyway, so read into a reused buffer: the file-dtype copy is never kept.
        casting = dtype is not None and handle.dtype_of(rule.sgm_key) != dtype
        tensor = handle.get_tensor(rule.sgm_key, reuse_buffer=casting)
        for key, value in zip(rule.diffusers_keys, from_sgm(rule, tensor), strict=True):
            state[key] = (
                value.to(device=device, dtype=dtype) if (dtype is not None or device is not None) else value
            )
        del tensor
    if part == "VAE" and "quant_conv.weight" not in state:
        state["quant_conv.weight"], state["quant_conv.bias"] = _identity_quant_conv(
            model.config.latent_channels, dtype, device
        )
    if missing:
        raise ValueError(
            f"the {part} in this SVD checkpoint is incomplete: {len(missing)} tensors missing, e.g. {missing[:3]}"
        )
    expected = dict(model.state_dict())
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"the {part} tensor for {key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)} "
                "from the inferred config"
            )
    model.load_state_dict(state, strict=True, assign=True)
    if any(p.is_meta for p in model.parameters()):
        raise ValueError(f"the {part} was not fully loaded from the checkpoint")


def load_single_file(
    path: str, dtype: torch.dtype | str | None = None, device: torch.device | str | None = None
) -> tuple[Any, Any, Any, dict, list, list]:
    """Convert an SVD single file into diffusers components.

    Returns (unet, vae, image_encoder, scheduler_config, image_mean, image_std): a
    UNetSpatioTemporalConditionModel, an AutoencoderKLTemporalDecoder, a transformers
    CLIPVisionModelWithProjection (all in eval mode, in `dtype` on `device`; None keeps the file's
    dtype and the CPU), the SVD EulerDiscreteScheduler config, and CLIP's normalisation constants.
    """
    import torch
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    path = os.fspath(path)
    problems = svd_checkpoint_problems(path)
    if problems:
        raise ValueError(f"{os.path.basename(path)} is not an SVD checkpoint: {'; '.join(problems)}")
    dtype = _as_dtype(dtype)
    device = torch.device(device) if device is not None else None
    header, metadata = read_header(path)
    shapes = {key: info["shape"] for key, info in header.items()}
    unet_cfg, vae_cfg, clip_cfg = infer_configs(shapes, _parse_hints(metadata), os.path.basename(path))

    with init_empty_weights():
        unet = UNetSpatioTemporalConditionModel(**unet_cfg)
        vae = AutoencoderKLTemporalDecoder(**vae_cfg)
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**clip_cfg))

    reader = TensorReader(path, header)
    try:
        _fill(unet, unet_rules(unet.state_dict()), reader, dtype, device, "UNet")
        _fill(vae, vae_rules(vae.state_dict()), reader, dtype, device, "VAE")
        _fill(image_encoder, clip_rules(image_encoder.state_dict()), reader, dtype, device, "CLIP")
    finally:
        reader.close()
    ignored = [k for k in header if not k.startswith((UNET_PREFIX, VAE_PREFIX, CLIP_PREFIX))]
    if ignored:
        log.info(
            "single file %s: ignored %d tensors outside the UNet/VAE/CLIP",
            os.path.basename(path),
            len(ignored),
        )
    return (
        unet.eval(),
        vae.eval(),
        image_encoder.eval(),
        dict(SCHEDULER_CONFIG),
        list(IMAGE_MEAN),
        list(IMAGE_STD),
    )


# --------------------------------------------------------------------------- export


def _is_identity_quant_conv(weight, bias) -> bool:
    import torch

    if weight.is_meta or weight.shape[0] != weight.shape[1]:
        return False
    eye = torch.eye(weight.shape[0], dtype=weight.dtype, device=weight.device)
    return bool(torch.equal(weight.reshape(eye.shape), eye) and torch.count_nonzero(bias) == 0)


def single_file_state_dict(unet, vae, image_encoder) -> dict:
    """The SGM-layout state dict for three diffusers/transformers components (works on meta too)."""
    result = {}
    for model, make_rules in ((unet, unet_rules), (vae, vae_rules), (image_encoder, clip_rules)):
        state = model.state_dict()
        for rule in make_rules(state.keys()):
            result[rule.sgm_key] = to_sgm(rule, [state[k] for k in rule.diffusers_keys])
    weight, bias = result.get(VAE_PREFIX + "quant_conv.weight"), result.get(VAE_PREFIX + "quant_conv.bias")
    if weight is not None and _is_identity_quant_conv(weight, bias):
        del result[VAE_PREFIX + "quant_conv.weight"], result[VAE_PREFIX + "quant_conv.bias"]
    return result


def _hints(unet, vae, image_encoder) -> dict:
    """What shapes cannot tell (see single_file_config), stored so the file loads back exactly."""
    return {
        "format_version": 1,
        "unet": {
            "num_attention_heads": [int(h) for h in _as_list(unet.config.num_attention_heads, unet)],
            "num_frames": int(unet.config.num_frames),
            "sample_size": int(unet.config.sample_size),
        },
        "vae": {
            "scaling_factor": float(vae.config.scaling_factor),
            "sample_size": int(vae.config.sample_size),
            "force_upcast": bool(vae.config.force_upcast),
        },
        "clip": {"num_attention_heads": int(image_encoder.config.num_attention_heads)},
    }


def _as_list(value, unet) -> list:
    if isinstance(value, int):
        return [value] * len(unet.config.block_out_channels)
    return list(value)


def export_single_file(unet, vae, image_encoder, path: str) -> str:
    """Write the components as one SGM-layout .safetensors (ComfyUI's checkpoint layout).

    The write is atomic and never replaces an existing file. Returns the path.
    A quant_conv that is not the identity is kept as `first_stage_model.quant_conv.*` (Stability's
    files have none; ComfyUI ignores it), so any diffusers VAE round-trips exactly.
    """
    from safetensors.torch import save_file

    path = os.fspath(path)
    if not path.lower().endswith(SUFFIXES):
        raise ValueError(f"path {path!r} must end with .safetensors")
    if os.path.exists(path):
        raise FileExistsError(f"{path} already exists; export never overwrites a file")
    state = {
        k: v.detach().to("cpu").contiguous()
        for k, v in single_file_state_dict(unet, vae, image_encoder).items()
    }
    metadata = {"format": "pt", HINTS_KEY: json.dumps(_hints(unet, vae, image_encoder))}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        save_file(state, temp, metadata=metadata)
        try:
            os.link(temp, path)  # fails instead of replacing a file that appeared meanwhile
        except FileExistsError:
            raise FileExistsError(f"{path} already exists; export never overwrites a file") from None
        except OSError:  # no hard links on this filesystem
            if os.path.exists(path):
                raise FileExistsError(f"{path} already exists; export never overwrites a file") from None
            os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path
