"""ComfyUI node classes of the local SVD path (thin: each calls one plain function)."""

from __future__ import annotations

from .. import comfy
from .conditioning import RESIZE_MODES, prepare_conditioning
from .decoding import decode_latents, decode_steps
from .discovery import list_svd_models, resolve_model_name
from .generate import effective_chunk, image_to_video, total_progress_steps
from .loading import DTYPE_CHOICES, load_svd_model
from .placement import OFFLOAD_CHOICES
from .sampling import sample_latents
from .types import SVD_CONDITIONING, SVD_MODEL
from .validation import MAX_SEED

CATEGORY = "SVD Suite"

MODEL_INPUT = (SVD_MODEL, {"tooltip": "The SVD model from Load SVD Model."})

CONDITIONING_INPUTS = {
    "image": ("IMAGE", {"tooltip": "The start image. With a batch, only the first frame is used."}),
    "width": (
        "INT",
        {
            "default": 1024,
            "min": 64,
            "max": 2048,
            "step": 64,
            "tooltip": "Video width in pixels (multiple of 64). SVD was trained at 1024x576.",
        },
    ),
    "height": (
        "INT",
        {
            "default": 576,
            "min": 64,
            "max": 2048,
            "step": 64,
            "tooltip": "Video height in pixels (multiple of 64).",
        },
    ),
    "resize": (
        list(RESIZE_MODES),
        {
            "default": "crop",
            "tooltip": "How the image becomes width x height: "
            + "; ".join(f"{name} = {mode.description}" for name, mode in RESIZE_MODES.items()),
        },
    ),
    "num_frames": (
        "INT",
        {
            "default": 0,
            "min": 0,
            "max": 128,
            "tooltip": "Frames to generate; 0 = the model's default (14 for SVD, 25 for SVD-XT).",
        },
    ),
    "fps": (
        "INT",
        {
            "default": 7,
            "min": 1,
            "max": 60,
            "tooltip": "Frame rate the model is told about (and the video's fps). Lower = more motion per frame.",
        },
    ),
    "motion_bucket_id": (
        "INT",
        {"default": 127, "min": 1, "max": 255, "tooltip": "Amount of motion: higher = more movement."},
    ),
    "cond_aug": (
        "FLOAT",
        {
            "default": 0.02,
            "min": 0.0,
            "max": 10.0,
            "step": 0.001,
            "tooltip": "Noise added to the start image: higher = more motion, less like the image.",
        },
    ),
}
SAMPLER_INPUTS = {
    "seed": (
        "INT",
        {
            "default": 0,
            "min": 0,
            "max": MAX_SEED,
            "control_after_generate": True,
            "tooltip": "Random seed: the same seed and inputs give the same video.",
        },
    ),
    "steps": (
        "INT",
        {"default": 25, "min": 1, "max": 200, "tooltip": "Denoising steps: more = slower, finer."},
    ),
    "min_guidance_scale": (
        "FLOAT",
        {
            "default": 1.0,
            "min": 0.0,
            "max": 20.0,
            "step": 0.1,
            "tooltip": "Guidance on the first frame (rises linearly to the max on the last).",
        },
    ),
    "max_guidance_scale": (
        "FLOAT",
        {
            "default": 3.0,
            "min": 0.0,
            "max": 20.0,
            "step": 0.1,
            "tooltip": "Guidance on the last frame. At 1 or below guidance is off (about 2x faster).",
        },
    ),
}
DECODE_INPUTS = {
    "decode_chunk_size": (
        "INT",
        {
            "default": 8,
            "min": 1,
            "max": 128,
            "tooltip": "Frames decoded together: larger = smoother motion but more memory. "
            "The model's decode_chunk_size (if set) caps it.",
        },
    ),
}


