"""The one door to ComfyUI internals.

Everything ComfyUI-specific (folder_paths, the progress bar, the interrupt flag, PromptServer
messages, the native VIDEO type) is reached through this module. Each function has a plain
fallback, so the rest of the pack imports and is testable without ComfyUI on the path.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

log = logging.getLogger("svd_suite")

try:  # ComfyUI present: these are its real modules.
    import folder_paths as _folder_paths  # type: ignore
except Exception:  # pragma: no cover - exercised only without ComfyUI
    _folder_paths = None


def in_comfyui() -> bool:
    """True when running inside a ComfyUI process (folder_paths importable)."""
    return _folder_paths is not None


# --------------------------------------------------------------------------- folders

_FALLBACK_BASE = os.environ.get("SVD_SUITE_BASE_DIR", os.path.join(os.getcwd(), "svd_suite_data"))
_fallback_folders: dict[str, list[str]] = {}


def register_model_folder(kind: str, subdir: str) -> None:
    """Add `models/<subdir>` as a model folder called `kind` (idempotent).

    Why: SVD weights live in `models/svd` (ours) as well as ComfyUI's `models/diffusers`.
    """
    if _folder_paths is not None:
        path = os.path.join(_folder_paths.models_dir, subdir)
        if kind in _folder_paths.folder_names_and_paths:
            paths, exts = _folder_paths.folder_names_and_paths[kind]
            if path not in paths:
                paths.append(path)
        else:
            _folder_paths.folder_names_and_paths[kind] = ([path], set())
        return
    _fallback_folders.setdefault(kind, [os.path.join(_FALLBACK_BASE, "models", subdir)])


def model_folders(kind: str) -> list[str]:
    """The directories ComfyUI searches for models of `kind` (e.g. "diffusers", "checkpoints")."""
    if _folder_paths is not None:
        try:
            return list(_folder_paths.get_folder_paths(kind))
        except Exception:
            return []
    return list(_fallback_folders.get(kind, [os.path.join(_FALLBACK_BASE, "models", kind)]))


def registered_model_folders(kind: str) -> list[str]:
    """The directories of a model folder the running ComfyUI itself registers, else [].

    Why: core ComfyUI (0.33.0 and later) keeps frame-interpolation models in
    `models/frame_interpolation`; an older ComfyUI, or none, has no such folder and no fallback
    should invent one.
    """
    if _folder_paths is None or kind not in _folder_paths.folder_names_and_paths:
        return []
    return model_folders(kind)


def output_directory() -> str:
    if _folder_paths is not None:
        return _folder_paths.get_output_directory()
    return os.path.join(_FALLBACK_BASE, "output")


def input_directory() -> str:
    if _folder_paths is not None:
        return _folder_paths.get_input_directory()
    return os.path.join(_FALLBACK_BASE, "input")


def temp_directory() -> str:
    if _folder_paths is not None:
        return _folder_paths.get_temp_directory()
    return os.path.join(_FALLBACK_BASE, "temp")


def annotated_input_path(name: str) -> str:
    """Resolve an input-widget file name ("clip.mp4", "sub/clip.mp4 [input]") to a path."""
    if _folder_paths is not None:
        return _folder_paths.get_annotated_filepath(name)
    return os.path.join(input_directory(), name)


# --------------------------------------------------------------------------- device


def torch_device():
    """The device ComfyUI would compute on (honours --cpu); cuda/mps/cpu otherwise."""
    import torch

    try:
        import comfy.model_management as mm  # type: ignore

        return mm.get_torch_device()
    except Exception:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")


# --------------------------------------------------------------------------- interrupt


class SVDSuiteInterrupted(Exception):
    """Raised by the fallback interrupt check (outside ComfyUI)."""


_fallback_interrupt = threading.Event()


def request_interrupt(value: bool = True) -> None:
    """Set (or clear) the interrupt flag: ComfyUI's own, or the fallback flag in tests."""
    try:
        import comfy.model_management as mm  # type: ignore

        mm.interrupt_current_processing(value)
        return
    except Exception:
        pass
    if value:
        _fallback_interrupt.set()
    else:
        _fallback_interrupt.clear()


def interrupt_requested() -> bool:
    """True when the user pressed Cancel (without raising, so callers can clean up first)."""
    try:
        import comfy.model_management as mm  # type: ignore

        return bool(mm.processing_interrupted())
    except Exception:
        return _fallback_interrupt.is_set()


