"""Finding SVD models on disk and checking a folder before any weights are read.

A folder counts as SVD when its `model_index.json` names `StableVideoDiffusionPipeline`. The
checks here are cheap (JSON and safetensors headers, file sizes), so a wrong folder, a missing
part or a truncated download fails with a message naming the file, before seconds of loading.
"""

from __future__ import annotations

import json
import logging
import os
import struct

from .. import comfy
from . import single_file

log = logging.getLogger("svd_suite")

PIPELINE_CLASS = "StableVideoDiffusionPipeline"
MODEL_KINDS = ("diffusers", "svd")
CHECKPOINT_PREFIX = "checkpoints/"
MAX_DEPTH = 3  # models/diffusers/<org>/<name>/model_index.json is as deep as people nest

# Weight file stems per component folder; the loader tries plain files, then the fp16 variant.
WEIGHT_STEMS = {
    "unet": ("diffusion_pytorch_model",),
    "vae": ("diffusion_pytorch_model",),
    "image_encoder": ("model", "pytorch_model"),
}
WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin")
CONFIG_FILES = {
    "unet": "config.json",
    "vae": "config.json",
    "image_encoder": "config.json",
    "scheduler": "scheduler_config.json",
}


def is_svd_folder(path: str) -> bool:
    try:
        with open(os.path.join(path, "model_index.json"), encoding="utf-8") as f:
            return json.load(f).get("_class_name") == PIPELINE_CLASS
    except (OSError, ValueError, AttributeError):
        return False


def _walk_svd_folders(root: str) -> list[str]:
    """Relative paths ("a/b") of SVD folders under `root`, at most MAX_DEPTH levels down."""
    found: list[str] = []
    pending = [("", 0)]
    while pending:
        rel, depth = pending.pop()
        here = os.path.join(root, rel) if rel else root
        if rel and is_svd_folder(here):
            found.append(rel)
            continue
        if depth >= MAX_DEPTH:
            continue
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                pending.append((f"{rel}/{entry.name}" if rel else entry.name, depth + 1))
    return found


def list_svd_models() -> list[str]:
    """Combo values: SVD folders under models/diffusers and models/svd, then single-file ones.

    Folder entries are paths relative to their model root ("svd-xt", "org/svd-xt"); single-file
    checkpoints are "checkpoints/<name>". A name present in two roots is listed once (the first
    root wins, as in resolve_model_name).
    """
    names: list[str] = []
    for kind in MODEL_KINDS:
        for root in comfy.model_folders(kind):
            for rel in _walk_svd_folders(root):
                if rel not in names:
                    names.append(rel)
    try:
        names += [CHECKPOINT_PREFIX + n for n in single_file.list_svd_checkpoints()]
    except Exception as exc:  # an unreadable checkpoint folder must not hide the SVD folders
        log.warning("SVD Suite: listing single-file checkpoints failed: %s", exc)
    return sorted(names, key=str.lower)


