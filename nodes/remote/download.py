"""Fetch a provider's result video at once (their URLs expire) and file it in output/ safely.

Bytes go to a hidden temporary file next to the destination, are checked to be a video, and
only then appear under their final name, hard-linked so an existing file is never overwritten
and a half-written file is never visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import requests

from .. import comfy
from ..video import naming
from ..video.saved import SavedVideo
from .transport import ProviderError, TransientError, Transport
from .url_trust import MAX_DOWNLOAD_BYTES, download_allowed

SUBFOLDER = "svd-remote"
CHUNK = 256 * 1024
DOWNLOAD_TIMEOUT = (10.0, 120.0)

# Container magic numbers: (offset, bytes, extension, mime type). Trust bytes, not Content-Type.
SIGNATURES = (
    (4, b"ftyp", ".mp4", "video/mp4"),
    (0, b"\x1a\x45\xdf\xa3", ".webm", "video/webm"),
    (0, b"GIF8", ".gif", "image/gif"),
    (0, b"RIFF", ".webp", "image/webp"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(extension, mime) for a known video container, else None."""
    for offset, magic, ext, mime in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return ext, mime
    return None


def _target(provider: str, ext: str):
    return naming.resolve_target(f"{SUBFOLDER}/{provider}", comfy.output_directory(), ext)


def partial_path(provider: str) -> Path:
    """A hidden temporary path in output/svd-remote/ (same file system as the final name)."""
    return Path(naming.temp_path(_target(provider, "")))


def stream_to_file(
    response: requests.Response, target: Path, label: str, should_stop: Callable[[], None]
) -> int:
    """Write a streaming response to `target` with a size cap; checks Content-Length is met.

    Runs in a worker thread: `should_stop()` raises once the job has stopped, and any failure
    removes what was written (the job may have given up on this thread already).
    """
    expected = response.headers.get("Content-Length")
    expected_n = int(expected) if expected and expected.isdigit() else None
    written = 0
    try:
        if expected_n is not None and expected_n > MAX_DOWNLOAD_BYTES:
            raise ProviderError(
                f"{label} result is {expected_n} bytes, over the {MAX_DOWNLOAD_BYTES} byte limit"
            )
        should_stop()
        with open(target, "wb") as out:
            for chunk in response.iter_content(CHUNK):
                should_stop()
                written += len(chunk)
                if written > MAX_DOWNLOAD_BYTES:
                    raise ProviderError(f"{label} result is over the {MAX_DOWNLOAD_BYTES} byte limit")
                out.write(chunk)
        should_stop()
        if expected_n is not None and written != expected_n:
            raise TransientError(f"{label} download truncated: got {written} of {expected_n} bytes")
    except requests.RequestException as exc:
        target.unlink(missing_ok=True)
        raise TransientError(
            f"{label} download truncated: connection broke off after {written} of "
            f"{expected_n if expected_n is not None else 'unknown'} bytes ({type(exc).__name__})"
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        response.close()
    return written


def download(transport: Transport, url: str, target: Path, should_stop: Callable[[], None]) -> int:
    """GET a result URL (no auth header: results live on CDNs) into `target`."""
    if not download_allowed(url, transport.provider):
        raise ProviderError(f"{transport.label} result URL is not https, refusing to download: {url[:200]}")
    try:
        response = transport.request("GET", url, timeout=DOWNLOAD_TIMEOUT, stream=True, auth=False)
    except ProviderError as exc:
        raise ProviderError(f"{exc} (result URL {url[:200]}; results expire, so re-run the job)") from None
    return stream_to_file(response, target, transport.label, should_stop)


def check_video(path: Path, label: str) -> tuple[str, str]:
    with open(path, "rb") as f:
        head = f.read(16)
    kind = sniff(head)
    if kind is None:
        size = path.stat().st_size
        raise ProviderError(f"{label} returned {size} bytes that are not a video (unknown container)")
    return kind


def file_output(partial: Path, provider: str, ext: str, mime: str) -> SavedVideo:
    """Give the checked file its final name `svd-remote/<provider>_00001.mp4` without overwriting.

    Uses the same counter naming and no-replace publication as Save Video (video/naming.py).
    """
    target = _target(provider, ext)
    name = naming.publish(str(partial), target)
    return SavedVideo(os.path.join(target.folder, name), name, target.subfolder, mime)
