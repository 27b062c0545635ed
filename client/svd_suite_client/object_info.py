"""Reading the server's /object_info: what one node input entry declares.

Both the workflow checks (workflow.py) and the UI-format converter (uiformat.py) need this, so it
sits below both of them and imports neither.
"""

from __future__ import annotations

from typing import Any


def input_spec(config: Any) -> tuple[str, list | None, dict]:
    """(type, combo options or None, options dict) for one object_info input entry."""
    if not isinstance(config, list | tuple) or not config:
        return "*", None, {}
    kind, extra = config[0], (config[1] if len(config) > 1 and isinstance(config[1], dict) else {})
    if isinstance(kind, list):
        return "COMBO", kind, extra
    if kind == "COMBO":
        return "COMBO", list(extra.get("options") or []), extra
    return str(kind), None, extra
