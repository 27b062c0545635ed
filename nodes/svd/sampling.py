"""The SVD sampler: seeded noise, the noise-augmented start latent, and the Euler loop.

Equal to StableVideoDiffusionPipeline.__call__ (docs/svd_notes.md §4, details 3 and 5-9) within float
noise, but staged so ComfyUI can interrupt and preview every step, and without touching the
global RNG.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import comfy
from .memory import encode_working_bytes, sampling_working_bytes
from .params import SAMPLER_PARAMS, SVDParams
from .placement import in_use
from .preview import latent_preview
from .types import SVDConditioning, SVDModel

if TYPE_CHECKING:  # pragma: no cover
    import torch


def make_generator(seed: int, device) -> torch.Generator:
    """A generator of its own, so a run never advances the global torch RNG other nodes use."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def encode_start_latent(model: SVDModel, cond: SVDConditioning, generator) -> torch.Tensor:
    """Noise-augmented VAE latent of the start frame, [1, 4, h, w] in the embeddings' dtype.

    The aug noise is the generator's FIRST draw (diffusers order). The latent is the posterior
    mode and deliberately not multiplied by scaling_factor: that is what SVD was trained on.
    """
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    image = cond.init_image.to(model.device)
    noise = randn_tensor(image.shape, generator=generator, device=model.device, dtype=image.dtype)
    image = image + cond.cond_aug * noise
    del noise
    vae = model.vae
    # force_upcast: fp16 VAE encodes in fp32 (overflow), then returns to fp16 for decoding.
    upcast = vae.dtype == torch.float16 and vae.config.force_upcast
    working = encode_working_bytes(cond.height, cond.width)
    with model.lock, in_use(model, vae, working):
        if upcast:
            vae.to(dtype=torch.float32)
        try:
            with torch.no_grad():
                latent = vae.encode(image.to(dtype=vae.dtype)).latent_dist.mode()
        finally:
            if upcast:
                vae.to(dtype=torch.float16)
    return latent.to(cond.image_embeds.dtype)


def added_time_ids(model: SVDModel, cond: SVDConditioning, dtype) -> torch.Tensor:
    """[[fps-1, motion_bucket_id, cond_aug]]: the UNet was trained on fps-1, hence the minus one."""
    import torch

    values = [cond.fps - 1, cond.motion_bucket_id, cond.cond_aug]
    expected = model.unet.add_embedding.linear_1.in_features
    if model.unet.config.addition_time_embed_dim * len(values) != expected:
        raise ValueError(f"{model.source}: the UNet's added time embedding does not fit SVD's 3 values")
    return torch.tensor([values], dtype=dtype, device=model.device)


def check_sampling_params(
    seed: int, steps: int, min_guidance_scale: float, max_guidance_scale: float
) -> None:
    """Validate the sampler's widgets (also used by image_to_video before any heavy work)."""
    SVDParams(
        seed=seed, steps=steps, min_guidance_scale=min_guidance_scale, max_guidance_scale=max_guidance_scale
    ).check(SAMPLER_PARAMS)


def sample_latents(
    model: SVDModel,
    cond: SVDConditioning,
    seed: int,
    steps: int = 25,
    min_guidance_scale: float = 1.0,
    max_guidance_scale: float = 3.0,
    progress: Any = None,
) -> dict:
    """Denoise a video latent for `cond`. Returns a ComfyUI LATENT.

    `samples` is [F, 4, H/8, W/8] float32 on the CPU, already multiplied by 1/scaling_factor
    exactly as the pipeline's decode does (so decoding is bit-exact); `svd_fps` carries the fps.
    `progress.update(step, preview=PIL)` is called after every step; ComfyUI's interrupt is
    checked before every UNet call.
    """
    if not isinstance(cond, SVDConditioning):
        raise ValueError(f"conditioning: expected SVD_CONDITIONING, got {type(cond).__name__}")
    check_sampling_params(seed, steps, min_guidance_scale, max_guidance_scale)
    import torch
    from diffusers import EulerDiscreteScheduler
    from diffusers.utils.torch_utils import randn_tensor

    comfy.throw_if_interrupted()
    device, frames = model.device, cond.num_frames
    generator = make_generator(seed, device)
    start_latent = encode_start_latent(model, cond, generator)
    guided = max_guidance_scale > 1  # below 1 guidance would only weaken the image: skip the uncond pass
    dtype = cond.image_embeds.dtype
    embeds = cond.image_embeds.to(device)
    time_ids = added_time_ids(model, cond, dtype)
    if guided:
        # The unconditional branch is all zeros (embedding and latent), as SVD was trained with.
        embeds = torch.cat([torch.zeros_like(embeds), embeds])
        start_latent = torch.cat([torch.zeros_like(start_latent), start_latent])
        time_ids = torch.cat([time_ids, time_ids])
    start_latents = start_latent.unsqueeze(1).repeat(1, frames, 1, 1, 1)
    del start_latent

    scheduler = EulerDiscreteScheduler.from_config(model.scheduler_config)  # stateful: one per run
    scheduler.set_timesteps(steps, device=device)
    scale = model.latent_scale
    shape = (1, frames, model.unet.config.in_channels // 2, cond.height // scale, cond.width // scale)
    latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)  # 2nd draw
    latents = latents * scheduler.init_noise_sigma
    # Guidance grows linearly from the first frame (close to the image) to the last.
    guidance = torch.linspace(min_guidance_scale, max_guidance_scale, frames).unsqueeze(0)
    guidance = guidance.to(device, latents.dtype)[..., None, None, None]

    unet = model.unet
    working = sampling_working_bytes(dtype, 2 if guided else 1, frames, shape[3], shape[4])
    with in_use(model, unet, working), torch.no_grad():
        for i, t in enumerate(scheduler.timesteps):
            comfy.throw_if_interrupted()
            x = torch.cat([latents] * 2) if guided else latents
            x = scheduler.scale_model_input(x, t)
            x = torch.cat([x, start_latents], dim=2)
            noise_pred = unet(x, t, encoder_hidden_states=embeds, added_time_ids=time_ids, return_dict=False)[
                0
            ]
            del x
            if guided:
                uncond, cond_pred = noise_pred.chunk(2)
                noise_pred = uncond + guidance * (cond_pred - uncond)
                del uncond, cond_pred
            step = scheduler.step(noise_pred, t, latents)
            latents = step.prev_sample
            del noise_pred
            if progress is not None:
                progress.update(i + 1, preview=latent_preview(step.pred_original_sample[0, frames // 2]))
            del step
    # Exactly the pipeline's `1 / scaling_factor * latents` (not a division: that differs by 1e-6).
    samples = (1 / model.scaling_factor * latents.flatten(0, 1)).to("cpu", torch.float32)
    return {"samples": samples, "svd_fps": float(cond.fps)}
