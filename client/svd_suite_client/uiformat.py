"""Convert a UI-format workflow (what ComfyUI's Save writes) to the API format, using /object_info.

The UI format stores widget values by position (`widgets_values`), so the server's input order
is needed to name them. Frontend-only nodes are resolved away: Reroute passes its link through,
PrimitiveNode's value is already copied into the target's widget values, Note/MarkdownNote vanish.
Anything we cannot convert faithfully is refused with the way to export the API format.
"""

from __future__ import annotations

from typing import Any

from .errors import WorkflowError
from .object_info import input_spec

EXPORT_HINT = "in ComfyUI use Workflow → Export (API) and pass that file instead"
NOTE_TYPES = {"Note", "MarkdownNote"}
PASS_THROUGH = {"Reroute"}
VALUE_SOURCES = {"PrimitiveNode"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
SEED_NAMES = {"seed", "noise_seed"}
MUTED, BYPASSED = 2, 4


def _refuse(reason: str) -> WorkflowError:
    return WorkflowError(f"cannot convert this UI-format workflow: {reason}; {EXPORT_HINT}")


def ui_to_api(data: dict[str, Any], object_info: dict[str, Any]) -> dict[str, Any]:
    """API-format prompt for a UI-format workflow (raises WorkflowError when it cannot)."""
    if (data.get("definitions") or {}).get("subgraphs"):
        raise _refuse("it contains subgraphs")
    nodes = {str(node["id"]): node for node in data.get("nodes") or []}
    links = {}
    for link in data.get("links") or []:
        if isinstance(link, dict):
            links[link["id"]] = (str(link["origin_id"]), int(link["origin_slot"]))
        else:
            links[link[0]] = (str(link[1]), int(link[2]))
    prompt: dict[str, Any] = {}
    for node_id, node in nodes.items():
        kind = node.get("type")
        if kind in NOTE_TYPES | PASS_THROUGH | VALUE_SOURCES or node.get("mode") == MUTED:
            continue
        if node.get("mode") == BYPASSED:
            raise _refuse(f"node {node_id} ({kind}) is bypassed")
        info = object_info.get(kind)
        if info is None:
            raise _refuse(f"node {node_id} has class {kind!r}, which the server does not know")
        inputs = _widget_inputs(node, info)
        for slot in node.get("inputs") or []:
            link_id = slot.get("link")
            if link_id is None:
                continue
            source = _resolve(links, nodes, link_id, node_id)
            if source is None:
                continue  # fed by a PrimitiveNode: its value is already among the widget values
            inputs[slot["name"]] = [source[0], source[1]]
        title = node.get("title") or info.get("display_name") or kind
        prompt[node_id] = {"class_type": kind, "inputs": inputs, "_meta": {"title": title}}
    if not prompt:
        raise _refuse("it has no executable nodes")
    return prompt


def _resolve(links: dict, nodes: dict, link_id: int, node_id: str) -> tuple[str, int] | None:
    """Follow a link back through Reroutes to a real output; None for a PrimitiveNode source."""
    for _ in range(len(nodes) + 1):
        if link_id not in links:
            raise _refuse(f"node {node_id} uses link {link_id}, which is not in the file")
        source_id, slot = links[link_id]
        source = nodes.get(source_id)
        if source is None:
            raise _refuse(f"link {link_id} comes from node {source_id}, which is not in the file")
        kind = source.get("type")
        if kind in VALUE_SOURCES:
            return None
        if kind not in PASS_THROUGH:
            if source.get("mode") == MUTED:
                raise _refuse(f"node {node_id} depends on muted node {source_id}")
            return source_id, slot
        upstream = [s.get("link") for s in source.get("inputs") or [] if s.get("link") is not None]
        if not upstream:
            raise _refuse(f"reroute {source_id} has no input")
        link_id = upstream[0]
    raise _refuse("reroutes form a cycle")


def _widget_inputs(node: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Name the node's `widgets_values` using the server's input order."""
    values = node.get("widgets_values")
    declared = info.get("input") or {}
    order = info.get("input_order") or {section: list(declared.get(section) or {}) for section in declared}
    if isinstance(values, dict):
        names = {name for section in ("required", "optional") for name in order.get(section) or []}
        return {name: value for name, value in values.items() if name in names}
    values = list(values or [])
    inputs: dict[str, Any] = {}
    position = 0
    for section in ("required", "optional"):
        for name in order.get(section) or []:
            config = (declared.get(section) or {}).get(name)
            kind, _, extra = input_spec(config)
            if kind not in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO") or extra.get("forceInput"):
                continue
            if position >= len(values):
                return inputs
            inputs[name] = values[position]
            position += 1
            has_control = extra.get("control_after_generate") or (kind == "INT" and name in SEED_NAMES)
            if has_control and position < len(values) and values[position] in CONTROL_VALUES:
                position += 1
    return inputs
