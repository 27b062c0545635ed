"""Collects the node classes of every concern into ComfyUI's two mappings.

Each concern keeps its nodes in its own `nodes` module with NODE_CLASS_MAPPINGS and
NODE_DISPLAY_NAME_MAPPINGS. A concern that fails to import (say, a missing optional dependency)
is logged and skipped so the rest of the pack still loads.
"""

from __future__ import annotations

import importlib
import logging

from . import comfy

log = logging.getLogger("svd_suite")

# Order is the order nodes appear in ComfyUI's menus.
NODE_MODULES = (
    "svd.nodes",
    "video.nodes",
    "remote.nodes",
    "extend.nodes",
)

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
FAILED_MODULES: dict[str, str] = {}

comfy.register_model_folder("svd", "svd")
comfy.register_model_folder("rife", "rife")  # RIFE weight files for Interpolate Frames

for _name in NODE_MODULES:
    try:
        _module = importlib.import_module(f".{_name}", __package__)
    except Exception as exc:  # keep the rest of the pack usable
        FAILED_MODULES[_name] = f"{type(exc).__name__}: {exc}"
        log.error("SVD Suite: could not load %s: %s", _name, exc)
        continue
    NODE_CLASS_MAPPINGS.update(getattr(_module, "NODE_CLASS_MAPPINGS", {}))
    NODE_DISPLAY_NAME_MAPPINGS.update(getattr(_module, "NODE_DISPLAY_NAME_MAPPINGS", {}))
