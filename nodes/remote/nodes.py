"""ComfyUI node classes for remote image-to-video and the auto engine (thin: they call the plain
functions). Provider widgets are rendered from each adapter's schema table, the auto engine's
SVD widgets from the SVD parameter table (nodes/svd/params.py).

API keys are never inputs: they come from the server's environment or the SVD Suite config file
(docs/remote.md), so they cannot end up in workflow files, PNG metadata or /history.

The `run` methods are `async def`: ComfyUI (0.3.75 and 0.33) runs such node functions as tasks
on the prompt's event loop, so independent remote nodes in one prompt wait on their providers
together instead of one after another.
"""

from __future__ import annotations

from ..svd.params import RESIZE_TOOLTIP
from .widgets import CATEGORY, COND_AUG_TIP, HIDDEN, IMAGE_TIP, MOTION_TIP, SEED, TIMEOUT, is_changed_for_seed

# The provider modules (and `requests`) load on first use, not at ComfyUI start-up.


class _RemoteNode:
    RETURN_TYPES = ("IMAGE", "FLOAT", "STRING")
    RETURN_NAMES = ("images", "fps", "file")
    FUNCTION = "run"
    CATEGORY = CATEGORY
    OUTPUT_NODE = True  # it saves a file in output/ and shows it on the node

    @classmethod
    def IS_CHANGED(cls, seed=-1, **_):
        return is_changed_for_seed(seed)

    @staticmethod
    def _result(video) -> dict:
        return {"ui": video.ui(), "result": (video.images, video.fps, video.path)}


class SVDSuiteRemoteFal(_RemoteNode):
    DESCRIPTION = "Stable Video Diffusion (and LTX) on fal.ai. Needs FAL_KEY on the ComfyUI server."

    @classmethod
    def INPUT_TYPES(cls):
        from .fal import APP_NAMES, INPUTS
        from .schema import widgets

        return {
            "required": {
                "image": ("IMAGE", {"tooltip": IMAGE_TIP}),
                "app": (list(APP_NAMES), {"default": APP_NAMES[0], "tooltip": "The fal.ai app to run."}),
                **widgets(INPUTS),
                "timeout_s": TIMEOUT,
            },
            "optional": {
                "mask": ("IMAGE,MASK", {"tooltip": "fal-ai/svd only: black = moves, white = stays still."}),
                "control_frames": (
                    "IMAGE",
                    {
                        "tooltip": "fal-ai/svd only: per-frame depth/control maps, sent as a zip (one frame per map)."
                    },
                ),
                "control_maps_url": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "fal-ai/svd only: https URL of an archive of control maps, or an archive "
                        "file in input/.",
                    },
                ),
            },
            "hidden": HIDDEN,
        }

    async def run(self, image, app, timeout_s, control_maps_url="", unique_id=None, **inputs):
        from .fal import fal_image_to_video

        video = await fal_image_to_video(
            image, app, timeout_s, control_maps_url=control_maps_url or "", node_id=unique_id, **inputs
        )
        return self._result(video)


class SVDSuiteRemoteReplicate(_RemoteNode):
    DESCRIPTION = "stability-ai/stable-video-diffusion on Replicate. Needs REPLICATE_API_TOKEN on the server."

    @classmethod
    def INPUT_TYPES(cls):
        from .replicate import DEFAULT_VERSION, FIELDS
        from .schema import widgets

        return {
            "required": {"image": ("IMAGE", {"tooltip": IMAGE_TIP}), **widgets(FIELDS), "timeout_s": TIMEOUT},
            "optional": {
                "version": (
                    "STRING",
                    {"default": DEFAULT_VERSION, "tooltip": "Replicate model version id (64 hex) to run."},
                ),
            },
            "hidden": HIDDEN,
        }

    async def run(self, image, timeout_s, version="", unique_id=None, **inputs):
        from .replicate import DEFAULT_VERSION, replicate_image_to_video

        video = await replicate_image_to_video(
            image, timeout_s, version or DEFAULT_VERSION, unique_id, **inputs
        )
        return self._result(video)


class SVDSuiteRemoteSegmind(_RemoteNode):
    DESCRIPTION = "Stable Video Diffusion on Segmind. Needs SEGMIND_API_KEY on the ComfyUI server."

    @classmethod
    def INPUT_TYPES(cls):
        from .schema import widgets
        from .segmind import FIELDS

        return {
            "required": {"image": ("IMAGE", {"tooltip": IMAGE_TIP}), **widgets(FIELDS), "timeout_s": TIMEOUT},
            "hidden": HIDDEN,
        }

    async def run(self, image, timeout_s, unique_id=None, **inputs):
        from .segmind import segmind_image_to_video

        return self._result(await segmind_image_to_video(image, timeout_s, unique_id, **inputs))


