"""Local Stable Video Diffusion on diffusers: the public API other concerns build on.

    model = load_svd_model(resolve_model_name("svd-xt"), dtype="auto", offload="auto")
    cond = prepare_conditioning(model, image, width=1024, height=576)
    latent = sample_latents(model, cond, seed=0, steps=25)
    frames, fps = decode_latents(model, latent, decode_chunk_size=8)
    # or: frames, fps = image_to_video(model, image, SVDParams(seed=0, ...))

Importing this package does not import torch or diffusers (ComfyUI start-up stays fast).
"""

from .conditioning import RESIZE_MODES, prepare_conditioning
from .decoding import decode_latents
from .discovery import list_svd_models, resolve_model_name
from .generate import OffsetProgress, image_to_video, total_progress_steps
from .loading import clear_model_cache, load_svd_model
from .params import SVDParams
from .sampling import sample_latents
from .types import SVDConditioning, SVDModel

__all__ = [
    "RESIZE_MODES",
    "OffsetProgress",
    "SVDParams",
    "SVDConditioning",
    "SVDModel",
    "clear_model_cache",
    "decode_latents",
    "image_to_video",
    "list_svd_models",
    "load_svd_model",
    "prepare_conditioning",
    "resolve_model_name",
    "sample_latents",
    "total_progress_steps",
]
