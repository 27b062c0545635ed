"""Interpolate Frames' two ways of making in-betweens, behind one plain function.

`optical flow` needs no weights (interpolate.py). Every RIFE weight file the pack recognises is
a method of its own, named as listed (rife/weights.py); its frames come from our IFNet
(rife/run.py). Light on imports: the node asks for the choices whenever ComfyUI lists inputs.
"""

from __future__ import annotations

import logging
from typing import Any

OPTICAL_FLOW = "optical flow"

log = logging.getLogger("svd_suite")


def method_choices() -> list[str]:
    """`optical flow` first, then every recognised RIFE weight file by name."""
    from .rife.weights import rife_weight_files

    try:
        return [OPTICAL_FLOW, *rife_weight_files()]
    except Exception as exc:  # listing must never break the node list
        log.warning("SVD Suite: could not list RIFE weights: %s", exc)
        return [OPTICAL_FLOW]


def default_method(choices: list[str]) -> str:
    """A user who has RIFE weights gets the first of them; everyone else optical flow."""
    return choices[1] if len(choices) > 1 else OPTICAL_FLOW


def validate_method(method: str, scale: float = 1.0, ensemble: bool = False):
    """None for optical flow, else (weights path, architecture); ValueError naming the input."""
    if method == OPTICAL_FLOW:
        return None
    if not isinstance(method, str):
        raise ValueError(f"method: {method!r} is not allowed; use {OPTICAL_FLOW!r} or a listed RIFE file")
    from .rife.run import validate_rife_options
    from .rife.weights import resolve

    path, architecture = resolve(method)
    validate_rife_options(architecture, scale, ensemble)
    return path, architecture


def interpolate(
    images,
    fps: float,
    multiplier: int = 2,
    method: str = OPTICAL_FLOW,
    scale: float = 1.0,
    ensemble: bool = False,
    progress: Any = None,
):
    """Return (frames [(n-1)*k+1, H, W, 3] float32 0..1, fps * k) made by `method`.

    `scale` and `ensemble` are RIFE's options and are ignored by optical flow.
    """
    from .interpolate import interpolate_frames, validate_interpolation

    validate_interpolation(images, fps, multiplier)
    rife = validate_method(method, scale, ensemble)
    if rife is None:
        return interpolate_frames(images, fps, multiplier, progress=progress)
    from .rife.run import interpolate_rife

    return interpolate_rife(
        images, fps, multiplier, rife[0], scale=scale, ensemble=ensemble, progress=progress
    )
