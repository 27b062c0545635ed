"""Where each component lives while it runs: the offload policies of SVD_MODEL.

Kept apart from loading so the sampler and decoder say only "I use the VAE now" and the policy
decides whether that means nothing (resident), a trip to the accelerator and back ("model"),
accelerate's per-layer hooks ("sequential", set up once at load), or loading the CLIP image
encoder just for conditioning ("release", the CPU default).

Inside ComfyUI the resident components are ComfyUI models too (comfy.managed_model): "I use
the VAE now" then asks ComfyUI to load it, which first frees the VAE's weights plus the stage's
working memory (evicting idle models, ours included), and reloads it if ComfyUI evicted it since.
The policies keep their meaning on top: "none" stays loaded until ComfyUI needs the room,
"model" is unloaded again right after its stage, "sequential" only asks ComfyUI for working
memory (its weights stay in CPU RAM, streamed by accelerate).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .. import comfy
from .memory import CLIP_WORKING_BYTES
from .types import SVDModel

log = logging.getLogger("svd_suite")
T = TypeVar("T")

OFFLOAD_CHOICES = ("auto", "none", "model", "sequential")
ACCELERATOR_ONLY = ("model", "sequential")
AUTO_MODEL_OFFLOAD_BELOW_BYTES = 16 * 1024**3  # SVD-XT fp16 needs ~4.2 GiB weights + 4-8 GiB activations


def resolve_offload(offload: str, device) -> str:
    """The policy actually used for `offload` on `device` (ValueError for impossible choices)."""
    if offload not in OFFLOAD_CHOICES:
        raise ValueError(f"offload: {offload!r} is not one of {list(OFFLOAD_CHOICES)}")
    accelerator = device.type != "cpu"
    if offload in ACCELERATOR_ONLY and not accelerator:
        raise ValueError(
            f"offload: {offload!r} moves weights between the CPU and a GPU, but this run computes on "
            f"{device.type} (no accelerator). Use 'auto' or 'none'."
        )
    if offload != "auto":
        return offload
    if not accelerator:
        return "release"
    try:
        import torch

        total = torch.cuda.get_device_properties(device).total_memory
    except Exception:
        return "none"
    return "model" if total < AUTO_MODEL_OFFLOAD_BELOW_BYTES else "none"


def place_at_load(module: Any, device, offload: str) -> Any:
    """Put a freshly loaded component where its policy wants it between runs.

    Inside ComfyUI, "none" components stay on the CPU here: manage_components() lets ComfyUI
    move them, after it has made room.
    """
    if offload == "none" and not comfy.manages_models():
        return module.to(device)
    if offload == "sequential":
        from accelerate import cpu_offload

        cpu_offload(module, execution_device=device)
    return module  # "model" and "release": stay on the CPU until used


def manage_components(model: SVDModel) -> None:
    """Hand the resident components to ComfyUI's model management (nothing outside ComfyUI).

    "none" and "release" (CPU) components are loaded at once, so ComfyUI counts them from now
    on; "model" ones only while their stage runs. "sequential" components are not handed over:
    accelerate keeps their weights in CPU RAM and streams them, so VRAM holds no weights.
    """
    if model.offload == "sequential":
        return
    for module in (model.unet, model.vae, model.image_encoder):
        if module is None or id(module) in model.handles:
            continue
        handle = comfy.managed_model(module, model.device, "cpu")
        if handle is None:  # outside ComfyUI, or it refused: our own placement, as without it
            model.handles.clear()
            if model.offload == "none" and comfy.manages_models():
                for part in (model.unet, model.vae, model.image_encoder):
                    if part is not None:
                        part.to(model.device)  # place_at_load left it for ComfyUI to move
            return
        model.handles[id(module)] = handle
    if model.offload in ("none", "release"):
        comfy.load_managed(model.handles.values())


@contextlib.contextmanager
def in_use(model: SVDModel, module: Any, working_bytes: int = 0) -> Iterator[Any]:
    """Make `module` runnable on model.device for the duration of the block.

    `working_bytes`: the stage's activation memory, which ComfyUI frees beside the weights.
    """
    handle = model.handles.get(id(module))
    if handle is not None:
        comfy.load_managed([handle], working_bytes)
        try:
            yield module
        finally:
            if model.offload == "model":
                comfy.unload_managed(handle)
        return
    if model.offload == "sequential":
        comfy.free_device_memory(working_bytes, model.device)
    if model.offload != "model":
        yield module
        return
    module.to(model.device)
    try:
        yield module
    finally:
        module.to("cpu")
        _empty_accelerator_cache(model.device)


def with_image_encoder(model: SVDModel, fn: Callable[[Any], T]) -> T:
    """Return fn(image_encoder); under "release" the encoder is loaded now and dropped after.

    A callback rather than a context manager so no caller frame keeps the weights alive.
    """
    with model.lock:
        encoder = model.image_encoder
        if encoder is None:
            encoder = model.image_encoder_loader()
            if model.offload != "release":
                model.image_encoder = encoder
    try:
        with in_use(model, encoder, CLIP_WORKING_BYTES):
            return fn(encoder)
    finally:
        # Plain modules have no reference cycles: dropping the last reference frees the weights
        # at once (a gc.collect() here would cost ~0.2 s with diffusers/transformers loaded).
        encoder = None


def _empty_accelerator_cache(device) -> None:
    try:
        import torch

        if device.type == "cuda":
            torch.cuda.empty_cache()
    except Exception as exc:  # pragma: no cover - only on accelerators
        log.debug("empty_cache failed: %s", exc)
