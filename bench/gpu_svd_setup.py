"""The set-up of bench/gpu_svd.py: importing on a bare GPU box, real-size random SVD-XT, the
reference pipeline wired for tensor input, the start image and the matmul rate.

Only torch, transformers and diffusers are needed: see gpu_svd.py.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK = "svd_suite_bench"
# The real diffusers configs (docs/svd_notes.md §7); TINY keeps their structure at test size.
UNET_XT = dict(
    sample_size=96,
    in_channels=8,
    out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
    up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3,
    block_out_channels=(320, 640, 1280, 1280),
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=768,
    layers_per_block=2,
    cross_attention_dim=1024,
    transformer_layers_per_block=1,
    num_attention_heads=(5, 10, 20, 20),
    num_frames=25,
)
VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    sample_size=768,
    scaling_factor=0.18215,
    force_upcast=True,
)
CLIP_H = dict(
    hidden_size=1280,
    intermediate_size=5120,
    projection_dim=1024,
    num_hidden_layers=32,
    num_attention_heads=16,
    num_channels=3,
    image_size=224,
    patch_size=14,
    hidden_act="gelu",
)
TINY = (
    dict(
        UNET_XT,
        block_out_channels=(32, 64),
        num_attention_heads=(2, 4),
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=24,
        layers_per_block=1,
        cross_attention_dim=32,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        num_frames=4,
    ),
    dict(VAE, block_out_channels=(32, 32, 32, 32), layers_per_block=1),
    dict(
        CLIP_H,
        hidden_size=32,
        intermediate_size=37,
        projection_dim=32,
        num_hidden_layers=2,
        num_attention_heads=4,
    ),
)
SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="v_prediction",
    interpolation_type="linear",
    use_karras_sigmas=True,
    sigma_min=0.002,
    sigma_max=700.0,
    timestep_spacing="leading",
    timestep_type="continuous",
    steps_offset=1,
)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
STUBBABLE = ("PIL", "requests", "importlib_metadata")


# --------------------------------------------------------------------------- imports


class _Inert(type):
    """A class whose every attribute is another inert class: enough for import-time references
    (type hints, isinstance checks, except clauses, enum lookups) of a module never really used."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert(name, (Exception,), {})

    def __or__(cls, other):
        return cls

    __ror__ = __or__

    def __getitem__(cls, item):
        return cls


class _InertModule(types.ModuleType):
    __version__ = "10.0.0"

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Inert(name, (Exception,), {})
        setattr(self, name, value)
        return value


class _InertFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self.names: set[str] = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _InertModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def import_libraries() -> list[str]:
    """Import diffusers, adding inert stand-ins for missing Pillow/requests; returns their names."""
    finder = _InertFinder()
    for _ in range(len(STUBBABLE) + 1):
        try:
            import diffusers  # noqa: F401
            from diffusers import StableVideoDiffusionPipeline  # noqa: F401

            return sorted(finder.names)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if missing not in STUBBABLE or missing in finder.names:
                raise
            finder.names.add(missing)
            for name in [n for n in sys.modules if n.split(".")[0] == missing]:
                del sys.modules[name]  # also a None left by a failed import
            if finder not in sys.meta_path:
                sys.meta_path.insert(0, finder)
    raise RuntimeError("diffusers did not import")


def load_pack() -> types.SimpleNamespace:
    """The pack's SVD modules from this checkout, without running its ComfyUI entry point."""
    root = types.ModuleType(PACK)
    root.__path__ = [str(ROOT)]
    root.__spec__ = importlib.machinery.ModuleSpec(PACK, None, is_package=True)
    root.__spec__.submodule_search_locations = [str(ROOT)]
    sys.modules[PACK] = root
    names = ("conditioning", "sampling", "decoding", "types", "speed", "memory")
    return types.SimpleNamespace(**{n: importlib.import_module(f"{PACK}.nodes.svd.{n}") for n in names})


# --------------------------------------------------------------------------- set-up


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(pack, device, dtype, tiny: bool, seed: int = 0):
    """Random-weight SVD components with the real (or tiny) configs, as our SVDModel."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    unet_cfg, vae_cfg, clip_cfg = TINY if tiny else (UNET_XT, VAE, CLIP_H)
    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNetSpatioTemporalConditionModel(**unet_cfg)
        vae = AutoencoderKLTemporalDecoder(**vae_cfg)
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**clip_cfg))
    unet, vae, encoder = (m.to(dtype).eval().requires_grad_(False) for m in (unet, vae, encoder))
    # (diffusers warns that .to(dtype) may cast modules meant to stay fp32: SVD has none.)
    return pack.types.SVDModel(
        unet=unet,
        vae=vae,
        image_encoder=encoder,
        image_encoder_loader=lambda: encoder,
        scheduler_config=dict(SCHEDULER),
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
        dtype=dtype,
        device=device,
        offload="none",
        scaling_factor=float(vae.config.scaling_factor),
        num_frames=int(unet.config.num_frames),
        source="random weights",
    )


class ClipPreprocess:
    """The pipeline's PIL-branch CLIP preprocessing, in torch, as its feature_extractor.

    Why: given a tensor, StableVideoDiffusionPipeline skips its 224px resize and hands the full
    image to CLIP (docs/svd_notes.md §4.2), and transformers' CLIPImageProcessor needs torchvision or
    Pillow. This does what the PIL branch does: -1..1, antialiased resize to 224, back to 0..1,
    then CLIP's mean/std.
    """

    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def __call__(self, images, **_ignored):
        import torch
        from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
            _resize_with_antialiasing,
        )

        x = (_resize_with_antialiasing(images * 2.0 - 1.0, (224, 224)) + 1.0) / 2.0
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return types.SimpleNamespace(pixel_values=(x - mean) / std)


def build_pipeline(model):
    from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline

    pipe = StableVideoDiffusionPipeline(
        vae=model.vae,
        image_encoder=model.image_encoder,
        unet=model.unet,
        scheduler=EulerDiscreteScheduler(**SCHEDULER),
        feature_extractor=ClipPreprocess(CLIP_MEAN, CLIP_STD),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def start_image(width: int, height: int):
    """A smooth deterministic start image, IMAGE layout [1, H, W, 3] in 0..1 (no Pillow needed)."""
    import torch

    y = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
    x = torch.linspace(0, 1, width).view(1, width).expand(height, width)
    rgb = torch.stack([x, y, 0.5 + 0.5 * torch.sin(6.28 * (x * 3 + y * 2))], -1)
    return rgb.unsqueeze(0).contiguous()


# --------------------------------------------------------------------------- floor


def matmul_rate(device, dtype, size: int) -> float:
    """Dense matmul FLOP/s on this device (best of a few timed batches)."""
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    for _ in range(4):
        sync(device)
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        sync(device)
        best = max(best, 10 * 2 * size**3 / (time.perf_counter() - start))
    return best