def throw_if_interrupted() -> None:
    """Raise ComfyUI's interrupt exception (or ours outside ComfyUI) when Cancel was pressed."""
    try:
        import comfy.model_management as mm  # type: ignore
    except Exception:
        if _fallback_interrupt.is_set():
            _fallback_interrupt.clear()
            raise SVDSuiteInterrupted("interrupted") from None
        return
    mm.throw_exception_if_processing_interrupted()


def raise_interrupt() -> None:
    """Raise ComfyUI's interrupt exception (ours outside ComfyUI) now, leaving the flag set.

    Why not throw_if_interrupted(): async nodes (the remote ones) wait side by side and each polls
    the flag; the first to see Cancel must not consume it before the others have (ComfyUI clears
    it when the next prompt starts), and it must raise even if another node consumed it already.
    """
    try:
        import comfy.model_management as mm  # type: ignore
    except Exception:
        raise SVDSuiteInterrupted("interrupted") from None
    raise mm.InterruptProcessingException()


def is_interrupt(exc: BaseException) -> bool:
    """True for ComfyUI's interrupt exception and ours: never retried, never a fallback case."""
    if isinstance(exc, SVDSuiteInterrupted):
        return True
    try:
        import comfy.model_management as mm  # type: ignore

        return isinstance(exc, mm.InterruptProcessingException)
    except Exception:
        return False


# --------------------------------------------------------------------------- progress


class Progress:
    """A progress bar for the running node: ComfyUI's ProgressBar, or a no-op outside ComfyUI.

    `update(value, preview=pil_image)` also sends a preview image to the node.
    """

    def __init__(self, total: int, node_id: str | None = None):
        self.total = max(int(total), 1)
        self.value = 0
        self._bar = None
        try:
            import comfy.utils  # type: ignore

            self._bar = comfy.utils.ProgressBar(self.total, node_id=node_id) if node_id else (
                comfy.utils.ProgressBar(self.total)
            )
        except Exception:
            self._bar = None

    def update(self, value: int, preview: Any = None, max_size: int = 512) -> None:
        """Report progress; lets ComfyUI's Cancel through, swallows any other failure.

        Why re-raise interrupts: ComfyUI's progress hook itself calls
        throw_exception_if_processing_interrupted(), which clears the flag and raises. Swallowing
        that would consume the user's Cancel and the node would run to the end.
        """
        self.value = min(int(value), self.total)
        if self._bar is None:
            return
        payload = ("JPEG", preview, max_size) if preview is not None else None
        try:
            self._bar.update_absolute(self.value, self.total, payload)
        except Exception as exc:
            if is_interrupt(exc):
                raise
            log.debug("progress update failed: %s", exc)  # a broken preview never breaks a run


# --------------------------------------------------------------------------- UI messages


def send_ui_message(event: str, data: dict, client_id: str | None = None) -> None:
    """Send a websocket message to the frontend (PromptServer.send_sync); no-op outside ComfyUI."""
    try:
        from server import PromptServer  # type: ignore

        instance = PromptServer.instance
        instance.send_sync(event, data, client_id if client_id is not None else instance.client_id)
    except Exception:
        pass


# --------------------------------------------------------------------------- native VIDEO


def native_video_from_file(path: str):
    """ComfyUI's VIDEO object for a saved file, or None on a ComfyUI without comfy_api video."""
    try:
        from comfy_api.latest import InputImpl  # type: ignore

        return InputImpl.VideoFromFile(path)
    except Exception:
        try:
            from comfy_api.input_impl import VideoFromFile  # type: ignore

            return VideoFromFile(path)
        except Exception:
            return None


def native_video_from_frames(images, fps: float):
    """ComfyUI's VIDEO object built from IMAGE frames + fps, or None when unavailable."""
    try:
        from fractions import Fraction

        from comfy_api.latest import InputImpl, Types  # type: ignore

        rate = Fraction(fps).limit_denominator(1001)
        return InputImpl.VideoFromComponents(Types.VideoComponents(images=images, frame_rate=rate))
    except Exception:
        return None


def native_video_type_available() -> bool:
    try:
        from comfy_api.latest import InputImpl  # type: ignore  # noqa: F401

        return True
    except Exception:
        return False


