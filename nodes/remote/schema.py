"""Provider parameter schemas as data: our input name → the provider's field name and range.

Each adapter keeps a table of `Field`s, and everything about a provider's parameters comes from
it: `build_payload` validates and renames (errors name our input, the value and the range), a
node's widgets are `widgets(table)`, and the auto engine fits SVD values into a provider's range
with `Field.clamp`. Adding an app or a parameter is adding a table row.
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
    # The node widget: its default and tooltip, the choices it offers (when `choices` also accepts
    # other spellings), a step, and a multiline text box for prompts.
    default: Any = None
    tooltip: str = ""
    offered: tuple | None = None
    step: float | None = None

    def widget(self) -> tuple:
        """The ComfyUI input spec of this field (its `omit_when` value is offered as the minimum:
        it means "let the provider choose")."""
        if self.choices is not None:
            choices = self.offered or self.choices
            return (list(choices), {"default": self.default, "tooltip": self.tooltip})
        if isinstance(self.default, str):
            return ("STRING", {"default": self.default, "multiline": True, "tooltip": self.tooltip})
        options: dict[str, Any] = {"default": self.default}
        low = self.minimum
        if self.omit_when is not _UNSET and isinstance(self.omit_when, (int, float)) and self.omit_when < low:
            low = self.omit_when
        options["min"], options["max"] = low, self.maximum
        if self.step is not None:
            options["step"] = self.step
        options["tooltip"] = self.tooltip
        return ("FLOAT" if isinstance(self.default, float) else "INT", options)

    def clamp(self, value: Any) -> Any:
        """`value` moved into this field's range (the auto engine sends SVD values to a provider
        whose range is narrower)."""
        if self.minimum is not None:
            value = max(self.minimum, value)
        if self.maximum is not None:
            value = min(self.maximum, value)
        return value


def widgets(fields: dict[str, Field], names: tuple[str, ...] | None = None) -> dict[str, tuple]:
    """The widgets of `fields` (or of those in `names`), keyed by our input name, in table order."""
    return {name: spec.widget() for name, spec in fields.items() if names is None or name in names}


def inputs_with_defaults(fields: dict[str, Field], inputs: dict[str, Any], context: str) -> dict[str, Any]:
    """`inputs` completed with each field's default; TypeError for an input the table lacks
    (a misspelt keyword must not be dropped silently)."""
    unknown = sorted(set(inputs) - set(fields))
    if unknown:
        raise TypeError(f"{context} takes no input {', '.join(unknown)}; its inputs: {', '.join(fields)}")
    return {name: inputs.get(name, spec.default) for name, spec in fields.items()}


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