class SVDSuiteRemoteSiliconFlow(_RemoteNode):
    DESCRIPTION = (
        "Wan 2.2 text-to-video or image-to-video on SiliconFlow. Needs SILICONFLOW_API_KEY on the "
        "ComfyUI server. SiliconFlow has no cancel: a cancelled job may still finish and be billed."
    )

    @classmethod
    def INPUT_TYPES(cls):
        from .schema import widgets
        from .siliconflow import FIELDS, MODEL_NAMES

        return {
            "required": {
                "model": (
                    list(MODEL_NAMES),
                    {
                        "default": MODEL_NAMES[0],
                        "tooltip": "I2V models animate the connected image; T2V models take no image.",
                    },
                ),
                **widgets(FIELDS),
                "timeout_s": TIMEOUT,
            },
            "optional": {
                "image": (
                    "IMAGE",
                    {
                        "tooltip": "Start frame for image-to-video models (first image of the batch, sent inline)."
                    },
                ),
            },
            "hidden": HIDDEN,
        }

    async def run(self, model, timeout_s, image=None, unique_id=None, **inputs):
        from .siliconflow import siliconflow_video

        return self._result(await siliconflow_video(image, model, timeout_s, unique_id, **inputs))


# What the SVD parameters mean on the auto engine (ranges and defaults are the SVD table's; the
# seed is the remote nodes' one, where -1 means random).
AUTO_PARAMS = ("width", "height", "num_frames", "fps", "motion_bucket_id", "cond_aug", "seed", "steps")
AUTO_PARAMS += ("min_guidance_scale", "max_guidance_scale")
# Added after the node shipped, so optional and last: saved workflows (UI values are positional)
# load unchanged and run as before, with the old local path's crop and 8.
AUTO_OPTIONAL_PARAMS = ("resize", "decode_chunk_size")
AUTO_TOOLTIPS = {
    "width": "Output width (local engine; providers choose their own size).",
    "height": "Output height (local engine; providers choose their own size).",
    "num_frames": "0 = model default; providers: >14 asks for 25 frames.",
    "fps": "Frames per second (clamped to each provider's range).",
    "motion_bucket_id": MOTION_TIP,
    "cond_aug": COND_AUG_TIP,
    "steps": "Sampling steps (local engine).",
    "min_guidance_scale": "Guidance on the first frame (local engine).",
    "max_guidance_scale": "Guidance on the last frame (local engine).",
    "resize": f"Local engine. {RESIZE_TOOLTIP}. Providers ignore it (they size the image themselves).",
    "decode_chunk_size": "Frames decoded together (local engine): larger = smoother motion but "
    "more memory. Providers ignore it.",
}


class SVDSuiteAutoImageToVideo:
    DESCRIPTION = (
        "Image to video on the first available engine: local SVD when a model is connected, then "
        "hosted providers with a configured key; falls back to the next engine on failure."
    )
    RETURN_TYPES = ("IMAGE", "FLOAT", "STRING")
    RETURN_NAMES = ("images", "fps", "engine")
    FUNCTION = "run"
    CATEGORY = CATEGORY
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        from ..svd.params import widgets
        from .auto import DEFAULT_ENGINES

        return {
            "required": {
                "image": ("IMAGE", {"tooltip": IMAGE_TIP}),
                "engines": (
                    "STRING",
                    {
                        "default": DEFAULT_ENGINES,
                        "tooltip": "Order to try, comma-separated: local, fal, replicate, segmind "
                        "(and siliconflow: Wan 2.2, needs a prompt).",
                    },
                ),
                **widgets(AUTO_PARAMS, tooltips=AUTO_TOOLTIPS, overrides={"seed": SEED}),
                "timeout_s": TIMEOUT,
            },
            "optional": {
                "svd_model": (
                    "SVD_MODEL",
                    {"tooltip": "Connect a loaded SVD model to allow the local engine."},
                ),
                "prompt": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "Text prompt for engines that take one (siliconflow); SVD engines ignore it.",
                    },
                ),
                **widgets(AUTO_OPTIONAL_PARAMS, tooltips=AUTO_TOOLTIPS),
            },
            "hidden": HIDDEN,
        }

    @classmethod
    def IS_CHANGED(cls, seed=-1, **_):
        return is_changed_for_seed(seed)

    async def run(self, image, engines, timeout_s, svd_model=None, prompt="", unique_id=None, **inputs):
        from ..svd.params import SVDParams
        from .auto import auto_image_to_video

        params = SVDParams.of(inputs)
        result = await auto_image_to_video(image, engines, svd_model, params, timeout_s, prompt, unique_id)
        ui = dict(result.video.ui()) if result.video is not None else {}
        ui["text"] = [result.summary]
        return {"ui": ui, "result": (result.images, result.fps, result.engine)}


NODE_CLASS_MAPPINGS: dict[str, type] = {
    "SVDSuite_RemoteFal": SVDSuiteRemoteFal,
    "SVDSuite_RemoteReplicate": SVDSuiteRemoteReplicate,
    "SVDSuite_RemoteSegmind": SVDSuiteRemoteSegmind,
    "SVDSuite_RemoteSiliconFlow": SVDSuiteRemoteSiliconFlow,
    "SVDSuite_AutoImageToVideo": SVDSuiteAutoImageToVideo,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    "SVDSuite_RemoteFal": "SVD Remote (fal.ai)",
    "SVDSuite_RemoteReplicate": "SVD Remote (Replicate)",
    "SVDSuite_RemoteSegmind": "SVD Remote (Segmind)",
    "SVDSuite_RemoteSiliconFlow": "Video Remote (SiliconFlow)",
    "SVDSuite_AutoImageToVideo": "SVD Image to Video (auto engine)",
}
