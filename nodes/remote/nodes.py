"""ComfyUI node classes for remote image-to-video (thin: they call the plain functions).

API keys are never inputs: they come from the server's environment or the SVD Suite config file
(docs/remote.md), so they cannot end up in workflow files, PNG metadata or /history.

The `run` methods are `async def`: ComfyUI (0.3.75 and 0.33) runs such node functions as tasks
on the prompt's event loop, so independent remote nodes in one prompt wait on their providers
together instead of one after another.
"""

from __future__ import annotations

from .auto import SVDSuiteAutoImageToVideo
from .widgets import CATEGORY, COND_AUG, HIDDEN, IMAGE_TIP, MOTION, SEED, TIMEOUT, is_changed_for_seed

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
        from .fal import APP_NAMES

        return {
            "required": {
                "image": ("IMAGE", {"tooltip": IMAGE_TIP}),
                "app": (list(APP_NAMES), {"default": APP_NAMES[0], "tooltip": "The fal.ai app to run."}),
                "motion_bucket_id": MOTION,
                "cond_aug": COND_AUG,
                "fps": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 100,
                        "tooltip": "Frames per second of the result; 0 = the app's default "
                        "(stable-video: 25, range 10-100; fast-svd-lcm: 10).",
                    },
                ),
                "steps": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 100,
                        "tooltip": "Sampling steps; 0 = the app's default (fast-svd-lcm 1-20, "
                        "svd, ltx-video). stable-video has no steps setting.",
                    },
                ),
                "seed": SEED,
                "prompt": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "Text prompt, required by fal-ai/ltx-video/image-to-video only.",
                    },
                ),
                "timeout_s": TIMEOUT,
            },
            "optional": {
                "mask": ("IMAGE,MASK", {"tooltip": "fal-ai/svd only: black = moves, white = stays still."}),
                "control_frames": (
                    "IMAGE",
                    {
                        "tooltip": "fal-ai/svd only: per-frame depth/control maps, sent "
                        "as a zip (one frame per map)."
                    },
                ),
                "control_maps_url": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "fal-ai/svd only: https URL of an "
                        "archive of control maps, or an archive file in input/.",
                    },
                ),
            },
            "hidden": HIDDEN,
        }

    async def run(
        self,
        image,
        app,
        motion_bucket_id,
        cond_aug,
        fps,
        steps,
        seed,
        prompt,
        timeout_s,
        mask=None,
        control_frames=None,
        control_maps_url="",
        unique_id=None,
    ):
        from .fal import fal_image_to_video

        return self._result(
            await fal_image_to_video(
                image,
                app=app,
                motion_bucket_id=motion_bucket_id,
                cond_aug=cond_aug,
                fps=fps,
                steps=steps,
                seed=seed,
                prompt=prompt,
                timeout_s=timeout_s,
                mask=mask,
                control_frames=control_frames,
                control_maps_url=control_maps_url or "",
                node_id=unique_id,
            )
        )


class SVDSuiteRemoteReplicate(_RemoteNode):
    DESCRIPTION = "stability-ai/stable-video-diffusion on Replicate. Needs REPLICATE_API_TOKEN on the server."

    @classmethod
    def INPUT_TYPES(cls):
        from .replicate import DEFAULT_VERSION, SIZING_STRATEGIES, VIDEO_LENGTHS

        return {
            "required": {
                "image": ("IMAGE", {"tooltip": IMAGE_TIP}),
                "video_length": (
                    list(VIDEO_LENGTHS),
                    {"default": VIDEO_LENGTHS[0], "tooltip": "14 frames (SVD) or 25 frames (SVD-XT)."},
                ),
                "sizing_strategy": (
                    list(SIZING_STRATEGIES),
                    {
                        "default": SIZING_STRATEGIES[0],
                        "tooltip": "How the image is fitted to the model's size.",
                    },
                ),
                "frames_per_second": (
                    "INT",
                    {
                        "default": 6,
                        "min": 5,
                        "max": 30,
                        "tooltip": "Frame rate of the result (the model's fps conditioning).",
                    },
                ),
                "motion_bucket_id": MOTION,
                "cond_aug": COND_AUG,
                "decoding_t": (
                    "INT",
                    {
                        "default": 14,
                        "min": 1,
                        "max": 25,
                        "tooltip": "Frames decoded at a time (lower = less GPU memory there).",
                    },
                ),
                "seed": SEED,
                "timeout_s": TIMEOUT,
            },
            "optional": {
                "version": (
                    "STRING",
                    {"default": DEFAULT_VERSION, "tooltip": "Replicate model version id (64 hex) to run."},
                ),
            },
            "hidden": HIDDEN,
        }

    async def run(
        self,
        image,
        video_length,
        sizing_strategy,
        frames_per_second,
        motion_bucket_id,
        cond_aug,
        decoding_t,
        seed,
        timeout_s,
        version="",
        unique_id=None,
    ):
        from .replicate import DEFAULT_VERSION, replicate_image_to_video

        return self._result(
            await replicate_image_to_video(
                image,
                video_length=video_length,
                sizing_strategy=sizing_strategy,
                frames_per_second=frames_per_second,
                motion_bucket_id=motion_bucket_id,
                cond_aug=cond_aug,
                decoding_t=decoding_t,
                seed=seed,
                timeout_s=timeout_s,
                version=version or DEFAULT_VERSION,
                node_id=unique_id,
            )
        )


