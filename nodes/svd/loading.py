"""Loading SVD components into an SVDModel, with a one-entry cache.

Components are loaded individually (not as a StableVideoDiffusionPipeline) so each can be placed
and released on its own, and only the scheduler *config* is kept: the Euler scheduler is stateful,
so every sampling run builds a fresh one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections import OrderedDict
from typing import Any

from .. import comfy
from .discovery import folder_fingerprint, inspect_svd_folder
from .memory import trim_heap_when_freed
from .placement import manage_components, place_at_load, resolve_offload
from .speed import SpeedOptions, apply_speed_options
from .types import SVDModel

log = logging.getLogger("svd_suite")

DTYPE_CHOICES = ("auto", "fp32", "fp16", "bf16")
# OpenAI CLIP normalisation, which every released SVD feature_extractor uses.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CACHE_SIZE = 1  # one real SVD-XT is 4-8 GiB: never keep a second one alive for a cache hit

# Outside ComfyUI the cache holds the model; inside, it holds only a weak reference: ComfyUI's
# own caches decide how long a model lives (as for its checkpoints), so "Unload models" +
# "free memory" (POST /free) really frees it, and ours merely avoids a second copy.
_cache: OrderedDict[tuple, SVDModel | weakref.ref] = OrderedDict()
_cache_lock = threading.Lock()


def resolve_dtype(dtype: str, device):
    """torch dtype for the `dtype` choice on `device`.

    auto = fp16 on accelerators, fp32 on CPU. fp16 on CPU is refused rather than silently
    replaced: it runs about 30x slower than fp32 there, and a quiet fallback would make the
    choice meaningless.
    """
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"dtype: {dtype!r} is not one of {list(DTYPE_CHOICES)}")
    if dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.float16
    if dtype == "fp16" and device.type == "cpu":
        raise ValueError(
            "dtype: 'fp16' is not supported on CPU (about 30x slower than fp32 there). "
            "Use 'auto' or 'fp32' (exact) or 'bf16' (faster, slightly different results)."
        )
    return table[dtype]


def _validate_chunk_hint(decode_chunk_size: Any) -> int:
    if (
        isinstance(decode_chunk_size, bool)
        or not isinstance(decode_chunk_size, int)
        or not (0 <= decode_chunk_size <= 128)
    ):
        raise ValueError(f"decode_chunk_size: {decode_chunk_size!r} must be an integer 0-128 (0 = no hint)")
    return decode_chunk_size


def _read_image_norm(folder: str) -> tuple[tuple, tuple]:
    path = os.path.join(folder, "feature_extractor", "preprocessor_config.json")
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        return tuple(float(v) for v in cfg["image_mean"]), tuple(float(v) for v in cfg["image_std"])
    except FileNotFoundError:
        log.info("SVD Suite: %s has no feature_extractor; using the CLIP mean/std", folder)
        return CLIP_MEAN, CLIP_STD
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{folder}: feature_extractor/preprocessor_config.json is unusable ({exc})"
        ) from None


def _load_component(folder: str, component: str, fn):
    try:
        return fn()
    except Exception as exc:
        raise RuntimeError(f"{folder}: could not load {component}/: {type(exc).__name__}: {exc}") from exc


def _load_folder(folder: str, dtype, device, offload: str, variants: dict, options: SpeedOptions) -> dict:
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionModelWithProjection

    image_mean, image_std = _read_image_norm(folder)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), encoding="utf-8") as f:
        scheduler_config = json.load(f)

    def load(cls, component):
        model = _load_component(
            folder,
            component,
            lambda: cls.from_pretrained(
                folder, subfolder=component, variant=variants[component], dtype=dtype
            ),
        )
        model = apply_speed_options(component, model.eval().requires_grad_(False), options)
        return place_at_load(model, device, offload)

    def image_encoder_loader():
        if offload == "release":
            streamed = _streamed_image_encoder(folder, variants["image_encoder"], dtype)
            if streamed is not None:
                return apply_speed_options("image_encoder", streamed, options)
        return load(CLIPVisionModelWithProjection, "image_encoder")

    return dict(
        unet=load(UNetSpatioTemporalConditionModel, "unet"),
        vae=load(AutoencoderKLTemporalDecoder, "vae"),
        image_encoder=None if offload == "release" else image_encoder_loader(),
        image_encoder_loader=image_encoder_loader,
        scheduler_config=scheduler_config,
        image_mean=image_mean,
        image_std=image_std,
    )


def _streamed_image_encoder(folder: str, variant: str | None, dtype):
    """The CLIP image encoder with weights read block by block while it runs (see streaming.py).

    None when the folder has no safetensors weights for it (e.g. only pytorch_model.bin) or they
    use other tensor names than this transformers version's model: then from_pretrained loads
    it whole (and converts names), as before.
    """
    from transformers import CLIPVisionModelWithProjection

    from .streaming import load_streaming

    try:
        return load_streaming(CLIPVisionModelWithProjection, folder, "image_encoder", "model", variant, dtype)
    except (FileNotFoundError, KeyError) as exc:
        log.info("SVD Suite: %s/image_encoder loads whole, not streamed (%s)", folder, exc)
        return None
    except Exception as exc:
        raise RuntimeError(f"{folder}: could not load image_encoder/: {type(exc).__name__}: {exc}") from exc


def _load_single_file(path: str, dtype, device, offload: str, options: SpeedOptions) -> dict:
    try:
        from .single_file import load_single_file
    except ImportError:
        raise ValueError(
            f"model: {path} is a single-file checkpoint, which this install cannot load"
        ) from None
    # Offloaded policies keep weights on the CPU between uses, so build them there; so does
    # ComfyUI's model management, which moves them once it has made room.
    build_on = device if offload == "none" and not comfy.manages_models() else "cpu"
    unet, vae, image_encoder, scheduler_config, image_mean, image_std = load_single_file(
        path, dtype, build_on
    )
    unet, vae, image_encoder = (
        place_at_load(apply_speed_options(name, m.eval().requires_grad_(False), options), device, offload)
        for name, m in (("unet", unet), ("vae", vae), ("image_encoder", image_encoder))
    )
    return dict(
        unet=unet,
        vae=vae,
        image_encoder=image_encoder,
        image_encoder_loader=lambda: image_encoder,
        scheduler_config=dict(scheduler_config),
        image_mean=tuple(image_mean),
        image_std=tuple(image_std),
    )


def load_svd_model(
    path: str,
    dtype: str = "auto",
    offload: str = "auto",
    decode_chunk_size: int = 0,
    channels_last: bool = False,
    compile_unet: bool = False,
) -> SVDModel:
    """Load (or reuse) the SVD model at `path`: a diffusers folder or a single-file checkpoint.

    The same path+dtype+offload+speed options (with unchanged files) is loaded once; a call with
    another decode_chunk_size hint shares the components. channels_last and compile_unet are
    the opt-in speed options of speed.py (same picture within float noise).
    """
    hint = _validate_chunk_hint(decode_chunk_size)
    options = SpeedOptions(channels_last=channels_last, compile_unet=compile_unet)
    if not isinstance(path, str) or not os.path.exists(path):
        raise ValueError(f"model: {path!r} does not exist")
    device = comfy.torch_device()
    torch_dtype = resolve_dtype(dtype, device)
    policy = resolve_offload(offload, device)
    if options.compile_unet and policy == "sequential":
        raise ValueError(
            "compile_unet: not available with offload 'sequential' (accelerate moves every layer's "
            "weights inside the forward pass, which torch.compile cannot capture). Use offload "
            "'none' or 'model', or switch compile_unet off."
        )
    single = os.path.isfile(path)
    if single:
        policy = "none" if policy == "release" else policy  # one file: nothing to reload cheaply
        fingerprint = (os.path.getsize(path), os.stat(path).st_mtime_ns)
    else:
        variants = inspect_svd_folder(path)  # cheap checks first, also on a cache hit (files may change)
        fingerprint = folder_fingerprint(path)
    key = (os.path.realpath(path), str(torch_dtype), policy, str(device), fingerprint, options)
    with _cache_lock:
        cached = _cache.get(key)
        if isinstance(cached, weakref.ref):
            cached = cached()
        if cached is not None:
            _cache.move_to_end(key)
            return _with_hint(cached, hint)
        _cache.clear()  # drop the old model before loading the next one: never two in memory
    if single:
        parts = _load_single_file(path, torch_dtype, device, policy, options)
    else:
        parts = _load_folder(path, torch_dtype, device, policy, variants, options)
    unet, vae = parts["unet"], parts["vae"]
    model = SVDModel(
        unet=unet,
        vae=vae,
        image_encoder_loader=parts["image_encoder_loader"],
        image_encoder=parts["image_encoder"],
        scheduler_config=parts["scheduler_config"],
        image_mean=parts["image_mean"],
        image_std=parts["image_std"],
        dtype=torch_dtype,
        device=device,
        offload=policy,
        scaling_factor=float(vae.config.scaling_factor),
        num_frames=int(unet.config.num_frames),
        decode_chunk_size=hint,
        source=path,
        options=options,
    )
    for component in (unet, vae, model.image_encoder):
        trim_heap_when_freed(component)
    manage_components(model)
    with _cache_lock:
        _cache[key] = weakref.ref(model) if comfy.manages_models() else model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return model


def _with_hint(model: SVDModel, hint: int) -> SVDModel:
    if model.decode_chunk_size == hint:
        return model
    import dataclasses

    return dataclasses.replace(model, decode_chunk_size=hint)


def clear_model_cache() -> None:
    """Forget cached models (their memory is freed once no node output refers to them)."""
    with _cache_lock:
        _cache.clear()
