"""The prompt and workflow embedded in saved files, with secrets removed first.

ComfyUI hands an output node the API prompt (`prompt`) and the UI graph (`extra_pnginfo`,
normally {"workflow": {...}}). Embedding them lets a user drop the video back onto the canvas.
But graphs carry API keys typed into widgets, and a shared video must not leak them, so:

* in the API prompt every input whose NAME contains key/token/secret is removed;
* in the UI workflow, widget values cannot be mapped to names reliably (seed widgets add a
  hidden "control_after_generate" value), so each node's named widget inputs are blanked when
  the positions are unambiguous, and then every secret VALUE found in the prompt is scrubbed
  wherever it occurs in the workflow (the belt and the braces).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

SECRET_NAME = re.compile(r"key|token|secret", re.IGNORECASE)
REDACTED = "<redacted>"
_MIN_SUBSTRING_SECRET = 6  # shorter values are only scrubbed where they match a whole string


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(str(name)))


def scrub_prompt(prompt: dict | None) -> tuple[dict | None, set[str]]:
    """A copy of an API prompt without secret-named inputs, plus the secret values removed."""
    if not isinstance(prompt, dict):
        return prompt, set()
    clean = copy.deepcopy(prompt)
    secrets: set[str] = set()
    for node in clean.values():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if not isinstance(inputs, dict):
            continue
        for name in [n for n in inputs if is_secret_name(n)]:
            value = inputs.pop(name)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
                secrets.add(str(value))
    return clean, secrets


def _blank_named_widgets(node: dict) -> None:
    values = node.get("widgets_values")
    if isinstance(values, dict):  # some packs store widgets by name
        for name in [n for n in values if is_secret_name(n)]:
            values[name] = ""
        return
    if not isinstance(values, list):
        return
    widget_names = [
        (entry.get("widget") or {}).get("name", entry.get("name"))
        for entry in node.get("inputs") or []
        if isinstance(entry, dict) and entry.get("widget")
    ]
    if len(widget_names) == len(values):  # positions line up only when nothing extra was stored
        for index, name in enumerate(widget_names):
            if is_secret_name(name or ""):
                values[index] = ""


def _scrub_values(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_name(k) and isinstance(v, str) and v else _scrub_values(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub_values(v, secrets) for v in value]
    if isinstance(value, str):
        if value in secrets:
            return REDACTED
        for secret in secrets:
            if len(secret) >= _MIN_SUBSTRING_SECRET and secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in secrets:
        return REDACTED
    return value


def _walk_nodes(graph: Any):
    """Every node dict of a UI workflow, including nodes inside subgraph definitions."""
    if isinstance(graph, dict):
        for node in graph.get("nodes") or []:
            if isinstance(node, dict):
                yield node
        for sub in (graph.get("definitions") or {}).get("subgraphs") or []:
            yield from _walk_nodes(sub)


def scrub_extra_pnginfo(extra: dict | None, secrets: set[str]) -> dict | None:
    if not isinstance(extra, dict):
        return extra
    clean = copy.deepcopy(extra)
    for node in _walk_nodes(clean.get("workflow")):
        _blank_named_widgets(node)
    return _scrub_values(clean, secrets)


def build_metadata(prompt: dict | None, extra_pnginfo: dict | None) -> dict[str, str]:
    """Container tags to embed: {"prompt": json, "workflow": json, ...}, secrets removed."""
    clean_prompt, secrets = scrub_prompt(prompt)
    clean_extra = scrub_extra_pnginfo(extra_pnginfo, secrets)
    tags: dict[str, str] = {}
    if clean_prompt:
        tags["prompt"] = json.dumps(clean_prompt)
    for key, value in (clean_extra or {}).items():
        tags[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return tags