class SVDSuiteRemoteSegmind(_RemoteNode):
    DESCRIPTION = "Stable Video Diffusion on Segmind. Needs SEGMIND_API_KEY on the ComfyUI server."

    @classmethod
    def INPUT_TYPES(cls):
        from .segmind import FRAMES, RESIZE_METHODS

        return {
            "required": {
                "image": ("IMAGE", {"tooltip": IMAGE_TIP}),
                "fps": (
                    "INT",
                    {"default": 7, "min": 1, "max": 60, "tooltip": "Frames per second of the result."},
                ),
                "motion": (
                    "INT",
                    {"default": 127, "min": 1, "max": 180, "tooltip": "Motion amount (Segmind: 1-180)."},
                ),
                "seed": ("INT", {**SEED[1], "max": 999999999999999}),
                "cond_aug": (
                    "FLOAT",
                    {
                        "default": 0.1,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.001,
                        "tooltip": "Noise added to the conditioning image (Segmind: 0-1).",
                    },
                ),
                "frames": (list(FRAMES), {"default": FRAMES[0], "tooltip": "Number of frames: 14 or 25."}),
                "resize_method": (
                    list(RESIZE_METHODS),
                    {"default": RESIZE_METHODS[0], "tooltip": "How the image is fitted to the model's size."},
                ),
                "timeout_s": TIMEOUT,
            },
            "hidden": HIDDEN,
        }

    async def run(self, image, fps, motion, seed, cond_aug, frames, resize_method, timeout_s, unique_id=None):
        from .segmind import segmind_image_to_video

        return self._result(
            await segmind_image_to_video(
                image,
                fps=fps,
                motion=motion,
                seed=seed,
                cond_aug=cond_aug,
                frames=frames,
                resize_method=resize_method,
                timeout_s=timeout_s,
                node_id=unique_id,
            )
        )


class SVDSuiteRemoteSiliconFlow(_RemoteNode):
    DESCRIPTION = (
        "Wan 2.2 text-to-video or image-to-video on SiliconFlow. Needs SILICONFLOW_API_KEY on the "
        "ComfyUI server. SiliconFlow has no cancel: a cancelled job may still finish and be billed."
    )

    @classmethod
    def INPUT_TYPES(cls):
        from .siliconflow import IMAGE_SIZES, MODEL_NAMES

        return {
            "required": {
                "model": (
                    list(MODEL_NAMES),
                    {
                        "default": MODEL_NAMES[0],
                        "tooltip": "I2V models animate the connected image; T2V models take no image.",
                    },
                ),
                "prompt": (
                    "STRING",
                    {"default": "", "multiline": True, "tooltip": "What the video shows (required)."},
                ),
                "negative_prompt": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "What to keep out of the video (optional).",
                    },
                ),
                "image_size": (
                    list(IMAGE_SIZES),
                    {"default": IMAGE_SIZES[0], "tooltip": "Output size: landscape, portrait or square."},
                ),
                "seed": SEED,
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

    async def run(
        self, model, prompt, negative_prompt, image_size, seed, timeout_s, image=None, unique_id=None
    ):
        from .siliconflow import siliconflow_video

        return self._result(
            await siliconflow_video(
                image,
                model=model,
                prompt=prompt,
                negative_prompt=negative_prompt,
                image_size=image_size,
                seed=seed,
                timeout_s=timeout_s,
                node_id=unique_id,
            )
        )


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
