"""The SVD parameters, declared once: the `SVDParams` dataclass is the signature, the widget specs
and the checks.

Each field carries its `Spec` (widget type, default, range, step, tooltip). Every node that
offers SVD parameters (Conditioning, Sampler, Decode, Image to Video, Long Video, the auto
engine) renders its widgets from these specs with `widgets()`, changing at most a tooltip, so a
range or default is changed in one place. `image_to_video`, `extend_video` and the auto engine
take one `SVDParams` and pass it on. This is the role `__call__`'s signature plays in diffusers'
pipeline, and it makes a later move to ComfyUI's V3 node schema a single rendering function.

Importing this module stays cheap (no torch): the resize mode names are plain data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .validation import MAX_SEED, check_int, check_number, check_size

# The resize choices and what each does (the functions live in conditioning.py, keyed by name).
RESIZE_DESCRIPTIONS: dict[str, str] = {
    "crop": "scale to cover width x height, cut the overflow (centred)",
    "pad": "scale to fit inside width x height, black bars fill the rest",
    "stretch": "scale to exactly width x height, ignoring the aspect ratio",
    "keep": "the image's own size rounded to multiples of 64; width/height ignored",
}


@dataclass(frozen=True)
class Spec:
    """One SVD parameter as a widget: ComfyUI type ("INT", "FLOAT" or a tuple of choices),
    default, range, step and tooltip. `extra` holds further widget options
    (control_after_generate); `check_with` replaces the range check where a value needs more
    (width/height: multiples of 64); `note` ends the range error (what 0 means)."""

    kind: str | tuple[str, ...]
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    tooltip: str = ""
    extra: tuple[tuple[str, Any], ...] = ()
    check_with: Callable[[str, Any], Any] | None = None
    note: str = ""

    def widget(self, tooltip: str | None = None, explicit_step: bool = False) -> tuple:
        """The ComfyUI input spec. `tooltip` replaces the default one (a node may say what a
        value means in its context); `explicit_step` writes step 1 for INT widgets that have
        none (Long Video has always listed it, and /object_info is public API)."""
        options: dict[str, Any] = {"default": self.default}
        if self.minimum is not None:
            options["min"], options["max"] = self.minimum, self.maximum
        step = self.step if self.step is not None else (1 if explicit_step and self.kind == "INT" else None)
        if step is not None:
            options["step"] = step
        options.update(self.extra)
        options["tooltip"] = tooltip if tooltip is not None else self.tooltip
        return (list(self.kind) if isinstance(self.kind, tuple) else self.kind, options)

    def check(self, name: str, value: Any) -> Any:
        """The value if it is allowed; ValueError naming the input, the value and the range."""
        if isinstance(self.kind, tuple):  # a choice
            if value not in self.kind:
                raise ValueError(f"{name}: {value!r} is not one of {list(self.kind)}")
            return value
        if self.kind == "FLOAT":
            return check_number(name, value, self.minimum, self.maximum)
        if self.check_with is not None:
            return self.check_with(name, value)
        return check_int(name, value, int(self.minimum), int(self.maximum), self.note)


def _param(kind, default, limits: tuple | None = None, step=None, tooltip: str = "", **more) -> Any:
    """A dataclass field whose metadata is its widget Spec (`limits` = (min, max))."""
    minimum, maximum = limits or (None, None)
    spec = Spec(kind, default, minimum, maximum, step, tooltip, **more)
    return field(default=default, metadata={"spec": spec})


RESIZE_TOOLTIP = "How the image becomes width x height: " + "; ".join(
    f"{name} = {text}" for name, text in RESIZE_DESCRIPTIONS.items()
)


@dataclass(frozen=True)
class SVDParams:
    """Everything one SVD generation is asked for, besides the model and the start image."""

    # conditioning
    width: int = _param(
        "INT", 1024, (64, 2048), step=64, check_with=check_size,
        tooltip="Video width in pixels (multiple of 64). SVD was trained at 1024x576.",
    )  # fmt: skip
    height: int = _param(
        "INT", 576, (64, 2048), step=64, check_with=check_size,
        tooltip="Video height in pixels (multiple of 64).",
    )  # fmt: skip
    resize: str = _param(tuple(RESIZE_DESCRIPTIONS), "crop", tooltip=RESIZE_TOOLTIP)
    num_frames: int = _param(
        "INT", 0, (0, 128), note="0 = the model's default",
        tooltip="Frames to generate; 0 = the model's default (14 for SVD, 25 for SVD-XT).",
    )  # fmt: skip
    fps: int = _param(
        "INT", 7, (1, 60),
        tooltip="Frame rate the model is told about (and the video's fps). Lower = more motion per frame.",
    )  # fmt: skip
    motion_bucket_id: int = _param(
        "INT", 127, (1, 255), tooltip="Amount of motion: higher = more movement."
    )  # fmt: skip
    cond_aug: float = _param(
        "FLOAT", 0.02, (0.0, 10.0), step=0.001,
        tooltip="Noise added to the start image: higher = more motion, less like the image.",
    )  # fmt: skip
    # sampling
    seed: int = _param(
        "INT", 0, (0, MAX_SEED), extra=(("control_after_generate", True),),
        tooltip="Random seed: the same seed and inputs give the same video.",
    )  # fmt: skip
    steps: int = _param("INT", 25, (1, 200), tooltip="Denoising steps: more = slower, finer.")
    min_guidance_scale: float = _param(
        "FLOAT", 1.0, (0.0, 20.0), step=0.1,
        tooltip="Guidance on the first frame (rises linearly to the max on the last).",
    )  # fmt: skip
    max_guidance_scale: float = _param(
        "FLOAT", 3.0, (0.0, 20.0), step=0.1,
        tooltip="Guidance on the last frame. At 1 or below guidance is off (about 2x faster).",
    )  # fmt: skip
    # decoding
    decode_chunk_size: int = _param(
        "INT", 8, (1, 128),
        tooltip="Frames decoded together: larger = smoother motion but more memory. "
        "The model's decode_chunk_size (if set) caps it.",
    )  # fmt: skip

    @classmethod
    def of(cls, values: dict[str, Any]) -> SVDParams:
        """SVDParams from node inputs (a dict that may hold other inputs too)."""
        return cls(**{name: values[name] for name in PARAM_NAMES if name in values})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def but(self, **changes: Any) -> SVDParams:
        """A copy with some values changed (Long Video's per-segment seed and frame count)."""
        return replace(self, **changes)

    def check(self, names: tuple[str, ...] | None = None) -> SVDParams:
        """Check every value (or those in `names`) before any heavy work; returns self."""
        for name in names or PARAM_NAMES:
            SPECS[name].check(name, getattr(self, name))
        return self


SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in fields(SVDParams)}
PARAM_NAMES = tuple(SPECS)
# The groups the staged nodes take; Image to Video takes all three in this order.
CONDITIONING_PARAMS = ("width", "height", "resize", "num_frames", "fps", "motion_bucket_id", "cond_aug")
SAMPLER_PARAMS = ("seed", "steps", "min_guidance_scale", "max_guidance_scale")
DECODE_PARAMS = ("decode_chunk_size",)


def widgets(
    names: tuple[str, ...] = PARAM_NAMES,
    tooltips: dict[str, str] | None = None,
    overrides: dict[str, tuple] | None = None,
    explicit_step: bool = False,
) -> dict[str, tuple]:
    """ComfyUI input specs for `names`, in that order.

    `tooltips` replaces tooltips by name; `overrides` replaces a whole spec where a node's input
    of the same name is not an SVD parameter of the same range (the auto engine's seed, whose
    -1 means "random", as on the remote nodes).
    """
    tooltips, overrides = tooltips or {}, overrides or {}
    return {
        name: overrides[name]
        if name in overrides
        else SPECS[name].widget(tooltips.get(name), explicit_step=explicit_step)
        for name in names
    }