# --------------------------------------------------------------------------- model management
#
# ComfyUI decides what lives on the GPU: before a model runs it frees room (evicting idle
# models), and "Unload models" / POST /free unloads everything it knows. Our diffusers
# components join that bookkeeping as ModelPatchers, the type ComfyUI's own models use, so
# ComfyUI counts them, makes room for them and can evict them like its own. Only the narrow,
# stable part of the API is used (ModelPatcher(model, load_device, offload_device),
# load_models_gpu(..., memory_required, force_full_load), free_memory(bytes, device),
# current_loaded_models and LoadedModel.model_unload): the same on 0.3.75 and 0.33.0.

_holder_classes: dict[str, type] = {}


def _model_management():
    """(comfy.model_management, comfy.model_patcher) inside ComfyUI, else None."""
    try:
        import comfy.model_management as mm  # type: ignore
        import comfy.model_patcher as mp  # type: ignore

        return mm, mp
    except Exception:
        return None


def manages_models() -> bool:
    """True when ComfyUI's model management is there to account for our weights."""
    return _model_management() is not None


def _holder_class(module) -> type:
    """An nn.Module subclass named after the component, holding it as its only child.

    Why a holder: ModelPatcher records the device on its model (`model.device = ...`), which
    diffusers and transformers models expose as a read-only property. The holder has a plain
    attribute, and its class name (e.g. SVDSuiteUNetSpatioTemporalConditionModel) is what
    ComfyUI's log prints when it loads or unloads it.
    """
    import torch

    name = f"SVDSuite{type(module).__name__}"
    cls = _holder_classes.get(name)
    if cls is None:

        def __init__(self, component):
            torch.nn.Module.__init__(self)
            self.component = component

        cls = type(name, (torch.nn.Module,), {"__init__": __init__})
        _holder_classes[name] = cls
    return cls


def managed_model(module, load_device, offload_device="cpu") -> Any:
    """A ComfyUI ModelPatcher for `module`, or None outside ComfyUI.

    The module must be on `offload_device` now; load_managed() moves it to `load_device`.
    Nothing happens to the module here: the handle only lets ComfyUI count and move it. A
    ComfyUI whose ModelPatcher refuses it also gives None (with a warning): the caller then
    places the module itself, as outside ComfyUI.
    """
    found = _model_management()
    if found is None:
        return None
    import torch

    _mm, mp = found
    try:
        holder = _holder_class(module)(module)
        return mp.ModelPatcher(
            holder, load_device=torch.device(load_device), offload_device=torch.device(offload_device)
        )
    except Exception as exc:
        log.warning("SVD Suite: ComfyUI's model management cannot hold %s (%s)", type(module).__name__, exc)
        return None


def load_managed(handles, working_bytes: int = 0) -> None:
    """Have ComfyUI put these models on their device, first freeing `working_bytes` more.

    ComfyUI evicts its own idle models (and ours) as needed; a model that is already loaded
    costs nothing. Always a full load: a diffusers module cannot run half on the CPU.
    """
    found = _model_management()
    handles = [h for h in handles if h is not None]
    if found is None or not handles:
        return
    mm, _mp = found
    mm.load_models_gpu(handles, memory_required=int(working_bytes), force_full_load=True)


def unload_managed(handle) -> None:
    """Move one model back to its offload device and out of ComfyUI's loaded list."""
    found = _model_management()
    if found is None or handle is None:
        return
    mm, _mp = found
    for index, loaded in enumerate(list(mm.current_loaded_models)):
        if loaded.model is handle:
            mm.current_loaded_models.pop(index)
            loaded.model_unload()
            mm.soft_empty_cache()
            return


def free_device_memory(working_bytes: int, device) -> None:
    """Ask ComfyUI to free `working_bytes` on `device` (evicting idle models); no-op elsewhere.

    For components ComfyUI does not hold (accelerate's sequential offload streams weights).
    """
    found = _model_management()
    if found is None:
        return
    import torch

    if torch.device(device) == torch.device("cpu"):  # as load_models_gpu: RAM is not managed
        return
    mm, _mp = found
    mm.free_memory(int(working_bytes), device)


def managed_models() -> list[dict]:
    """What ComfyUI counts as loaded now: [{"name", "device", "bytes"}] (empty outside ComfyUI)."""
    found = _model_management()
    if found is None:
        return []
    mm, _mp = found
    listed = []
    for loaded in list(mm.current_loaded_models):
        patcher = loaded.model
        if patcher is None:
            continue
        listed.append(
            {
                "name": type(patcher.model).__name__,
                "device": str(loaded.device),
                "bytes": int(patcher.model_size()),
            }
        )
    return listed