class SVDSuite_LoadModel:
    DESCRIPTION = "Load a Stable Video Diffusion model (diffusers folder in models/diffusers or models/svd)."
    CATEGORY = CATEGORY
    RETURN_TYPES = (SVD_MODEL,)
    RETURN_NAMES = ("svd_model",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": (
                    list_svd_models(),
                    {"tooltip": "An SVD model folder (with model_index.json) or checkpoint."},
                ),
                "dtype": (
                    list(DTYPE_CHOICES),
                    {
                        "default": "auto",
                        "tooltip": "auto = fp16 on GPU, fp32 on CPU. fp16 is refused on CPU; bf16 is faster there.",
                    },
                ),
                "offload": (
                    list(OFFLOAD_CHOICES),
                    {
                        "default": "auto",
                        "tooltip": "auto: on CPU load the image encoder only while conditioning; on small GPUs "
                        "move each part to the GPU only while it runs. model/sequential need a GPU.",
                    },
                ),
            },
            "optional": {
                "decode_chunk_size": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 128,
                        "tooltip": "0 = no limit. Otherwise the largest decode chunk this model uses.",
                    },
                ),
                "channels_last": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "GPU speed option: store the UNet and VAE convolutions channels-last "
                        "(faster tensor-core kernels on most GPUs). Same picture within float noise.",
                    },
                ),
                "compile_unet": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "GPU speed option: torch.compile the UNet. The first run spends minutes "
                        "compiling; later runs are faster. Same picture within float noise. "
                        "Not with offload 'sequential'.",
                    },
                ),
            },
        }

    def load(self, model, dtype, offload, decode_chunk_size=0, channels_last=False, compile_unet=False):
        path = resolve_model_name(model)
        return (load_svd_model(path, dtype, offload, decode_chunk_size, channels_last, compile_unet),)


class SVDSuite_Conditioning:
    DESCRIPTION = "Resize the start image and embed it for SVD (cached across seeds)."
    CATEGORY = CATEGORY
    RETURN_TYPES = (SVD_CONDITIONING, "IMAGE")
    RETURN_NAMES = ("conditioning", "init_image")
    FUNCTION = "condition"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"svd_model": MODEL_INPUT, **CONDITIONING_INPUTS}}

    def condition(self, svd_model, image, width, height, resize, num_frames, fps, motion_bucket_id, cond_aug):
        cond = prepare_conditioning(
            svd_model, image, width, height, resize, num_frames, fps, motion_bucket_id, cond_aug
        )
        return (cond, cond.frame)


class SVDSuite_Sampler:
    DESCRIPTION = "Generate the video latent (progress and a preview every step; Cancel stops within a step)."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("samples",)
    FUNCTION = "sample"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "svd_model": MODEL_INPUT,
                "conditioning": (SVD_CONDITIONING, {"tooltip": "From SVD Conditioning."}),
                **SAMPLER_INPUTS,
            }
        }

    def sample(self, svd_model, conditioning, seed, steps, min_guidance_scale, max_guidance_scale):
        progress = comfy.Progress(steps)
        return (
            sample_latents(
                svd_model,
                conditioning,
                seed,
                steps,
                min_guidance_scale,
                max_guidance_scale,
                progress=progress,
            ),
        )


class SVDSuite_Decode:
    DESCRIPTION = "Decode an SVD latent into frames (chunked temporal VAE) and pass its fps on."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "FLOAT")
    RETURN_NAMES = ("images", "fps")
    FUNCTION = "decode"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "svd_model": MODEL_INPUT,
                "samples": ("LATENT", {"tooltip": "From SVD Sampler."}),
                **DECODE_INPUTS,
            }
        }

    def decode(self, svd_model, samples, decode_chunk_size):
        frames = samples["samples"].shape[0] if isinstance(samples, dict) and "samples" in samples else 1
        progress = comfy.Progress(decode_steps(frames, effective_chunk(svd_model, decode_chunk_size)))
        return decode_latents(svd_model, samples, decode_chunk_size, progress=progress)


class SVDSuite_ImageToVideo:
    DESCRIPTION = "Conditioning, sampling and decoding in one node."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "FLOAT")
    RETURN_NAMES = ("images", "fps")
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {"svd_model": MODEL_INPUT, **CONDITIONING_INPUTS, **SAMPLER_INPUTS, **DECODE_INPUTS}
        }

    def generate(self, svd_model, image, **params):
        total = total_progress_steps(
            svd_model, params["steps"], params["num_frames"], params["decode_chunk_size"]
        )
        return image_to_video(svd_model, image, progress=comfy.Progress(total), **params)


NODE_CLASS_MAPPINGS: dict[str, type] = {
    "SVDSuite_LoadModel": SVDSuite_LoadModel,
    "SVDSuite_Conditioning": SVDSuite_Conditioning,
    "SVDSuite_Sampler": SVDSuite_Sampler,
    "SVDSuite_Decode": SVDSuite_Decode,
    "SVDSuite_ImageToVideo": SVDSuite_ImageToVideo,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    "SVDSuite_LoadModel": "Load SVD Model",
    "SVDSuite_Conditioning": "SVD Conditioning",
    "SVDSuite_Sampler": "SVD Sampler",
    "SVDSuite_Decode": "SVD Decode",
    "SVDSuite_ImageToVideo": "SVD Image to Video",
}
