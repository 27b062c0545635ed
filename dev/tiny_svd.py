"""Tiny random-weight SVD models, built from configs and saved with save_pretrained.

The configs follow docs/svd_notes.md §2 (the `vae8` variant: same px/8 latent geometry as the real
model). Saving and loading through the real loader means the real-weight code path is the one
under test. `mid` is a mid-size variant for benchmarks (320-channel UNet, real VAE and CLIP sizes).
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_UNET = dict(
    sample_size=8, in_channels=8, out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
    up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
    block_out_channels=(32, 64), addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
    layers_per_block=1, cross_attention_dim=32, transformer_layers_per_block=1,
    num_attention_heads=(2, 4), num_frames=14,
)
TINY_VAE = dict(
    in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(32, 32, 32, 32), layers_per_block=1, latent_channels=4, sample_size=64,
    scaling_factor=0.18215, force_upcast=True,
)
TINY_CLIP = dict(
    hidden_size=32, intermediate_size=37, projection_dim=32, num_hidden_layers=2, num_attention_heads=4,
    num_channels=3, image_size=224, patch_size=14, hidden_act="gelu",
)
# Mid-size: a 320-channel UNet (one level of the real one), the real VAE and CLIP ViT-H sizes.
MID_UNET = dict(
    TINY_UNET, block_out_channels=(320, 640), num_attention_heads=(5, 10),
    addition_time_embed_dim=256, projection_class_embeddings_input_dim=768, cross_attention_dim=1024,
)
MID_VAE = dict(TINY_VAE, block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=768)
MID_CLIP = dict(
    TINY_CLIP, hidden_size=1280, intermediate_size=5120, projection_dim=1024, num_hidden_layers=32,
    num_attention_heads=16,
)
SCHEDULER = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    trained_betas=None, prediction_type="v_prediction", interpolation_type="linear", use_karras_sigmas=True,
    sigma_min=0.002, sigma_max=700.0, timestep_spacing="leading", timestep_type="continuous", steps_offset=1,
)
FEATURE_EXTRACTOR = dict(
    crop_size=224, size=224, do_center_crop=True, do_normalize=True, do_rescale=True, do_resize=True,
    image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
    resample=3,
)
# A tiny model with a 308 MiB (fp32) UNet: big enough that freeing it shows in a process's RSS.
BIG_UNET = dict(TINY_UNET, block_out_channels=(256, 512), num_attention_heads=(4, 8))
VARIANTS = {
    "tiny": (TINY_UNET, TINY_VAE, TINY_CLIP),
    "mid": (MID_UNET, MID_VAE, MID_CLIP),
    "big_unet": (BIG_UNET, TINY_VAE, TINY_CLIP),
}


def build_svd_pipeline(variant: str = "tiny", seed: int = 0, num_frames: int | None = None):
    """Build a random-weight StableVideoDiffusionPipeline in memory."""
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    unet_cfg, vae_cfg, clip_cfg = VARIANTS[variant]
    if num_frames is not None:
        unet_cfg = dict(unet_cfg, num_frames=num_frames)
    with torch.random.fork_rng():  # seeded weight init without touching the caller's RNG
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**unet_cfg)
        vae = AutoencoderKLTemporalDecoder(**vae_cfg)
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**clip_cfg))
    return StableVideoDiffusionPipeline(
        vae=vae.eval(), image_encoder=image_encoder.eval(), unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**SCHEDULER),
        feature_extractor=CLIPImageProcessor(**FEATURE_EXTRACTOR),
    )


def save_tiny_svd(target: Path, variant: str = "tiny", seed: int = 0, fp16_variant: bool = False,
                  num_frames: int | None = None) -> Path:
    """Build and save a random-weight SVD in diffusers format; returns the folder.

    The model_index is patched to name `CLIPImageProcessor`, so the folder loads with any
    transformers (see docs/svd_notes.md §1), and a README marks the weights as random.
    """
    import torch

    target = Path(target)
    pipe = build_svd_pipeline(variant, seed, num_frames)
    if fp16_variant:
        pipe = pipe.to(torch.float16)
        pipe.save_pretrained(target, safe_serialization=True, variant="fp16")
    else:
        pipe.save_pretrained(target, safe_serialization=True)
    index_path = target / "model_index.json"
    index = json.loads(index_path.read_text())
    index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
    index_path.write_text(json.dumps(index, indent=2))
    (target / "README.txt").write_text(
        "RANDOM WEIGHTS - a tiny Stable Video Diffusion built for tests and demos by SVD Suite.\n"
        "It produces noise-like video, not real motion. Put real SVD weights in\n"
        "models/diffusers/stable-video-diffusion-img2vid-xt for real results.\n"
    )
    return target
