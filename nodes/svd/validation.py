"""Input checks shared by the SVD functions: each error names the input, the value and the range.

They run before any heavy work, so a wrong widget value fails in milliseconds, and the same
messages appear whether a node, ExtendVideo or a test called the function.
"""

from __future__ import annotations

import math
from typing import Any

MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed accepts 0..2^64-1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(name: str, value: Any, low: int, high: int, note: str = "") -> int:
    if not _is_int(value) or not low <= value <= high:
        extra = f" ({note})" if note else ""
        raise ValueError(f"{name}: {value!r} is not allowed; use an integer from {low} to {high}{extra}")
    return value


def check_number(name: str, value: Any, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not (low <= value <= high)
    ):
        raise ValueError(f"{name}: {value!r} is not allowed; use a number from {low} to {high}")
    return float(value)


def check_size(name: str, value: Any) -> int:
    """Video width/height: 64-2048 in steps of 64 (the UNet halves the px/8 latent three times)."""
    if not _is_int(value) or not 64 <= value <= 2048 or value % 64:
        raise ValueError(
            f"{name}: {value!r} is not allowed; use a multiple of 64 from 64 to 2048 (e.g. 1024x576, 512x512)"
        )
    return value
