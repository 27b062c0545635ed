"""Speed options that keep the picture: SDPA attention, channels-last convolutions, torch.compile.

- Attention: in diffusers 0.42.1 every attention of SVD already runs through PyTorch's
  scaled_dot_product_attention (AttnProcessor2_0): the UNet's spatial *and* temporal
  transformer blocks and the VAE's mid-block; transformers 5 gives the CLIP encoder "sdpa".
  So SDPA is not an option but a guarantee: the loader checks it and switches any other
  processor to SDPA (same maths, no attention matrix in memory; tests compare it with the
  classic processor).
- channels_last (opt-in): 2-D convolution weights in NHWC layout, so cuDNN's tensor-core
  kernels need no layout transposes. Conv3d (the temporal layers) keeps its layout.
- compile_unet (opt-in): torch.compile of the UNet, in place (the module object stays the same,
  so ComfyUI's model management and our hooks still see it). The first sampling step pays the
  compilation (minutes for SVD-XT); later steps and runs reuse it.
CFG stays batched: the conditional and unconditional halves run as one UNet call (sampling.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("svd_suite")

SDPA_PROCESSORS = ("AttnProcessor2_0", "FusedAttnProcessor2_0")
# torch.compile's backend. Tests swap in a backend that runs the captured graph without
# generating code (inductor needs ~100 s to compile even the tiny test UNet on two CPU cores).
COMPILE_BACKEND = "inductor"


@dataclass(frozen=True)
class SpeedOptions:
    """The opt-in speed settings of Load SVD Model (part of the model cache key)."""

    channels_last: bool = False
    compile_unet: bool = False

    def __post_init__(self):
        for name in ("channels_last", "compile_unet"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name}: {value!r} must be true or false")


def attention_kinds(module: Any) -> set[str]:
    """The attention implementations `module` runs: processor class names (diffusers) or the
    attn_implementation (transformers)."""
    processors = getattr(module, "attn_processors", None)
    if isinstance(processors, dict):
        return {type(p).__name__ for p in processors.values()}
    config = getattr(module, "config", None)
    implementation = getattr(config, "_attn_implementation", None)
    return {str(implementation)} if implementation is not None else set()


def use_sdpa(module: Any) -> Any:
    """Make every attention of `module` PyTorch SDPA (a no-op for the current libraries)."""
    if isinstance(getattr(module, "attn_processors", None), dict):
        if not attention_kinds(module) <= set(SDPA_PROCESSORS):
            from diffusers.models.attention_processor import AttnProcessor2_0

            log.info("SVD Suite: %s attention switched to SDPA", type(module).__name__)
            module.set_attn_processor(AttnProcessor2_0())
        return module
    if attention_kinds(module) not in ({"sdpa"}, set()) and hasattr(module, "set_attn_implementation"):
        log.info("SVD Suite: %s attention switched to SDPA", type(module).__name__)
        module.set_attn_implementation("sdpa")
    return module


def use_channels_last(module: Any) -> int:
    """Store every Conv2d weight of `module` channels-last; returns how many were converted."""
    import torch

    converted = 0
    for sub in module.modules():
        if isinstance(sub, torch.nn.Conv2d):
            sub.to(memory_format=torch.channels_last)
            converted += 1
    return converted


def compile_unet(unet: Any, backend: str | None = None) -> Any:
    """torch.compile the UNet in place (nn.Module.compile); compilation happens on first use."""
    unet.compile(backend=backend or COMPILE_BACKEND)
    return unet


def apply_speed_options(component: str, module: Any, options: SpeedOptions) -> Any:
    """SDPA always; channels_last on the UNet and VAE; compile on the UNet only."""
    if module is None:
        return None
    use_sdpa(module)
    if options.channels_last and component in ("unet", "vae"):
        use_channels_last(module)
    if options.compile_unet and component == "unet":
        compile_unet(module)
    return module
