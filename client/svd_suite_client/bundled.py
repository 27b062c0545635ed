"""The API workflows shipped inside the package (a symlink to the repository's workflows/api)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import WorkflowError

ENGINE_WORKFLOWS = {
    "local": "svd_img2vid.json",
    "local-xt": "svd_xt_img2vid.json",
    "fal": "remote_fal.json",
    "replicate": "remote_replicate.json",
    "segmind": "remote_segmind.json",
    "auto": "auto_engine.json",
}


def workflows_dir() -> Path:
    return Path(str(resources.files("svd_suite_client") / "workflows"))


def bundled_names() -> list[str]:
    folder = workflows_dir()
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


def bundled_workflow(name: str) -> Path:
    """Path of a bundled workflow by file name (with or without .json)."""
    filename = name if name.endswith(".json") else f"{name}.json"
    path = workflows_dir() / filename
    if not path.is_file():
        raise WorkflowError(
            f"no bundled workflow {filename!r}; bundled: {', '.join(bundled_names()) or 'none'}"
        )
    return path


def resolve_workflow(argument: str) -> Path:
    """A workflow path as given, or else the bundled workflow of that name (`svd_img2vid`)."""
    path = Path(argument)
    if path.exists():
        return path
    try:
        return bundled_workflow(path.name)
    except WorkflowError:
        raise WorkflowError(
            f"workflow file not found: {argument} (and no bundled workflow of that name; "
            f"bundled: {', '.join(bundled_names())})"
        ) from None
