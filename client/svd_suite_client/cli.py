"""`svd-suite` command line: run, batch and img2vid.

Exit codes: 0 success; 1 a node failed while running; 2 bad usage or workflow (also `--engine
ray` without Ray installed, a `--launch` folder that does not exist); 3 the server (or
client-side validation) rejected the graph; 4 server unreachable or gone (a batch: every server
went away, rerun with --resume; `--ray-address` that does not answer); 5 timeout; 6 a batch
finished with failures; 8 interrupted on the server; 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from . import __version__
from .api import default_server
from .batch import run_batch, summary_text
from .bundled import bundled_names, bundled_workflow, resolve_workflow
from .client import ComfyClient
from .errors import (
    ComfyClientError,
    EngineMissing,
    ExecutionFailed,
    Interrupted,
    PromptRejected,
    ServerGone,
    Timeout,
    ValidationFailed,
    WorkflowError,
)
from .img2vid import ENGINES, add_img2vid_arguments, run_img2vid
from .jobs import prepare_prompt, run_to_files
from .launch import LaunchSpec
from .progress import make_reporter

EXIT_CODES = [
    (ExecutionFailed, 1),
    (EngineMissing, 2),
    (ValidationFailed, 3),
    (WorkflowError, 2),
    (PromptRejected, 3),
    (ServerGone, 4),
    (Timeout, 5),
    (Interrupted, 8),
]


def exit_code(error: Exception) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return 2 if isinstance(error, ValueError | FileNotFoundError | FileExistsError) else 1


def client_options(args: argparse.Namespace) -> dict:
    """Connection options shared by every command (token from the environment, never from argv)."""
    return {"token": os.environ.get("SVD_SUITE_TOKEN") or None, "verify": not args.insecure}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svd-suite", description="Run SVD Suite / ComfyUI workflows headlessly."
    )
    parser.add_argument("--version", action="version", version=f"svd-suite {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser, many_servers: bool = False) -> None:
        if many_servers:
            sub.add_argument(
                "--server",
                action="append",
                help=f"ComfyUI URL; repeat to spread work (default $SVD_SUITE_SERVER or {default_server()})",
            )
        else:
            sub.add_argument("--server", default=None, help=f"ComfyUI URL (default {default_server()})")
        sub.add_argument("--json", action="store_true", help="JSON lines on stdout instead of a progress bar")
        sub.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait per prompt")
        sub.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")

    run = commands.add_parser("run", help="run one API-format workflow and download its outputs")
    run.add_argument("workflow", help="API-format workflow JSON (UI format is converted when possible)")
    run.add_argument("--image", help="upload this image and feed it to the workflow's LoadImage node")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NODE.input=VALUE",
        help="set an input by node id or title, e.g. 'Seed.seed=5' or '12.steps=20'",
    )
    run.add_argument("--out", default=".", help="folder for the output files")
    run.add_argument(
        "--no-validate", action="store_true", help="skip client-side checks against /object_info"
    )
    common(run)

    batch = commands.add_parser("batch", help="run a workflow for every image of a folder (resumable)")
    batch.add_argument("workflow", help="API-format workflow JSON with one LoadImage node")
    batch.add_argument("--images", required=True, help="folder of input images")
    batch.add_argument("--out", required=True, help="output folder (holds the manifest, manifest.jsonl)")
    batch.add_argument(
        "--resume", action="store_true", help="skip images the manifest lists as done (also after a crash)"
    )
    batch.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.input=VALUE")
    common(batch, many_servers=True)
    add_ray_arguments(batch)

    img2vid = commands.add_parser("img2vid", help="turn one image into a video with the bundled workflows")
    img2vid.add_argument("image", help="the start frame (png, jpg, webp, ...)")
    img2vid.add_argument("-o", "--output", required=True, help="video file to write (e.g. out.mp4)")
    img2vid.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local SVD on the server, a hosted API, or auto (local first, then the APIs)",
    )
    img2vid.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_img2vid_arguments(img2vid)
    common(img2vid)

    commands.add_parser("workflows", help="list the bundled API workflows (for run/batch or as templates)")
    return parser


def cmd_run(args: argparse.Namespace, reporter) -> int:
    with ComfyClient(args.server, **client_options(args)) as client:
        prepared = prepare_prompt(
            client, resolve_workflow(args.workflow), args.image, args.sets, validate=not args.no_validate
        )
        if hasattr(reporter, "node_names"):
            reporter.node_names.update(prepared.node_names)
        result, files = run_to_files(client, prepared.prompt, Path(args.out), reporter, args.timeout)
    reporter.summary({"status": "success", "prompt_id": result.prompt_id, "outputs": [str(p) for p in files]})
    if not args.json:
        for path in files:
            print(path)
    return 0


def add_ray_arguments(batch: argparse.ArgumentParser) -> None:
    ray = batch.add_argument_group("Ray engine (docs/client.md, 'Running on a cluster')")
    ray.add_argument(
        "--engine",
        choices=("plain", "ray"),
        default="plain",
        help="plain: drive the --server URLs from this process; ray: one Ray actor per server "
        'on a local Ray or a cluster (pip install "svd-suite-client[ray]")',
    )
    ray.add_argument(
        "--ray-address", help="join this Ray cluster (auto, HOST:PORT, ray://HOST:PORT); default: a local Ray"
    )
    ray.add_argument(
        "--launch", metavar="COMFYUI_DIR", help="start ComfyUI from this folder (on every node) for the batch"
    )
    ray.add_argument(
        "--gpus-per-server",
        type=float,
        help="with --launch: GPUs per ComfyUI; one server per such share of the cluster",
    )
    ray.add_argument(
        "--cpu-servers",
        type=int,
        help="with --launch: start this many CPU-only servers (ComfyUI gets --cpu)",
    )
    ray.add_argument(
        "--comfyui-python", help="with --launch: the Python that runs ComfyUI (default: the actor's own)"
    )
    ray.add_argument(
        "--comfyui-args",
        default="",
        help="with --launch: extra ComfyUI arguments as one string, written with '=': "
        "--comfyui-args=--lowvram, or '--comfyui-args=--lowvram --base-directory DIR'",
    )
    ray.add_argument(
        "--launch-dir",
        help="with --launch: where each server keeps its output and comfyui.log on its node "
        "(default: $TMPDIR/svd-suite-ray)",
    )
    ray.add_argument(
        "--launch-timeout",
        type=float,
        default=300.0,
        help="with --launch: seconds to wait for ComfyUI to answer",
    )
    ray.add_argument(
        "--no-ray-dashboard", action="store_true", help="a local Ray without its dashboard (starts faster)"
    )


def check_engine_arguments(args: argparse.Namespace) -> None:
    """Ray options make sense only together: say which is missing or out of place."""
    ray_only = ("ray_address", "launch", "gpus_per_server", "cpu_servers", "comfyui_python")
    given = [name for name in ray_only if getattr(args, name) is not None]
    if args.engine != "ray" and given:
        raise ValueError(f"--{given[0].replace('_', '-')} needs --engine ray")
    if args.launch is None and (args.gpus_per_server or args.cpu_servers or args.comfyui_python):
        raise ValueError("--gpus-per-server, --cpu-servers and --comfyui-python go with --launch COMFYUI_DIR")
    if args.launch is not None and (args.gpus_per_server is None) == (args.cpu_servers is None):
        raise ValueError("--launch needs exactly one of --gpus-per-server N or --cpu-servers N")
    if args.cpu_servers is not None and args.cpu_servers < 1:
        raise ValueError(f"--cpu-servers {args.cpu_servers}: must be at least 1")
    if args.gpus_per_server is not None and args.gpus_per_server <= 0:
        raise ValueError(f"--gpus-per-server {args.gpus_per_server:g}: must be more than 0")


def batch_on_ray(args: argparse.Namespace, reporter):
    from .ray_engine import run_batch_on_ray  # imports no Ray yet; it says so if Ray is missing

    spec = None
    if args.launch:
        extra_args = tuple(shlex.split(args.comfyui_args))
        # A CPU server is one that ComfyUI itself runs on the CPU: say so for the user.
        if args.cpu_servers and "--cpu" not in extra_args:
            extra_args = ("--cpu", *extra_args)
        spec = LaunchSpec(
            comfyui_dir=str(Path(args.launch).expanduser().absolute()),
            python=args.comfyui_python,
            extra_args=extra_args,
            startup_timeout=args.launch_timeout,
            run_root=args.launch_dir,
        )
    servers = args.server or ([] if spec else [default_server()])
    return run_batch_on_ray(
        args.workflow,
        Path(args.images),
        Path(args.out),
        servers,
        reporter,
        address=args.ray_address,
        launch=spec,
        gpus_per_server=args.gpus_per_server,
        cpu_servers=args.cpu_servers,
        dashboard=not args.no_ray_dashboard,
        resume=args.resume,
        assignments=tuple(args.sets),
        timeout=args.timeout,
        client_options=client_options(args),
    )


def cmd_batch(args: argparse.Namespace, reporter) -> int:
    check_engine_arguments(args)
    if args.engine == "ray":
        summary = batch_on_ray(args, reporter)
    else:
        summary = run_batch(
            args.workflow,
            Path(args.images),
            Path(args.out),
            args.server or [default_server()],
            reporter,
            resume=args.resume,
            assignments=tuple(args.sets),
            timeout=args.timeout,
            client_options=client_options(args),
        )
    status = "incomplete" if summary.left else "failed" if summary.failed else "success"
    reporter.summary(
        {
            "status": status,
            "done": summary.done,
            "skipped": summary.skipped,
            "failed": summary.failed,
            "not_run": summary.left,
            "per_server": summary.per_server,
            **({"per_node": summary.per_node} if summary.per_node else {}),
        }
    )
    if not args.json:
        print(summary_text(summary))
    return {"incomplete": 4, "failed": 6, "success": 0}[status]


def cmd_img2vid(args: argparse.Namespace, reporter) -> int:
    with ComfyClient(args.server, **client_options(args)) as client:
        path, result = run_img2vid(client, args, reporter)
    reporter.summary({"status": "success", "prompt_id": result.prompt_id, "outputs": [str(path)]})
    if not args.json:
        print(path)
    return 0


def cmd_workflows(args: argparse.Namespace, reporter) -> int:
    names = bundled_names()
    for name in names:
        print(bundled_workflow(name))
    return 0 if names else 1


COMMANDS = {"run": cmd_run, "batch": cmd_batch, "img2vid": cmd_img2vid, "workflows": cmd_workflows}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reporter = make_reporter(getattr(args, "json", False))
    try:
        return COMMANDS[args.command](args, reporter)
    except KeyboardInterrupt:
        reporter.message("svd-suite: interrupted (the prompt was interrupted on the server)")
        return 130
    except (ComfyClientError, ValueError, OSError) as error:
        code = exit_code(error)
        reason = " ".join(str(error).split()) or type(error).__name__
        reporter.summary(
            {"status": "error", "exit_code": code, "error": type(error).__name__, "reason": reason}
        )
        print(f"svd-suite: error: {reason}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
