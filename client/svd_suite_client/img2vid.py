"""`svd-suite img2vid`: one image → one video file through a bundled API workflow.

Which node input each option sets depends on the engine; that is a table here, not branches.
The bundled workflows title their nodes "Input Image", "Load SVD Model", "Image to Video" /
"Remote Video" and "Save Video", and this module addresses them by those titles.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from .bundled import ENGINE_WORKFLOWS, bundled_workflow
from .client import ComfyClient
from .errors import WorkflowError
from .jobs import prepare_prompt, run_to_files
from .outputs import RunResult, place_without_overwrite
from .progress import Reporter
from .workflow import load_workflow, set_input

ENGINES = ("local", "fal", "replicate", "segmind", "auto")
GENERATOR = "Image to Video"
REMOTE = "Remote Video"

# option -> {engine: (node title, input name)}; an engine missing from a row cannot take that option.
LOCAL = {"local": GENERATOR, "auto": GENERATOR}
OPTION_TARGETS: dict[str, dict[str, tuple[str, str]]] = {
    "frames": {
        **{e: (t, "num_frames") for e, t in LOCAL.items()},
        "replicate": (REMOTE, "video_length"),
        "segmind": (REMOTE, "frames"),
    },
    "fps": {
        **{e: (t, "fps") for e, t in LOCAL.items()},
        "fal": (REMOTE, "fps"),
        "replicate": (REMOTE, "frames_per_second"),
        "segmind": (REMOTE, "fps"),
    },
    "motion_bucket_id": {
        **{e: (t, "motion_bucket_id") for e, t in LOCAL.items()},
        "fal": (REMOTE, "motion_bucket_id"),
        "replicate": (REMOTE, "motion_bucket_id"),
        "segmind": (REMOTE, "motion"),
    },
    "cond_aug": {
        **{e: (t, "cond_aug") for e, t in LOCAL.items()},
        "fal": (REMOTE, "cond_aug"),
        "replicate": (REMOTE, "cond_aug"),
        "segmind": (REMOTE, "cond_aug"),
    },
    "seed": {
        **{e: (t, "seed") for e, t in LOCAL.items()},
        "fal": (REMOTE, "seed"),
        "replicate": (REMOTE, "seed"),
        "segmind": (REMOTE, "seed"),
    },
    "steps": {**{e: (t, "steps") for e, t in LOCAL.items()}, "fal": (REMOTE, "steps")},
    "width": {e: (t, "width") for e, t in LOCAL.items()},
    "height": {e: (t, "height") for e, t in LOCAL.items()},
    "model": {"local": ("Load SVD Model", "model"), "auto": ("Load SVD Model", "model")},
}
REPLICATE_LENGTHS = {14: "14_frames_with_svd", 25: "25_frames_with_svd_xt"}
FORMAT_BY_SUFFIX = {".mp4": "mp4-h264", ".webm": "webm-vp9", ".gif": "gif", ".webp": "webp"}


def add_img2vid_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frames", type=int, help="number of frames (local: num_frames; Replicate: 14 or 25)"
    )
    parser.add_argument("--fps", type=float, help="frames per second of the video")
    parser.add_argument(
        "--motion-bucket-id", dest="motion_bucket_id", type=int, help="amount of motion (1-255)"
    )
    parser.add_argument(
        "--cond-aug", dest="cond_aug", type=float, help="noise added to the conditioning image"
    )
    parser.add_argument("--seed", type=int, help="random seed (same seed, same video)")
    parser.add_argument("--model", help="SVD model folder name on the server (local/auto engines)")
    parser.add_argument("--steps", type=int, help="sampling steps")
    parser.add_argument("--width", type=int, help="video width, a multiple of 64 (local/auto engines)")
    parser.add_argument("--height", type=int, help="video height, a multiple of 64 (local/auto engines)")


def engine_assignments(engine: str, options: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(node title, input, value) for every option given; an error for options the engine lacks."""
    found = []
    for option, value in options.items():
        if value is None:
            continue
        target = OPTION_TARGETS[option].get(engine)
        if target is None:
            allowed = ", ".join(sorted(OPTION_TARGETS[option])) or "none"
            raise WorkflowError(
                f"--{option.replace('_', '-')} is not available with --engine {engine} "
                f"(engines that take it: {allowed})"
            )
        if engine == "replicate" and option == "frames":
            if value not in REPLICATE_LENGTHS:
                raise WorkflowError(
                    f"--frames {value} is not available with --engine replicate (allowed: 14, 25)"
                )
            value = REPLICATE_LENGTHS[value]
        found.append((target[0], target[1], value))
    return found


def run_img2vid(client: ComfyClient, args: argparse.Namespace, reporter: Reporter) -> tuple[Path, RunResult]:
    """Run the engine's bundled workflow on `args.image` and write the video to `args.output`."""
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    image = Path(args.image)
    if not image.is_file():
        raise FileNotFoundError(f"image not found: {image}")
    options = {name: getattr(args, name, None) for name in OPTION_TARGETS}
    prompt = load_workflow(bundled_workflow(ENGINE_WORKFLOWS[args.engine]))
    for title, input_name, value in engine_assignments(args.engine, options):
        set_input(prompt, title, input_name, value)
    video_format = FORMAT_BY_SUFFIX.get(output.suffix.lower())
    if video_format is None:
        raise WorkflowError(
            f"cannot tell the video format from {output.name!r}; use one of {', '.join(FORMAT_BY_SUFFIX)}"
        )
    set_input(prompt, "Save Video", "format", video_format)
    prepared = prepare_prompt(client, prompt, image)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".svd-suite-", dir=output.parent) as scratch:
        result, files = run_to_files(client, prepared.prompt, Path(scratch), reporter, args.timeout)
        videos = [p for p in files if p.suffix.lower() == output.suffix.lower()] or files
        if not videos:
            raise WorkflowError("the workflow finished without producing a video file")
        if args.overwrite:
            videos[0].replace(output)
            return output, result
        if output.exists():
            raise FileExistsError(
                f"{output} appeared while the video was made; pass --overwrite to replace it"
            )
        return place_without_overwrite(videos[0], output), result
