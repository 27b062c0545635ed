"""Generate the UI-format templates in workflows/ from their API-format twins in workflows/api/.

Why generated: the UI format stores widget values by position, in the order the server declares
its inputs (object_info `input_order`), plus frontend-only extras (a `control_after_generate`
value after seed widgets, the upload button's value after LoadImage's file). Writing that by
hand drifts as soon as a node gains an input; generating it from the live server's object_info
and the API twin keeps both formats the same graph.

Usage (with the pinned venv, `V=$(bash scripts/env.sh)`):
    $V/bin/python scripts/make_ui_workflows.py                  # starts a private ComfyUI
    $V/bin/python scripts/make_ui_workflows.py --server http://127.0.0.1:8188
    $V/bin/python scripts/make_ui_workflows.py --check          # exit 1 if files are stale
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template_catalog import TEMPLATES  # noqa: E402  (scripts/ is no package)

REPO = Path(__file__).resolve().parents[1]
API_DIR = REPO / "workflows" / "api"
UI_DIR = REPO / "workflows"


THUMBNAIL_SIZE = 512
THUMBNAIL_SOURCE = REPO / "media" / "rocket.jpg"

WIDGET_KINDS = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
SEED_NAMES = {"seed", "noise_seed"}
UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload")
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
COLUMN_WIDTH = 380
OPTIONAL_SHAPE = 7  # litegraph's "hollow circle" socket, what the frontend saves for optionals


def input_kind(spec: Any) -> tuple[str, dict]:
    """("INT"|"COMBO"|socket type, options) for one object_info input spec."""
    if not isinstance(spec, (list, tuple)) or not spec:
        return "UNKNOWN", {}
    head = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if isinstance(head, list):
        return "COMBO", dict(options, options=head)
    return str(head), options


def widget_slots(info: dict) -> list[tuple[str, str, dict, bool]]:
    """Every input of a node as (name, kind, options, optional), in the server's order."""
    declared = info.get("input") or {}
    order = info.get("input_order") or {s: list(declared.get(s) or {}) for s in declared}
    slots = []
    for section in ("required", "optional"):
        for name in order.get(section) or []:
            kind, options = input_kind((declared.get(section) or {}).get(name))
            slots.append((name, kind, options, section == "optional"))
    return slots


def is_widget(kind: str, options: dict) -> bool:
    return kind in WIDGET_KINDS and not options.get("forceInput")


def has_control(name: str, kind: str, options: dict) -> bool:
    """True when the frontend adds a `control_after_generate` widget after this one."""
    return bool(options.get("control_after_generate")) or (kind == "INT" and name in SEED_NAMES)


def expected_widget_layout(info: dict) -> list[tuple[str, str, dict]]:
    """The frontend's widgets_values layout: (input name or extra, kind, options) per value."""
    layout = []
    slots = widget_slots(info)
    upload = None
    for name, kind, options, optional in slots:
        if optional and upload is not None:
            layout.append(upload)
            upload = None
        if not is_widget(kind, options):
            continue
        layout.append((name, kind, options))
        if has_control(name, kind, options):
            layout.append(("control_after_generate", "CONTROL", {}))
        if kind == "COMBO" and not optional and any(options.get(f) for f in UPLOAD_FLAGS):
            upload = ("upload", "UPLOAD", {})
    if upload is not None:
        layout.append(upload)
    return layout


def default_value(kind: str, options: dict) -> Any:
    if "default" in options:
        return options["default"]
    if kind == "COMBO":
        return (options.get("options") or [""])[0]
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(kind)


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def depths(prompt: dict) -> dict[str, int]:
    """Column of each node: the longest chain of links leading to it."""
    memo: dict[str, int] = {}

    def depth(node_id: str, seen: frozenset = frozenset()) -> int:
        if node_id in memo:
            return memo[node_id]
        if node_id in seen:
            raise ValueError(f"workflow has a cycle through node {node_id}")
        sources = [v[0] for v in prompt[node_id]["inputs"].values() if is_link(v)]
        memo[node_id] = 1 + max((depth(s, seen | {node_id}) for s in sources), default=-1)
        return memo[node_id]

    for node_id in prompt:
        depth(node_id)
    return memo


def node_height(info: dict, class_type: str) -> int:
    sockets = max(
        sum(1 for s in widget_slots(info) if not is_widget(s[1], s[2])), len(info.get("output") or [])
    )
    height = 30 + 22 * sockets + 24 * len(expected_widget_layout(info))
    if class_type == "LoadImage":
        height += 240  # room for the image preview
    if class_type == "SVDSuite_SaveVideo" or info.get("output_node"):
        height += 220  # room for the video player
    return height


