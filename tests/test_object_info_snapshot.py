"""The pack's whole /object_info equals the snapshot taken before the parameter-table refactor.

Node ids, input names, widget order, defaults, ranges and tooltips are public API (saved
workflows and the client depend on them), so every `SVDSuite_*` entry is compared whole, on
both supported servers. Only lists of files on the machine are normalised (see
`normalise`). To record a new snapshot after a deliberate change:
`SVD_SUITE_UPDATE_SNAPSHOTS=1 bash scripts/test.sh tests/test_object_info_snapshot.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import requests

DATA_DIR = Path(__file__).resolve().parent / "data"
PREFIX = "SVDSuite_"
# Inputs whose choices list files of the server (models/, input/): other tests of the same
# session add files there, so the snapshot holds a placeholder instead of the files.
FILE_LISTS = {("SVDSuite_LoadModel", "model"), ("SVDSuite_LoadVideo", "video")}
FILES_PLACEHOLDER = "<files on the server>"


def _normalise_choices(spec: list) -> list:
    """Replace the file names of a combo (old list form or 0.33's COMBO options) by a placeholder."""
    spec = json.loads(json.dumps(spec))
    if isinstance(spec[0], list):
        spec[0] = [FILES_PLACEHOLDER]
    elif len(spec) > 1 and isinstance(spec[1], dict) and "options" in spec[1]:
        spec[1]["options"] = [FILES_PLACEHOLDER]
    return spec


def normalise(info: dict) -> dict:
    """The pack's entries of /object_info, with server file lists replaced by a placeholder."""
    pack = {name: entry for name, entry in info.items() if name.startswith(PREFIX)}
    for node, name in FILE_LISTS:
        for section in ("required", "optional"):
            inputs = pack.get(node, {}).get("input", {}).get(section) or {}
            if name in inputs:
                inputs[name] = _normalise_choices(inputs[name])
    return pack


def test_object_info_of_the_pack_equals_the_snapshot(comfyui_server):
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=60).json()
    live = normalise(info)
    snapshot_path = DATA_DIR / f"object_info_{comfyui_server.version}.json"
    text = json.dumps(live, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("SVD_SUITE_UPDATE_SNAPSHOTS"):
        DATA_DIR.mkdir(exist_ok=True)
        snapshot_path.write_text(text, encoding="utf-8")
    snapshot = json.loads(snapshot_path.read_text(encoding="utf-8"))
    assert sorted(live) == sorted(snapshot)
    for node in snapshot:
        assert live[node] == snapshot[node], f"{node} differs from {snapshot_path.name}"
