"""One CLI job: prepare a prompt (upload the image, apply --set, validate) and run it to files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ComfyClient
from .errors import Timeout, WorkflowError
from .outputs import RunResult
from .progress import Reporter
from .workflow import apply_assignments, check, coerce, load_workflow, nodes_of_class, set_input

IMAGE_LOADER = "LoadImage"


def image_reference(upload_answer: dict[str, str]) -> str:
    """LoadImage's `image` value for an uploaded file: "subfolder/name" or "name"."""
    sub = upload_answer.get("subfolder") or ""
    return f"{sub}/{upload_answer['name']}" if sub else upload_answer["name"]


def image_loader(prompt: dict[str, Any]) -> str:
    """The one LoadImage node `--image` feeds; an error when there is none or several."""
    found = nodes_of_class(prompt, IMAGE_LOADER)
    if len(found) == 1:
        return found[0]
    if not found:
        raise WorkflowError("--image needs a LoadImage node, and this workflow has none")
    raise WorkflowError(
        f"--image is ambiguous: LoadImage nodes {', '.join(found)}; upload the file to the "
        "server's input folder and use --set ID.image=NAME for each instead"
    )


@dataclass
class PreparedPrompt:
    prompt: dict[str, Any]
    node_names: dict[str, str] = field(default_factory=dict)


def prepare_prompt(
    client: ComfyClient,
    workflow: str | os.PathLike | dict,
    image: str | os.PathLike | None = None,
    assignments: list[str] | tuple[str, ...] = (),
    validate: bool = True,
    object_info: dict | None = None,
) -> PreparedPrompt:
    """Load the workflow, point its LoadImage at an uploaded `image`, apply `--set`s, validate."""
    object_info = object_info if object_info is not None else client.object_info()
    prompt = load_workflow(workflow, object_info)
    if image is not None:
        loader = image_loader(prompt)  # before uploading: no stray upload for a bad workflow
        answer = client.upload_image(image)
        set_input(prompt, loader, "image", image_reference(answer))
    apply_assignments(prompt, list(assignments), object_info)  # unknown inputs refused here
    coerce(prompt, object_info)
    if validate:
        check(prompt, object_info)
    names = {node_id: node.get("class_type", "") for node_id, node in prompt.items()}
    return PreparedPrompt(prompt=prompt, node_names=names)


def run_to_files(
    client: ComfyClient,
    prompt: dict[str, Any],
    out_dir: str | os.PathLike,
    reporter: Reporter,
    timeout: float,
    label: str = "",
) -> tuple[RunResult, list[Path]]:
    """Run a prompt and download its output files.

    Ctrl-C or running out of `timeout` stops the prompt on the server too (then re-raises): a
    command that gave up should not leave the GPU busy with work nobody will collect.
    """
    prompt_id = client.queue(prompt)
    try:
        result = client.wait(prompt_id, timeout=timeout, on_event=lambda event: reporter.event(event, label))
    except (KeyboardInterrupt, Timeout):
        cancel(client, prompt_id)
        raise
    files = client.download_outputs(result, out_dir)
    if not files:  # a graph ending in PreviewImage only still gives the user its pictures
        files = client.download_outputs(result, out_dir, types=("temp",))
    return result, files


def cancel(client: ComfyClient, prompt_id: str) -> None:
    """Stop a prompt whether it is running or still waiting in the queue (best effort)."""
    for action in (lambda: client.delete_from_queue([prompt_id]), lambda: client.interrupt(prompt_id)):
        try:
            action()
        except Exception:  # noqa: BLE001 - the server may already be gone; nothing more to do
            pass
