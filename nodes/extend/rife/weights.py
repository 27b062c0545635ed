"""Finding, recognising and loading the user's RIFE weight files.

Where: `models/rife/` (registered as the model folder "rife"); core ComfyUI's own
`models/frame_interpolation/` where the running ComfyUI registers that folder (0.33.0 and later,
for its RIFE/FILM node), listed as `frame_interpolation/<file>`; and, when that pack is installed,
ComfyUI-Frame-Interpolation's `custom_nodes/comfyui-frame-interpolation/ckpts/rife/`.

Recognised by content, never by name: a file is offered when its tensor names and shapes are
exactly those of one of our architectures (with or without the `module.` prefix that
DataParallel training leaves), so a renamed file works and a look-alike that would fail to load
is not listed.

Listing must stay cheap because ComfyUI asks for the node's inputs often: a `.safetensors`
file's header is read (names and shapes only, no tensor data); a `.pth` file is opened with
torch.load(weights_only=True, mmap=True), which maps rather than reads the tensor data. Each
verdict is cached by path, size and modification time.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from typing import Any

from ... import comfy
from .architectures import ARCHITECTURES, Architecture

MODEL_FOLDER = "rife"
# Core ComfyUI's folder for its frame-interpolation models (RIFE and FILM; FILM is not listed).
CORE_FOLDER = "frame_interpolation"
EXTENSIONS = (".pth", ".safetensors")
# ComfyUI-Frame-Interpolation's folder as installed by the manager (lower case) or a git clone.
FRAME_INTERPOLATION_PACK = "comfyui-frame-interpolation"
FRAME_INTERPOLATION_LABEL = "ComfyUI-Frame-Interpolation"
_PREFIX = "module."

_lock = threading.Lock()
_verdicts: dict[tuple[str, int, int], str | None] = {}
_layouts: dict[str, dict[str, tuple[int, ...]]] = {}
_loaded: dict[str, Any] = {}


class RifeWeightsError(ValueError):
    """A requested RIFE file is missing, unreadable or of an unsupported architecture."""


def rife_weight_files() -> dict[str, str]:
    """Recognised RIFE weight files: {name shown in `method`: absolute path}, sorted by name."""
    return {name: path for name, path in _candidate_files().items() if architecture_of(path) is not None}


def _candidate_files() -> dict[str, str]:
    """Every .pth/.safetensors file in the search folders, recognised or not, by listed name."""
    found: dict[str, str] = {}
    for label, folder in _search_folders():
        for path in _weight_files_in(folder):
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            found.setdefault(f"{label}/{relative}" if label else relative, path)
    return dict(sorted(found.items()))


def architecture_of(path: str) -> Architecture | None:
    """The architecture whose layout the file has, or None (also for unreadable files)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    key = (os.path.abspath(path), status.st_size, int(status.st_mtime_ns))
    with _lock:
        if key in _verdicts:
            name = _verdicts[key]
            return ARCHITECTURES[name] if name else None
    try:
        shapes = _tensor_shapes(path)
    except Exception:
        shapes = {}
    name = _matching_architecture(shapes)
    with _lock:
        _verdicts[key] = name
    return ARCHITECTURES[name] if name else None


def resolve(method: str) -> tuple[str, Architecture]:
    """(path, architecture) of the file named `method` in the list, or RifeWeightsError."""
    candidates = _candidate_files()
    supported = (
        f"RIFE {', '.join(ARCHITECTURES)} layouts (e.g. rife47.pth, rife49.pth, rife417.pth, rife426.pth)"
    )
    if method not in candidates:
        folders = ", ".join(folder for _, folder in _search_folders()) or "models/rife (missing)"
        listed = ", ".join(name for name, path in candidates.items() if architecture_of(path)) or "none"
        raise RifeWeightsError(
            f"method: {method!r} is neither 'optical flow' nor a RIFE weight file found in {folders} "
            f"(usable files there: {listed})"
        )
    path = candidates[method]
    architecture = architecture_of(path)
    if architecture is None:
        raise RifeWeightsError(
            f"method: {method!r} ({path}) is not a supported RIFE weight file: its tensors match none "
            f"of the {supported}; .pth and .safetensors files with those layouts work"
        )
    return path, architecture


