"""The pack's templates: UI files (named by the title the template browser shows) and their
API twins (workflows/api/<name>.json), paired through the UI file's `extra.svd_suite.api`."""

from __future__ import annotations

import json
from pathlib import Path

from dev.pack import REPO_ROOT

UI_DIR = REPO_ROOT / "workflows"
API_DIR = UI_DIR / "api"
# The auto engine's UI template as shipped before the node gained its optional `resize` and
# `decode_chunk_size` (issue 19): what users have saved, which must load and run as before.
AUTO_UI_BEFORE_NEW_INPUTS = REPO_ROOT / "tests" / "data" / "auto_engine_ui_before_issue19.json"
AUTO_NEW_INPUT_DEFAULTS = {"resize": "crop", "decode_chunk_size": 8}


def ui_templates() -> dict[str, Path]:
    """API twin name → its UI template file, for every UI template in workflows/."""
    found = {}
    for path in sorted(UI_DIR.glob("*.json")):
        twin = ((json.loads(path.read_text()).get("extra") or {}).get("svd_suite") or {}).get("api")
        if not twin:
            raise AssertionError(f"{path.name} names no API twin (extra.svd_suite.api)")
        found[twin] = path
    return found


def ui_template(api_name: str) -> Path:
    """The UI template of one API twin (e.g. "svd_img2vid")."""
    return ui_templates()[api_name]