def api_to_ui(prompt: dict, object_info: dict, note: str | None = None, api_name: str | None = None) -> dict:
    """The UI-format workflow (frontend schema 0.4) for an API-format prompt."""
    missing = sorted({n["class_type"] for n in prompt.values()} - set(object_info))
    if missing:
        raise SystemExit(f"the server does not know these node types: {missing}")
    columns = depths(prompt)
    order = sorted(prompt, key=lambda i: (columns[i], int(i)))
    links: list[list] = []
    out_links: dict[tuple[str, int], list[int]] = {}
    nodes = []
    column_y: dict[int, int] = {}
    for position, node_id in enumerate(order):
        api_node = prompt[node_id]
        class_type = api_node["class_type"]
        info = object_info[class_type]
        values = api_node.get("inputs") or {}
        unknown = sorted(set(values) - {slot[0] for slot in widget_slots(info)})
        if unknown:
            # The UI format has no place for them; the server ignores them in the API twin too.
            print(f"warning: node {node_id} ({class_type}) has inputs the server does not declare: {unknown}")
        # The frontend creates every socket first, then one input per widget (linkable), in
        # the server's input order; links address inputs by that index.
        sockets, widget_inputs, widgets_values = [], [], []
        for name, kind, options, optional in widget_slots(info):
            entry: dict[str, Any] = {"name": name, "type": kind}
            if is_widget(kind, options):
                entry["widget"] = {"name": name}
                widget_inputs.append(entry)
            else:
                if optional:
                    entry["shape"] = OPTIONAL_SHAPE
                sockets.append(entry)
            entry["link"] = None
        inputs = sockets + widget_inputs
        for slot_index, entry in enumerate(inputs):
            value = values.get(entry["name"])
            if not is_link(value):
                continue
            source_id, slot = str(value[0]), int(value[1])
            source_type = object_info[prompt[source_id]["class_type"]]["output"][slot]
            entry["link"] = link_id = len(links) + 1
            links.append([link_id, int(source_id), slot, int(node_id), slot_index, source_type])
            out_links.setdefault((source_id, slot), []).append(link_id)
        for name, kind, options in expected_widget_layout(info):
            if kind == "CONTROL":
                widgets_values.append("fixed")  # templates reproduce: the seed does not change
            elif kind == "UPLOAD":
                widgets_values.append("image")
            else:
                value = values.get(name)
                widgets_values.append(
                    default_value(kind, options) if value is None or is_link(value) else value
                )
        column = columns[node_id]
        y = column_y.get(column, 80)
        height = node_height(info, class_type)
        column_y[column] = y + height + 60
        node = {
            "id": int(node_id),
            "type": class_type,
            "pos": [60 + column * COLUMN_WIDTH, y],
            "size": [340 if class_type != "SVDSuite_SaveVideo" else 400, height],
            "flags": {},
            "order": position,
            "mode": 0,
            "inputs": inputs,
            "outputs": [],
            "properties": {"Node name for S&R": class_type},
            "widgets_values": widgets_values,
        }
        title = (api_node.get("_meta") or {}).get("title")
        if title and title != info.get("display_name"):
            node["title"] = title
        nodes.append((node_id, node, info))
    for node_id, node, info in nodes:
        names = info.get("output_name") or info.get("output") or []
        for slot, kind in enumerate(info.get("output") or []):
            ids = out_links.get((node_id, slot))
            node["outputs"].append(
                {
                    "name": names[slot] if slot < len(names) else kind,
                    "type": kind,
                    "links": ids or None,
                    "slot_index": slot,
                }
            )
    ui_nodes = [n for _, n, _ in nodes]
    if note:
        ui_nodes.append(
            {
                "id": max(int(i) for i in prompt) + 1,
                "type": "MarkdownNote",
                # Right of the graph: the top-left corner is under the frontend's workflow menu.
                "pos": [60 + (max(columns.values()) + 1) * COLUMN_WIDTH + 60, 80],
                "size": [400, 260],
                "flags": {},
                "order": len(ui_nodes),
                "mode": 0,
                "inputs": [],
                "outputs": [],
                "properties": {},
                "widgets_values": [note],
                "color": "#432",
                "bgcolor": "#653",
            }
        )
    return {
        "last_node_id": max(n["id"] for n in ui_nodes),
        "last_link_id": len(links),
        "nodes": ui_nodes,
        "links": links,
        "groups": [],
        "config": {},
        # `svd_suite.api` names the API twin: the file name is the title the browser shows.
        "extra": {
            "ds": {"scale": 0.8, "offset": [40, 120]},
            **({"svd_suite": {"api": api_name}} if api_name else {}),
        },
        "version": 0.4,
    }


