"""ComfyUI node classes for video out and in (thin: they call save_video / read_video)."""

from __future__ import annotations

import hashlib
import os

from .. import comfy
from .formats import FORMAT_NAMES, FORMATS, PIX_FMTS

CATEGORY = "SVD Suite/video"
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".m4v", ".avi", ".gif", ".webp")


class SaveVideo:
    """Save Video (SVD Suite): encode frames in-process with PyAV/Pillow; no system ffmpeg."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": (
                    "IMAGE",
                    {"tooltip": "Frames to save, e.g. from SVD Decode or Load Video Frames."},
                ),
                "fps": (
                    "FLOAT",
                    {
                        "default": 7.0,
                        "min": 0.01,
                        "max": 120.0,
                        "step": 0.01,
                        "tooltip": "Frames per second. NTSC rates (23.976, 29.97, 59.94) are stored "
                        "exactly as 24000/1001, 30000/1001, 60000/1001.",
                    },
                ),
                "format": (
                    list(FORMAT_NAMES),
                    {
                        "default": "mp4-h264",
                        "tooltip": "mp4-h264 plays everywhere; mp4-h265 is smaller but not "
                        "every browser plays it; webm-vp9 for the web; gif/webp "
                        "for chats; png-frames writes a numbered PNG folder.",
                    },
                ),
                "crf": (
                    "INT",
                    {
                        "default": 19,
                        "min": 0,
                        "max": 51,
                        "step": 1,
                        "tooltip": "Quality: lower is better and larger. 0 is lossless (webp: lossless). "
                        "17–23 is visually transparent for h264.",
                    },
                ),
                "pix_fmt": (
                    list(PIX_FMTS),
                    {
                        "default": "yuv420p",
                        "tooltip": "yuv420p plays everywhere; yuv444p keeps full colour "
                        "detail; yuv420p10le avoids banding (not for webm-vp9). "
                        "Ignored for gif/webp/png-frames.",
                    },
                ),
                "loop_count": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 100,
                        "step": 1,
                        "tooltip": "gif/webp: how often the animation loops (0 = forever). "
                        "mp4/webm/png-frames: extra repetitions written into the file.",
                    },
                ),
                "pingpong": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "Play forward then backward (without repeating the end frames), "
                        "for a seamless loop.",
                    },
                ),
                "filename_prefix": (
                    "STRING",
                    {
                        "default": "svd/video",
                        "tooltip": "Path under the output folder; sub-folders allowed. "
                        "'svd/video' → output/svd/video_00001.mp4. Never overwrites.",
                    },
                ),
                "save_metadata": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Embed the prompt and workflow (inputs named like key/token/"
                        "secret are removed first) so the file can be dropped "
                        "back onto the canvas.",
                    },
                ),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO", "unique_id": "UNIQUE_ID"},
        }

    RETURN_TYPES = ("STRING", "VIDEO")
    RETURN_NAMES = ("path", "video")
    OUTPUT_TOOLTIPS = (
        "Absolute path of the saved file (or folder, for png-frames).",
        "ComfyUI's native VIDEO, for chaining into core video nodes (None if unavailable).",
    )
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = CATEGORY
    DESCRIPTION = "Encode frames to mp4/webm/gif/webp/png with exact fps and BT.709 colour, and preview them."

    def save(
        self,
        images,
        fps,
        format,
        crf,
        pix_fmt,
        loop_count,
        pingpong,
        filename_prefix,
        save_metadata,
        prompt=None,
        extra_pnginfo=None,
        unique_id=None,
    ):
        from .save import save_video
        from .saved import preview_payload

        metadata = None
        if save_metadata:
            metadata = dict(extra_pnginfo or {})
            if prompt is not None:
                metadata["prompt"] = prompt
        progress = comfy.Progress(int(images.shape[0]), node_id=unique_id)
        saved = save_video(
            images,
            fps,
            format=format,
            crf=crf,
            pix_fmt=pix_fmt,
            loop_count=loop_count,
            pingpong=pingpong,
            filename_prefix=filename_prefix,
            metadata=metadata,
            on_progress=lambda done, total: progress.update(done * progress.total // max(total, 1)),
        )
        if FORMATS[saved.format].readable_by_ffmpeg:
            video = comfy.native_video_from_file(saved.path)
        else:  # animated webp, a PNG folder: ComfyUI's VIDEO is built from the frames instead
            video = comfy.native_video_from_frames(images, fps)
        return {"ui": preview_payload(saved), "result": (saved.path, video)}


def _video_files() -> list[str]:
    folder = comfy.input_directory()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(
        n for n in names if n.lower().endswith(VIDEO_EXTENSIONS) and os.path.isfile(os.path.join(folder, n))
    )


class LoadVideo:
    """Load Video Frames: decode a video from input/ to IMAGE frames + fps + count."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "video": (
                    _video_files(),
                    {
                        "video_upload": True,
                        "tooltip": "A video in ComfyUI's input folder (upload with the button): "
                        "mp4, webm, mkv, mov, gif, webp.",
                    },
                ),
                "frame_cap": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 100000,
                        "step": 1,
                        "tooltip": "Keep at most this many frames (0 = all).",
                    },
                ),
                "skip_first": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 100000,
                        "step": 1,
                        "tooltip": "Drop this many frames from the start.",
                    },
                ),
                "every_nth": (
                    "INT",
                    {
                        "default": 1,
                        "min": 1,
                        "max": 1000,
                        "step": 1,
                        "tooltip": "Keep every n-th frame; fps is divided by n so the duration stays.",
                    },
                ),
            }
        }

    RETURN_TYPES = ("IMAGE", "FLOAT", "INT")
    RETURN_NAMES = ("images", "fps", "frame_count")
    OUTPUT_TOOLTIPS = (
        "Frames as float RGB [N, H, W, 3].",
        "Frames per second of the returned frames.",
        "Number of frames returned.",
    )
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = "Decode a video into frames (streaming, exact fps), e.g. to re-encode or to condition SVD."

    def load(self, video, frame_cap, skip_first, every_nth):
        from .decode import read_video

        images, fps, count = read_video(comfy.annotated_input_path(video), frame_cap, skip_first, every_nth)
        return (images, fps, count)

    @classmethod
    def IS_CHANGED(cls, video, **_):
        digest = hashlib.sha256()
        try:
            with open(comfy.annotated_input_path(video), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return ""
        return digest.hexdigest()

    @classmethod
    def VALIDATE_INPUTS(cls, video):  # naming only `video` keeps ComfyUI's range checks for the rest
        if not os.path.isfile(comfy.annotated_input_path(video)):
            return f"Invalid video file: {video}"
        return True


NODE_CLASS_MAPPINGS = {"SVDSuite_SaveVideo": SaveVideo, "SVDSuite_LoadVideo": LoadVideo}
NODE_DISPLAY_NAME_MAPPINGS = {
    "SVDSuite_SaveVideo": "Save Video (SVD Suite)",
    "SVDSuite_LoadVideo": "Load Video Frames",
}
