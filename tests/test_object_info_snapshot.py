"""The pack's whole /object_info equals the snapshot taken before issue 19, plus the deliberate
additions declared here.

Node ids, input names, widget order, defaults, ranges and tooltips are public API (saved
workflows and the client depend on them), so every `SVDSuite_*` entry is compared whole, on
both supported servers. Only lists of files on the machine are normalised (see `normalise`).
The snapshot files stay as they were recorded from the unchanged code: a deliberate change is
one more entry in `ADDITIONS` (what it adds, where, with which spec), and anything else that
differs fails.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Addition:
    """One input added to `node` since the snapshot, last in `section` (so positional UI values
    of saved workflows still match): the spec of the same input on the node `like` (type,
    default, range, as that server shows it) with `tooltip`, where `{tooltip}` stands for that
    input's tooltip on `like`."""

    node: str
    section: str
    name: str
    like: str
    tooltip: str


# The auto engine shows the two inputs its local path honours (issue 19): optional, last, and
# defaulting to what that path always used (crop, 8), so old workflows run bit-identically.
ADDITIONS = (
    Addition(
        "SVDSuite_AutoImageToVideo", "optional", "resize", like="SVDSuite_ImageToVideo",
        tooltip="Local engine. {tooltip}. Providers ignore it (they size the image themselves).",
    ),
    Addition(
        "SVDSuite_AutoImageToVideo", "optional", "decode_chunk_size", like="SVDSuite_ImageToVideo",
        tooltip="Frames decoded together (local engine): larger = smoother motion but more memory. "
        "Providers ignore it.",
    ),
)  # fmt: skip


def with_additions(snapshot: dict) -> dict:
    """The snapshot as it must look now: every `ADDITIONS` entry applied, in order."""
    expected = copy.deepcopy(snapshot)
    for addition in ADDITIONS:
        entry = expected[addition.node]
        inputs = entry["input"].setdefault(addition.section, {})
        order = entry["input_order"].setdefault(addition.section, [])
        assert addition.name not in inputs and addition.name not in order, f"{addition} is in the snapshot"
        like = snapshot[addition.like]["input"]
        [spec] = [like[s][addition.name] for s in like if addition.name in like[s]]
        spec = copy.deepcopy(spec)
        spec[1]["tooltip"] = addition.tooltip.format(tooltip=spec[1]["tooltip"])
        inputs[addition.name] = spec
        order.append(addition.name)
    return expected


def test_object_info_of_the_pack_is_the_snapshot_plus_the_declared_additions(comfyui_server):
    live = normalise(requests.get(f"{comfyui_server.url}/object_info", timeout=60).json())
    snapshot_path = DATA_DIR / f"object_info_{comfyui_server.version}.json"
    expected = with_additions(json.loads(snapshot_path.read_text(encoding="utf-8")))
    assert sorted(live) == sorted(expected)
    for node in expected:
        assert live[node] == expected[node], f"{node} differs from {snapshot_path.name} + ADDITIONS"
