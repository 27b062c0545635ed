"""Memory bookkeeping of the local SVD path: what a stage needs besides its weights, and giving
freed weights back to the operating system.

Working memory: before a component runs, ComfyUI is asked to free its weights plus the
activations of the stage (see comfy.load_managed), so it can evict idle models first. The sizes
are estimates from docs/svd_notes.md §7 (SVD-XT, 25 frames at 1024x576, fp16: UNet activations 4-8 GB
with guidance, decoding 25 frames at once 10-15 GB), scaled by the shapes. bench/gpu_svd.py
prints the estimate beside the measured peak so the factors can be checked on a GPU.

Heap: weights converted on load (e.g. bf16 from an fp32 file) live on the C heap, and glibc
keeps freed heap pages in the process unless asked to hand them back (malloc_trim). Without it
the process RSS stays as high after "Unload models" as before, although the weights are gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import weakref
from typing import Any

log = logging.getLogger("svd_suite")

# Activation values kept alive per latent cell (batch x frames x h/8 x w/8) in one UNet call:
# about 7.5 GB for SVD-XT's 2 x 25 x 72 x 128 cells in fp16 (the upper half of §7's 4-8 GB).
UNET_VALUES_PER_LATENT_CELL = 8192
# Decoder values per output pixel per frame in a chunk: ~1 KB in fp16 (§7: 10-15 GB for 25
# frames at 1024x576 at once).
DECODE_VALUES_PER_PIXEL = 512
# The CLIP ViT-H on one 224px image: 257 tokens; its activations are small next to its weights.
CLIP_WORKING_BYTES = 256 * 1024**2


def _element_size(dtype) -> int:
    import torch

    return torch.empty((), dtype=dtype).element_size()


def sampling_working_bytes(dtype, batch: int, frames: int, latent_height: int, latent_width: int) -> int:
    """Activation memory of one UNet call on [batch, frames, C, h, w] latents (estimate)."""
    cells = batch * frames * latent_height * latent_width
    return cells * UNET_VALUES_PER_LATENT_CELL * _element_size(dtype)


def decode_working_bytes(dtype, frames: int, height: int, width: int) -> int:
    """Activation memory of decoding `frames` frames of height x width pixels at once (estimate)."""
    return frames * height * width * DECODE_VALUES_PER_PIXEL * _element_size(dtype)


def encode_working_bytes(height: int, width: int) -> int:
    """The VAE encoder on one start frame, which runs in fp32 (force_upcast), about a decode's."""
    import torch

    return decode_working_bytes(torch.float32, 1, height, width)


# --------------------------------------------------------------------------- heap trimming

OLDEST_GENERATION = 2  # what gc.collect() without arguments collects
_trim_lock = threading.Lock()
_trim_pending = False
_gc_hook_installed = False


def _libc_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to trim
        return None


_malloc_trim = _libc_malloc_trim()


def trim_heap() -> bool:
    """Hand freed heap pages back to the OS (glibc); False where there is no malloc_trim."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


def _mark_freed() -> None:
    global _trim_pending
    with _trim_lock:
        _trim_pending = True


def _after_collection(phase: str, info: dict) -> None:
    """Trim after a full collection that follows a component's death.

    Why after a *full* collection: a finalizer fires while the component is being torn down,
    before its tensors are freed, so trimming right then would be too early. ComfyUI runs
    gc.collect() (a full collection) right after it unloads models and clears its caches, which
    is exactly when the weights have just been freed. Small automatic collections in between
    leave the mark alone.
    """
    global _trim_pending
    if phase != "stop" or info.get("generation") != OLDEST_GENERATION:
        return
    with _trim_lock:
        if not _trim_pending:
            return
        _trim_pending = False
    trim_heap()


def trim_heap_when_freed(component: Any) -> None:
    """Give `component`'s memory back to the OS at the first full collection after it dies."""
    global _gc_hook_installed
    if component is None or _malloc_trim is None:
        return
    weakref.finalize(component, _mark_freed)
    with _trim_lock:
        if not _gc_hook_installed:
            gc.callbacks.append(_after_collection)
            _gc_hook_installed = True
