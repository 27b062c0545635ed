"""ComfyUI node classes of the local SVD path (thin: each calls one plain function)."""

from __future__ import annotations

from .. import comfy
from .conditioning import prepare_conditioning
from .decoding import decode_latents, decode_steps
from .discovery import list_svd_models, resolve_model_name
from .generate import effective_chunk, image_to_video, total_progress_steps
from .loading import DTYPE_CHOICES, load_svd_model
from .params import CONDITIONING_PARAMS, DECODE_PARAMS, SAMPLER_PARAMS, SVDParams, widgets
from .placement import OFFLOAD_CHOICES
from .sampling import sample_latents
from .types import SVD_CONDITIONING, SVD_MODEL

CATEGORY = "SVD Suite"

MODEL_INPUT = (SVD_MODEL, {"tooltip": "The SVD model from Load SVD Model."})

# The parameter widgets, rendered from the one declaration in params.py.
CONDITIONING_INPUTS = {
    "image": ("IMAGE", {"tooltip": "The start image. With a batch, only the first frame is used."}),
    **widgets(CONDITIONING_PARAMS),
}
SAMPLER_INPUTS = widgets(SAMPLER_PARAMS)
DECODE_INPUTS = widgets(DECODE_PARAMS)


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

    def condition(self, svd_model, image, **params):
        cond = prepare_conditioning(svd_model, image, **params)
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

    def sample(self, svd_model, conditioning, **params):
        progress = comfy.Progress(params["steps"])
        return (sample_latents(svd_model, conditioning, progress=progress, **params),)


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

    def generate(self, svd_model, image, **inputs):
        params = SVDParams.of(inputs)
        progress = comfy.Progress(total_progress_steps(svd_model, params))
        return image_to_video(svd_model, image, params, progress=progress)


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
