"""Turn ComfyUI tensors into what the providers accept: PNG data URIs, raw base64, zip archives.

Sending images inline (data URIs) avoids each provider's upload service, keeps the fakes small,
and means no file of the user's ever sits on a third-party CDN longer than the job needs.
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from urllib.parse import urlsplit

from .. import comfy


def _to_pil(frame, mode: str = "RGB"):
    import numpy as np
    from PIL import Image

    array = (
        frame.detach().cpu().float().numpy()
        if hasattr(frame, "detach")
        else np.asarray(frame, dtype=np.float32)
    )
    array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype("uint8")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return Image.fromarray(array, "L").convert(mode)
    if array.shape[-1] == 4:
        array = array[..., :3]  # IMAGE convention: RGB, alpha dropped
    return Image.fromarray(array, "RGB").convert(mode)


def first_frame(images, name: str = "image"):
    """Frame 0 of an IMAGE ([B,H,W,C]) or MASK ([B,H,W]) batch; ValueError when empty or malformed."""
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) not in (3, 4) or shape[0] < 1:
        raise ValueError(
            f"{name}: expected an IMAGE batch [frames, height, width, channels], got shape {shape}"
        )
    if len(shape) == 4 and shape[-1] not in (1, 3, 4):
        raise ValueError(f"{name}: expected 1, 3 or 4 channels, got shape {shape}")
    return images[0]


def png_bytes(images, name: str = "image", mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    _to_pil(first_frame(images, name), mode).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_uri(images, name: str = "image", mode: str = "RGB") -> str:
    """The first frame as `data:image/png;base64,...` (fal and Replicate accept these as URLs)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(images, name, mode)).decode("ascii")


def png_base64(images, name: str = "image") -> str:
    """The first frame as bare base64 (Segmind wants no `data:` prefix)."""
    return base64.b64encode(png_bytes(images, name)).decode("ascii")


def mask_data_uri(mask, name: str = "mask") -> str:
    """A MASK ([B,H,W]) or IMAGE as a grayscale PNG data URI (fal-ai/svd: black moves, white stays)."""
    return png_data_uri(mask, name, mode="L")


def frames_zip_data_uri(images, name: str = "control_frames") -> str:
    """Every frame as frame_00000.png … in a zip, as a data URI (fal-ai/svd control maps, one per frame)."""
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[0] < 1:
        raise ValueError(
            f"{name}: expected an IMAGE batch [frames, height, width, channels], got shape {shape}"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(shape[0]):
            frame = io.BytesIO()
            _to_pil(images[index]).save(frame, format="PNG")
            archive.writestr(f"frame_{index:05d}.png", frame.getvalue())
    return "data:application/zip;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


ARCHIVE_TYPES = {
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
}
MAX_INLINE_ARCHIVE = 64 * 1024 * 1024


def archive_reference(value: str, name: str = "control_maps_url") -> str:
    """An https URL stays as it is; a local archive (path, or a file in ComfyUI's input/) becomes a data URI."""
    value = value.strip()
    if urlsplit(value).scheme in ("https", "data"):
        return value
    path = value if os.path.isabs(value) else comfy.annotated_input_path(value)
    ext = os.path.splitext(path)[1].lower()
    if ext not in ARCHIVE_TYPES:
        raise ValueError(
            f"{name}: {value!r} must be an https URL or an archive file ({', '.join(ARCHIVE_TYPES)})"
        )
    if not os.path.isfile(path):
        raise ValueError(f"{name}: archive {value!r} not found (looked at {path})")
    size = os.path.getsize(path)
    if size > MAX_INLINE_ARCHIVE:
        raise ValueError(f"{name}: {value!r} is {size} bytes; upload it and pass an https URL instead")
    with open(path, "rb") as f:
        return f"data:{ARCHIVE_TYPES[ext]};base64," + base64.b64encode(f.read()).decode("ascii")