def load_model(path: str, device) -> Any:
    """Our IFNet with the file's weights, in eval mode on `device` (the last one is kept)."""
    import torch

    from .ifnet import IFNet

    architecture = architecture_of(path)
    if architecture is None:
        raise RifeWeightsError(f"method: {os.path.basename(path)!r} has no supported RIFE layout")
    status = os.stat(path)
    key = f"{os.path.abspath(path)}|{status.st_size}|{status.st_mtime_ns}|{device}"
    with _lock:
        if key in _loaded:
            return _loaded[key]
    state = {_strip(name): tensor for name, tensor in _read_tensors(path).items()}
    model = IFNet(architecture)
    model.load_state_dict(state, strict=True)
    model = model.to(device=device, dtype=torch.float32).eval()
    with _lock:
        _loaded.clear()  # one model at a time: weights are small, but GPU memory is not free
        _loaded[key] = model
    return model


def expected_layout(architecture: Architecture) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} of our IFNet for `architecture` (built on the meta device: no memory)."""
    with _lock:
        if architecture.name in _layouts:
            return _layouts[architecture.name]
    import torch

    from .ifnet import IFNet

    with torch.device("meta"):
        model = IFNet(architecture)
    layout = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    with _lock:
        _layouts[architecture.name] = layout
    return layout


def _search_folders() -> list[tuple[str, str]]:
    """(label for names, folder) pairs that exist: models/rife folders, core's, then the FI pack's."""
    folders = [("", folder) for folder in comfy.model_folders(MODEL_FOLDER)]
    folders += [(CORE_FOLDER, folder) for folder in comfy.registered_model_folders(CORE_FOLDER)]
    for custom_nodes in comfy.model_folders("custom_nodes"):
        try:
            entries = os.listdir(custom_nodes)
        except OSError:
            continue
        for entry in sorted(entries):
            if entry.lower() == FRAME_INTERPOLATION_PACK:
                folders.append(
                    (FRAME_INTERPOLATION_LABEL, os.path.join(custom_nodes, entry, "ckpts", "rife"))
                )
    return [(label, folder) for label, folder in folders if os.path.isdir(folder)]


def _weight_files_in(folder: str) -> list[str]:
    paths = []
    for root, _, names in os.walk(folder, followlinks=True):
        paths += [os.path.join(root, name) for name in names if name.lower().endswith(EXTENSIONS)]
    return sorted(paths)


def _strip(name: str) -> str:
    return name[len(_PREFIX) :] if name.startswith(_PREFIX) else name


def _matching_architecture(shapes: dict[str, tuple[int, ...]]) -> str | None:
    stripped = {_strip(name): shape for name, shape in shapes.items()}
    for name, architecture in ARCHITECTURES.items():
        if stripped == expected_layout(architecture):
            return name
    return None


def _tensor_shapes(path: str) -> dict[str, tuple[int, ...]]:
    if path.lower().endswith(".safetensors"):
        return _safetensors_shapes(path)
    return {name: tuple(tensor.shape) for name, tensor in _read_pth(path).items()}


def _safetensors_shapes(path: str) -> dict[str, tuple[int, ...]]:
    """Names and shapes from the safetensors header: 8 bytes of length, then JSON."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > 100_000_000:
            raise ValueError("implausible safetensors header")
        header = json.loads(handle.read(length))
    return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}


def _read_pth(path: str) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # the pre-zip format cannot be memory-mapped
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("not a flat state dict of tensors")
    return state


def _read_tensors(path: str) -> dict[str, Any]:
    if path.lower().endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    return _read_pth(path)