def write_thumbnail(name: str, target: Path) -> None:
    """The template browser shows `<title>.jpg` beside `<title>.json`: the demo image, labelled."""
    from PIL import Image, ImageDraw, ImageFont

    title, subtitle = TEMPLATES[name].label, TEMPLATES[name].description
    with Image.open(THUMBNAIL_SOURCE) as source:
        side = min(source.size)
        left, top = (source.width - side) // 2, (source.height - side) // 2
        image = source.convert("RGB").crop((left, top, left + side, top + side))
    image = image.resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    draw = ImageDraw.Draw(image, "RGBA")
    band = int(THUMBNAIL_SIZE * 0.26)
    draw.rectangle((0, THUMBNAIL_SIZE - band, THUMBNAIL_SIZE, THUMBNAIL_SIZE), fill=(16, 16, 24, 210))
    draw.text((24, THUMBNAIL_SIZE - band + 14), title, font=ImageFont.load_default(size=56), fill="white")
    size = 26  # the largest that fits the width: the description must be read whole
    while (
        size > 12 and draw.textlength(subtitle, font=ImageFont.load_default(size=size)) > THUMBNAIL_SIZE - 40
    ):
        size -= 1
    font = ImageFont.load_default(size=size)
    draw.text((26, THUMBNAIL_SIZE - 46), subtitle, font=font, fill=(200, 210, 255))
    tmp = target.with_suffix(".jpg.tmp")
    image.save(tmp, format="JPEG", quality=85)
    tmp.replace(target)


@contextmanager
def object_info_source(server: str | None) -> Iterator[dict]:
    """object_info from `server`, or from a private ComfyUI started (and stopped) for this run."""
    import requests

    if server:
        yield requests.get(f"{server.rstrip('/')}/object_info", timeout=60).json()
        return
    sys.path.insert(0, str(REPO))
    from dev.comfyui import prepare_base, start_comfyui

    with tempfile.TemporaryDirectory(prefix="svd-suite-ui-") as tmp:
        instance = start_comfyui(prepare_base(Path(tmp)))
        try:
            yield requests.get(f"{instance.url}/object_info", timeout=60).json()
        finally:
            instance.stop()


def render(name: str, object_info: dict) -> str:
    prompt = json.loads((API_DIR / f"{name}.json").read_text())
    return json.dumps(api_to_ui(prompt, object_info, TEMPLATES[name].note, name), indent=2) + "\n"


def ui_path(name: str) -> Path:
    return UI_DIR / f"{TEMPLATES[name].title}.json"


def stale_generated_files() -> list[Path]:
    """UI files (and their thumbnails) this script wrote under a title no template has now."""
    wanted = {ui_path(name) for name in TEMPLATES}
    stale = []
    for path in UI_DIR.glob("*.json"):
        if path in wanted:
            continue
        extra = json.loads(path.read_text()).get("extra") or {}
        if "svd_suite" in extra or path.stem in TEMPLATES:  # ours, under an old name
            stale += [path] + [p for p in [path.with_suffix(".jpg")] if p.exists()]
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", help="ComfyUI URL with this pack loaded (default: start one)")
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    parser.add_argument("--thumbnails", action="store_true", help="rewrite the .jpg thumbnails too")
    parser.add_argument("names", nargs="*", help=f"templates to write (default: {', '.join(TEMPLATES)})")
    args = parser.parse_args(argv)
    names = args.names or [n for n in TEMPLATES if (API_DIR / f"{n}.json").exists()]
    stale = [p.name for p in stale_generated_files()]
    if not args.check:
        for path in stale_generated_files():
            path.unlink()
            print(f"removed {path.relative_to(REPO)}")
        for name in names:
            thumbnail = ui_path(name).with_suffix(".jpg")
            if args.thumbnails or not thumbnail.exists():
                write_thumbnail(name, thumbnail)
                print(f"wrote {thumbnail.relative_to(REPO)}")
    with object_info_source(args.server) as object_info:
        for name in names:
            text = render(name, object_info)
            target = ui_path(name)
            if target.exists() and target.read_text() == text:
                continue
            stale.append(target.name)
            if not args.check:
                tmp = target.with_suffix(".json.tmp")
                tmp.write_text(text)
                tmp.replace(target)
                print(f"wrote {target.relative_to(REPO)}")
    if args.check and stale:
        print(f"stale UI templates (re-run scripts/make_ui_workflows.py): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
