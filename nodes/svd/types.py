"""The two custom ComfyUI types of the local SVD path: SVD_MODEL and SVD_CONDITIONING.

Both are plain dataclasses so other concerns (ExtendVideo, the auto engine) and tests can build,
inspect and pass them without ComfyUI. Torch appears only in annotations, so importing this
module stays cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

SVD_MODEL = "SVD_MODEL"
SVD_CONDITIONING = "SVD_CONDITIONING"


@dataclass
class SVDModel:
    """Loaded SVD components plus how to run them.

    `offload` is the resolved policy: "none" (everything resident on `device`), "release" (CPU:
    the CLIP image encoder is loaded when conditioning needs it and dropped afterwards, because
    its weights are the biggest thing a run would otherwise keep alive for nothing), "model"
    (accelerator: each component visits the device only while it runs) or "sequential"
    (accelerator: accelerate streams weights layer by layer).

    `handles` maps id(component) to the ComfyUI ModelPatcher that accounts for it (empty
    outside ComfyUI and for the sequential policy); `options` are the opt-in speed settings.
    """

    unet: Any
    vae: Any
    image_encoder_loader: Callable[[], Any]
    scheduler_config: dict
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    dtype: torch.dtype
    device: torch.device
    offload: str
    scaling_factor: float
    num_frames: int
    decode_chunk_size: int = 0
    source: str = ""
    image_encoder: Any = None
    options: Any = None
    handles: dict = field(default_factory=dict, repr=False, compare=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def latent_scale(self) -> int:
        """Pixels per latent cell (8 for every released SVD VAE)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)


@dataclass
class SVDConditioning:
    """Everything the sampler needs about the start image, computed once per image.

    `init_image` is the resized start frame, `[1, 3, H, W]` in -1..1, kept (not its VAE latent)
    because the cond_aug noise must come from the sampler's seeded generator before encoding.
    It is a channels-last view, like the pipeline's, so the VAE takes the same conv path.
    `image_embeds` is the conditional CLIP embedding only, `[1, 1, D]`; the sampler adds the
    zero unconditional half when guidance is on.
    """

    image_embeds: torch.Tensor
    init_image: torch.Tensor
    width: int
    height: int
    num_frames: int
    fps: int
    motion_bucket_id: int
    cond_aug: float
    frame: Any = None  # the resized start frame as an IMAGE [1, H, W, 3] (the node's 2nd output)