def resolve_model_name(name: str) -> str:
    """Turn a combo value (or an existing absolute path) into the path to load."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model: expected the name of an SVD model, got {name!r}")
    if os.path.isabs(name) and os.path.exists(name):
        return name
    if name.startswith(CHECKPOINT_PREFIX):
        return single_file.checkpoint_path(name[len(CHECKPOINT_PREFIX) :])
    parts = name.replace("\\", "/").split("/")
    if ".." not in parts:
        for kind in MODEL_KINDS:
            for root in comfy.model_folders(kind):
                candidate = os.path.join(root, *parts)
                if os.path.isdir(candidate):
                    return candidate
    roots = [r for kind in MODEL_KINDS for r in comfy.model_folders(kind)]
    raise ValueError(
        f"model: {name!r} was not found. Put a diffusers-format SVD folder (with model_index.json) "
        f"into one of {roots}; available now: {list_svd_models() or 'none'}"
    )


def check_safetensors(path: str) -> None:
    """Raise ValueError when a .safetensors file is truncated or its header is unreadable.

    Why: torch would otherwise fail deep inside from_pretrained (or mmap a short file and crash
    later); the header states exactly how many bytes the file must have.
    """
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("shorter than its 8-byte header length")
            (header_len,) = struct.unpack("<Q", head)
            if header_len > size - 8:
                raise ValueError(f"header says {header_len} bytes but the file has {size}")
            header = json.loads(f.read(header_len))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except ValueError as exc:
        raise ValueError(f"corrupt safetensors file {path}: {exc}. Download it again.") from None
    except (KeyError, TypeError, IndexError):
        raise ValueError(f"corrupt safetensors file {path}: malformed header. Download it again.") from None
    expected = 8 + header_len + end
    if size < expected:
        raise ValueError(
            f"truncated safetensors file {path}: {size} bytes, the header needs {expected}. "
            "The download was probably interrupted: download it again."
        )


def _weight_files(folder: str, component: str) -> tuple[str | None, list[str]]:
    """(variant, weight files) of one component folder: variant None (plain) or "fp16"."""
    sub = os.path.join(folder, component)
    for variant in (None, "fp16"):
        for stem in WEIGHT_STEMS[component]:
            for suffix in WEIGHT_SUFFIXES:
                name = stem + (f".{variant}" if variant else "") + suffix
                path = os.path.join(sub, name)
                if not os.path.isfile(path):
                    continue
                if suffix.endswith(".index.json"):
                    with open(path, encoding="utf-8") as f:
                        shards = sorted(set(json.load(f).get("weight_map", {}).values()))
                    missing = [s for s in shards if not os.path.isfile(os.path.join(sub, s))]
                    if missing:
                        raise ValueError(f"{folder}: {component}/ is missing shard(s) {missing}")
                    return variant, [os.path.join(sub, s) for s in shards]
                return variant, [path]
    raise ValueError(
        f"{folder}: {component}/ has no weights (expected e.g. "
        f"{WEIGHT_STEMS[component][0]}.safetensors or its .fp16 variant)"
    )


def inspect_svd_folder(folder: str) -> dict[str, str | None]:
    """Check a diffusers SVD folder; returns {component: variant} for unet, vae, image_encoder.

    Raises ValueError naming the folder and what is wrong: not SVD, a missing part, a corrupt
    or truncated safetensors file.
    """
    index_path = os.path.join(folder, "model_index.json")
    if not os.path.isdir(folder):
        raise ValueError(f"model: {folder} is not a folder")
    try:
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a diffusers model: model_index.json is missing") from None
    except ValueError as exc:
        raise ValueError(f"{folder}: model_index.json is not valid JSON ({exc})") from None
    found = index.get("_class_name") if isinstance(index, dict) else None
    if found != PIPELINE_CLASS:
        raise ValueError(
            f"{folder} is not a Stable Video Diffusion model: model_index.json names {found!r}, "
            f"expected {PIPELINE_CLASS!r}"
        )
    for component, config in CONFIG_FILES.items():
        if not os.path.isfile(os.path.join(folder, component, config)):
            raise ValueError(f"{folder}: missing part {component}/{config}")
    variants: dict[str, str | None] = {}
    for component in WEIGHT_STEMS:
        variant, files = _weight_files(folder, component)
        for path in files:
            if path.endswith(".safetensors"):
                check_safetensors(path)
        variants[component] = variant
    return variants


def folder_fingerprint(folder: str) -> tuple:
    """Sizes and mtimes of the weight files: a replaced download invalidates the model cache."""
    stamp = []
    for component in WEIGHT_STEMS:
        sub = os.path.join(folder, component)
        try:
            for entry in sorted(os.scandir(sub), key=lambda e: e.name):
                if entry.is_file():
                    st = entry.stat()
                    stamp.append((component, entry.name, st.st_size, st.st_mtime_ns))
        except OSError:
            pass
    return tuple(stamp)
