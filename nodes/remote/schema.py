"""Provider parameter schemas as data: our input name → the provider's field name and range.

Each adapter keeps a table of `Field`s; `build_payload` validates and renames in one place, so
adding an app is adding a table row, and errors always name our input, the value and the range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_UNSET = object()


@dataclass(frozen=True)
class Field:
    """One provider field fed from one of our inputs."""

    name: str
    minimum: float | None = None
    maximum: float | None = None
    omit_when: Any = _UNSET  # our "let the provider choose" value (seed -1, fps 0 …)
    convert: Callable[[Any], Any] | None = None
    choices: tuple | None = None
    required: bool = False


def build_payload(fields: dict[str, Field], values: dict[str, Any], context: str) -> dict[str, Any]:
    """Validate `values` (our input names) against `fields` and return the provider's JSON fields.

    Inputs without a row are not sent (the app has no such parameter). ValueError names the
    input, the value and what `context` (e.g. "fal-ai/stable-video") allows.
    """
    payload: dict[str, Any] = {}
    for ours, spec in fields.items():
        value = values.get(ours)
        if value is None or (spec.omit_when is not _UNSET and value == spec.omit_when):
            if spec.required:
                raise ValueError(f"{ours} is required by {context}")
            continue
        if isinstance(value, str) and spec.required and not value.strip():
            raise ValueError(f"{ours} is required by {context} (got an empty string)")
        if spec.choices is not None and value not in spec.choices:
            allowed = ", ".join(str(c) for c in spec.choices)
            raise ValueError(f"{ours}={value!r} is not allowed by {context}; choose one of: {allowed}")
        if (
            spec.minimum is not None
            and value < spec.minimum
            or spec.maximum is not None
            and value > spec.maximum
        ):
            lo = "-inf" if spec.minimum is None else f"{spec.minimum:g}"
            hi = "inf" if spec.maximum is None else f"{spec.maximum:g}"
            extra = (
                f" (or {spec.omit_when!r} for the provider's default)" if spec.omit_when is not _UNSET else ""
            )
            raise ValueError(f"{ours}={value!r} is outside {lo}..{hi} allowed by {context}{extra}")
        payload[spec.name] = spec.convert(value) if spec.convert else value
    return payload
