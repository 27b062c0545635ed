"""API-format workflows: load, set inputs by node id or title, validate against /object_info.

A workflow here is ComfyUI's API format: `{node_id: {"class_type", "inputs", "_meta": {"title"}}}`.
UI-format files (with "nodes" and "links") are converted by `ui_to_api` (see `uiformat.py`).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from pathlib import Path
from typing import Any

from .errors import ValidationFailed, WorkflowError
from .object_info import input_spec
from .uiformat import ui_to_api

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")


def is_ui_format(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" in data and "links" in data


def load_workflow(source: str | os.PathLike | dict, object_info: dict | None = None) -> dict[str, Any]:
    """Load an API-format workflow from a path or dict (a deep copy: the caller's data is untouched).

    A UI-format workflow is converted when `object_info` is given, else refused with a hint.
    """
    if isinstance(source, dict):
        data = copy.deepcopy(source)
        name = "workflow"
    else:
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WorkflowError(f"workflow file not found: {path}") from None
        except ValueError as exc:
            raise WorkflowError(f"workflow file {path} is not valid JSON: {exc}") from None
        name = str(path)
    if is_ui_format(data):
        if object_info is None:
            raise WorkflowError(
                f"{name} is a UI-format workflow; export the API format in ComfyUI "
                "(Workflow → Export (API)) or let the client convert it with the server's object_info"
            )
        return ui_to_api(data, object_info)
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        data = data["prompt"]  # a saved POST /prompt body
    if (
        not isinstance(data, dict)
        or not data
        or not all(isinstance(node, dict) and "class_type" in node for node in data.values())
    ):
        raise WorkflowError(
            f"{name} is not an API-format workflow ({{node_id: {{class_type, inputs}}}}); "
            "in ComfyUI use Workflow → Export (API)"
        )
    for node in data.values():
        node.setdefault("inputs", {})
    return data


def parse_value(text: str) -> Any:
    """JSON where it parses (5, 0.5, true, [1, 2], "x"), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """`"Title.input=value"` or `"12.seed=5"` → (target, input, value)."""
    left, sep, right = text.partition("=")
    target, dot, input_name = left.strip().rpartition(".")
    if not sep or not dot or not target or not input_name:
        raise WorkflowError(f"cannot read assignment {text!r}: expected NODE_ID_OR_TITLE.input=value")
    return target.strip(), input_name.strip(), parse_value(right)


def titles(workflow: dict[str, Any]) -> list[str]:
    return [f"{node_id}: {node_title(node)} ({node.get('class_type')})" for node_id, node in workflow.items()]


def node_title(node: dict[str, Any]) -> str:
    return (node.get("_meta") or {}).get("title") or node.get("class_type", "")


def find_node(workflow: dict[str, Any], target: str) -> str:
    """Node id for `target`: a node id, else a unique `_meta.title`, else a unique class_type."""
    if target in workflow:
        return target
    for key in (node_title, lambda node: node.get("class_type")):
        matches = [node_id for node_id, node in workflow.items() if key(node) == target]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise WorkflowError(
                f"{target!r} is ambiguous: nodes {', '.join(matches)} match; use a node id. "
                f"Nodes: {'; '.join(titles(workflow))}"
            )
    raise WorkflowError(f"no node with id or title {target!r}. Nodes: {'; '.join(titles(workflow))}")


def set_input(
    workflow: dict[str, Any],
    target: str,
    input_name: str,
    value: Any,
    object_info: dict[str, Any] | None = None,
) -> str:
    """Set one input of the node named by id or title; returns the node id.

    With `object_info`, an input the node's class does not declare (a typo such as `bananna`)
    is an error naming the real inputs, closest match first: the server would silently ignore it.
    """
    node_id = find_node(workflow, target)
    node = workflow[node_id]
    if object_info is not None:
        names = declared_inputs(object_info, node.get("class_type"))
        if names is not None and input_name not in names and input_name not in node.get("inputs", {}):
            raise WorkflowError(_unknown_input(node_id, node, input_name, names))
    node.setdefault("inputs", {})[input_name] = value
    return node_id


def declared_inputs(object_info: dict[str, Any], class_type: Any) -> list[str] | None:
    """Required and optional input names of a node class (None for a class the server lacks)."""
    info = object_info.get(class_type)
    if not isinstance(info, dict):
        return None
    declared = info.get("input") or {}
    return [*(declared.get("required") or {}), *(declared.get("optional") or {})]


def _unknown_input(node_id: str, node: dict[str, Any], input_name: str, names: list[str]) -> str:
    ranked = difflib.get_close_matches(input_name, names, n=len(names), cutoff=0.0)
    ranked += [name for name in names if name not in ranked]
    close = difflib.get_close_matches(input_name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(ranked) if ranked else "none"
    return (
        f"node {node_id} ({node.get('class_type')}) has no input {input_name!r}{hint}; "
        f"its inputs, closest first: {listed}"
    )


def apply_assignments(
    workflow: dict[str, Any], assignments: list[str], object_info: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Apply `NODE.input=value` strings; with `object_info`, unknown input names are refused."""
    for text in assignments:
        target, input_name, value = parse_assignment(text)
        try:
            set_input(workflow, target, input_name, value, object_info)
        except WorkflowError as exc:
            raise WorkflowError(f"cannot set {text!r}: {exc}") from None
    return workflow


def nodes_of_class(workflow: dict[str, Any], class_type: str) -> list[str]:
    return [node_id for node_id, node in workflow.items() if node.get("class_type") == class_type]


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def validate(workflow: dict[str, Any], object_info: dict[str, Any]) -> list[str]:
    """Problems a server would reject, each naming node id, class and input ([] when fine)."""
    problems: list[str] = []
    for node_id, node in workflow.items():
        class_type = node.get("class_type")
        where = f"node {node_id} ({class_type})"
        info = object_info.get(class_type)
        if info is None:
            problems.append(f"{where}: unknown node class {class_type!r} (not installed on the server?)")
            continue
        inputs = node.get("inputs") or {}
        declared = info.get("input") or {}
        for section in ("required", "optional"):
            for name, config in (declared.get(section) or {}).items():
                if name not in inputs:
                    if section == "required":
                        problems.append(f"{where} input {name}: required input is missing")
                    continue
                problem = _check_value(workflow, object_info, inputs[name], config)
                if problem:
                    problems.append(f"{where} input {name}: {problem}")
    return problems


def coerce(workflow: dict[str, Any], object_info: dict[str, Any]) -> dict[str, Any]:
    """Fit loosely typed values to the server's types: 7.0 → 7 for INT, 14 → "14" for a text combo."""
    for node in workflow.values():
        declared = (object_info.get(node.get("class_type")) or {}).get("input") or {}
        specs = {**(declared.get("optional") or {}), **(declared.get("required") or {})}
        for name, value in (node.get("inputs") or {}).items():
            kind, options, _ = input_spec(specs.get(name))
            if kind == "INT" and isinstance(value, float) and value.is_integer():
                node["inputs"][name] = int(value)
            elif kind == "COMBO" and options and value not in options and not is_link(value):
                text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
                if text in options:  # combos of numbers-as-text, e.g. Segmind's frames "14"/"25"
                    node["inputs"][name] = text
    return workflow


def check(workflow: dict[str, Any], object_info: dict[str, Any]) -> None:
    """Raise ValidationFailed listing every problem `validate` finds."""
    problems = validate(workflow, object_info)
    if problems:
        raise ValidationFailed(problems)


def _check_value(workflow: dict, object_info: dict, value: Any, config: Any) -> str | None:
    kind, options, extra = input_spec(config)
    if is_link(value):
        source = workflow.get(value[0])
        if source is None:
            return f"linked to node {value[0]}, which is not in the workflow"
        outputs = (object_info.get(source.get("class_type")) or {}).get("output") or []
        if value[1] >= len(outputs) and outputs:
            return f"linked to output {value[1]} of node {value[0]}, which has {len(outputs)} outputs"
        if (
            outputs
            and kind not in ("*", "COMBO")
            and "*" not in (outputs[value[1]],)
            and "," not in kind
            and outputs[value[1]] != kind
        ):
            return f"linked output type {outputs[value[1]]} does not match input type {kind}"
        return None
    if kind not in WIDGET_TYPES and kind != "*":
        return f"expected a link to another node's {kind} output ([node_id, output_index]), got {value!r}"
    if kind == "COMBO":
        if extra.get("image_upload") or extra.get("video_upload") or extra.get("upload"):
            return None  # uploaded files may be newer than this object_info
        if value not in options:
            shown = ", ".join(map(repr, options[:20])) + (" ..." if len(options) > 20 else "")
            return f"value {value!r} is not one of [{shown}]"
        return None
    if kind == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer, got {value!r}"
        return _check_range(value, extra)
    if kind == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {value!r}"
        return _check_range(value, extra)
    if kind == "STRING" and not isinstance(value, str):
        return f"expected a string, got {value!r}"
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    return None


def _check_range(value: float, extra: dict) -> str | None:
    low, high = extra.get("min"), extra.get("max")
    if low is not None and value < low:
        return f"value {value} is below the minimum {low} (allowed {low}..{high})"
    if high is not None and value > high:
        return f"value {value} is above the maximum {high} (allowed {low}..{high})"
    return None
