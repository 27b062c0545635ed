"""The bundled workflows: UI templates valid for the real server, API twins that really run.

UI-format files (workflows/*.json) are what ComfyUI's template browser opens; their widget values
are positional, so they are checked against the live server's object_info with rules written
here independently of scripts/make_ui_workflows.py (the generator). The API twins
(workflows/api/*.json) are queued on the real server: locally on the tiny model, remotely against
the fake providers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
from support.templates import (
    API_DIR,
    AUTO_NEW_INPUT_DEFAULTS,
    AUTO_UI_BEFORE_NEW_INPUTS,
    UI_DIR,
    ui_templates,
)

from dev.comfyui import PACK_FOLDER
from dev.pack import REPO_ROOT
from dev.run_workflow import output_files, run_workflow

UI_FILES = sorted(UI_DIR.glob("*.json"))
UI_OF = ui_templates()  # API twin name -> UI file (named by its title)
TWINNED = sorted(UI_OF)
LOCAL_TWINS = ("svd_img2vid", "svd_xt_img2vid", "auto_engine")
REMOTE_TWINS = ("remote_fal", "remote_replicate", "remote_segmind", "remote_siliconflow")
# The template browser shows a UI file's name as its title: words for people, not file stems.
EXPECTED_TITLES = {
    "svd_img2vid": "SVD Image to Video (14 frames)",
    "svd_xt_img2vid": "SVD-XT Image to Video (25 frames)",
    "svd_long_video": "SVD Long Video (chained clips)",
    "remote_fal": "SVD on fal.ai (no GPU)",
    "remote_replicate": "SVD on Replicate (no GPU)",
    "remote_segmind": "SVD on Segmind (no GPU)",
    "remote_siliconflow": "Wan 2.2 Video on SiliconFlow (no GPU)",
    "auto_engine": "SVD Image to Video, Any Engine",
}
FRONTEND_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
PRIMITIVES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
# Combos listing files of one installation: a template names the file a user is expected to have.
INSTALL_DEPENDENT = {("LoadImage", "image"), ("SVDSuite_LoadModel", "model")}
TINY = {"width": 64, "height": 64, "steps": 2, "decode_chunk_size": 4}


@pytest.fixture(scope="module")
def object_info(comfyui_server) -> dict:
    return requests.get(f"{comfyui_server.url}/object_info", timeout=60).json()


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def spec_of(spec) -> tuple[str, dict]:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if isinstance(spec[0], list):
        return "COMBO", dict(options, options=spec[0])
    if spec[0] == "COMBO":
        return "COMBO", options
    return spec[0], options


def widget_layout(info: dict) -> list[tuple[str, str, dict]]:
    """What the frontend serialises, in order: one value per widget, plus its extras."""
    layout, upload = [], None
    order = info.get("input_order") or {k: list(v) for k, v in info["input"].items()}
    for section in ("required", "optional"):
        if section == "optional" and upload:
            layout.append(upload)
            upload = None
        for name in order.get(section, []):
            kind, options = spec_of(info["input"][section][name])
            if kind not in PRIMITIVES or options.get("forceInput"):
                continue
            layout.append((name, kind, options))
            if options.get("control_after_generate") or (kind == "INT" and name in ("seed", "noise_seed")):
                layout.append((name, "CONTROL", {}))
            if section == "required" and any(options.get(k) for k in ("image_upload", "video_upload")):
                upload = (name, "UPLOAD", {})
    if upload:
        layout.append(upload)
    return layout


def value_problem(class_type: str, name: str, kind: str, options: dict, value) -> str | None:
    """Why `value` is not acceptable for this widget, or None."""
    if kind == "CONTROL":
        return None if value in CONTROL_VALUES else f"control value {value!r}"
    if kind == "UPLOAD":
        return None if value == "image" else f"upload value {value!r}"
    if kind == "BOOLEAN":
        return None if isinstance(value, bool) else f"{value!r} is not a boolean"
    if kind == "STRING":
        return None if isinstance(value, str) else f"{value!r} is not a string"
    if kind == "COMBO":
        if (class_type, name) in INSTALL_DEPENDENT:
            return None if isinstance(value, str) and value else f"{value!r} is not a file name"
        return None if value in options.get("options", []) else f"{value!r} not in {options.get('options')}"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind == "INT" and value != int(value))
    ):
        return f"{value!r} is not {kind}"
    if "min" in options and value < options["min"] or "max" in options and value > options["max"]:
        return f"{value!r} outside {options.get('min')}..{options.get('max')}"
    return None


def ui_nodes(path: Path) -> list[dict]:
    return [n for n in load(path)["nodes"] if n["type"] not in FRONTEND_ONLY]


# --------------------------------------------------------------------------- templates listed


def test_template_endpoint_lists_every_ui_workflow(comfyui_server):
    listed = requests.get(f"{comfyui_server.url}/api/workflow_templates", timeout=10).json()
    assert sorted(listed.get(PACK_FOLDER, [])) == sorted(p.stem for p in UI_FILES)


def test_template_browser_can_fetch_every_ui_workflow(comfyui_server):
    # The frontend opens a template from /api/workflow_templates/<pack>/<name>.json; a folder that
    # ComfyUI checks earlier (e.g. examples/) would shadow workflows/ and make this 404.
    for path in UI_FILES:
        r = requests.get(f"{comfyui_server.url}/api/workflow_templates/{PACK_FOLDER}/{path.name}", timeout=10)
        assert r.status_code == 200, path.name
        assert r.json() == load(path)


def test_template_browser_can_fetch_the_thumbnails(comfyui_server):
    # The browser shows <name>.jpg from the same route (the name URL-quoted); ours all have one.
    from urllib.parse import quote

    for path in UI_FILES:
        url = f"{comfyui_server.url}/api/workflow_templates/{PACK_FOLDER}/{quote(path.stem)}.jpg"
        r = requests.get(url, timeout=10)
        assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff", path.name


def test_every_template_has_a_human_title_and_an_api_twin():
    assert {name: path.stem for name, path in UI_OF.items()} == EXPECTED_TITLES
    for name, path in UI_OF.items():
        assert (API_DIR / f"{name}.json").is_file(), name
        # 1.32.9 shows the name again as the description, with - and _ read as spaces.
        assert "_" not in path.stem, path.name


def test_every_api_twin_has_a_template():
    assert sorted(p.stem for p in API_DIR.glob("*.json")) == TWINNED


# --------------------------------------------------------------------------- UI format valid


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_uses_only_node_types_the_server_knows(path, object_info):
    unknown = sorted({n["type"] for n in ui_nodes(path)} - set(object_info))
    assert not unknown, f"{path.name}: {unknown}"


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_widget_values_follow_object_info_order(path, object_info):
    problems = []
    for node in ui_nodes(path):
        info = object_info.get(node["type"])
        if info is None:
            continue
        layout = widget_layout(info)
        values = node.get("widgets_values") or []
        if len(values) != len(layout):
            problems.append(
                f"node {node['id']} {node['type']}: {len(values)} values, server wants {len(layout)}"
            )
            continue
        for (name, kind, options), value in zip(layout, values, strict=True):
            problem = value_problem(node["type"], name, kind, options, value)
            if problem:
                problems.append(f"node {node['id']} {node['type']}.{name}: {problem}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_links_join_existing_sockets_of_matching_type(path, object_info):
    data = load(path)
    nodes = {n["id"]: n for n in data["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in data["links"]:
        out, inp = nodes[src]["outputs"][src_slot], nodes[dst]["inputs"][dst_slot]
        assert link_id in (out["links"] or []) and inp["link"] == link_id, f"link {link_id} not mirrored"
        assert out["type"] == kind == object_info[nodes[src]["type"]]["output"][src_slot]
        assert inp["type"] in (kind, "*"), f"link {link_id}: {kind} into {inp['name']} ({inp['type']})"
    assert data["last_link_id"] >= max((link[0] for link in data["links"]), default=0)
    assert data["last_node_id"] >= max(nodes)


@pytest.mark.parametrize("name", TWINNED)
def test_ui_workflow_is_the_same_graph_as_its_api_twin(name, object_info):
    """Name the UI's positional values and follow its links: the result must be the API twin."""
    ui, api = load(UI_OF[name]), load(API_DIR / f"{name}.json")
    links = {link[0]: link for link in ui["links"]}
    rebuilt = {}
    for node in ui_nodes(UI_OF[name]):
        layout = widget_layout(object_info[node["type"]])
        inputs = {
            n: v
            for (n, kind, _), v in zip(layout, node["widgets_values"], strict=False)
            if kind in PRIMITIVES
        }
        for slot in node["inputs"]:
            if slot.get("link") is not None:
                link = links[slot["link"]]
                inputs[slot["name"]] = [str(link[1]), link[2]]
        rebuilt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    assert sorted(rebuilt) == sorted(api)
    for node_id, api_node in api.items():
        info = object_info[api_node["class_type"]]
        specs = {n: spec_of(spec) for section in info["input"].values() for n, spec in section.items()}
        # An input the twin leaves out takes the node's default; the UI must hold that default.
        wanted = {
            n: specs[n][1].get("default") for n in rebuilt[node_id]["inputs"] if n not in api_node["inputs"]
        }
        wanted.update({k: v for k, v in api_node["inputs"].items() if k in specs})
        assert rebuilt[node_id]["class_type"] == api_node["class_type"]
        assert rebuilt[node_id]["inputs"] == wanted, f"node {node_id}"


def test_auto_template_saved_before_its_new_inputs_converts_to_the_same_prompt(object_info):
    # Its widget values end before `resize` and `decode_chunk_size`: read by the server's input
    # order they still name every input they did, and the two new ones take their defaults.
    from svd_suite_client.uiformat import ui_to_api

    old = ui_to_api(load(AUTO_UI_BEFORE_NEW_INPUTS), object_info)
    new = ui_to_api(load(UI_OF["auto_engine"]), object_info)
    [auto_id] = [i for i, node in new.items() if node["class_type"] == "SVDSuite_AutoImageToVideo"]
    assert set(new[auto_id]["inputs"]) - set(old[auto_id]["inputs"]) == set(AUTO_NEW_INPUT_DEFAULTS)
    old[auto_id]["inputs"].update(AUTO_NEW_INPUT_DEFAULTS)
    assert old == new


# --------------------------------------------------------------------------- API twins run


def tiny_prompt(name: str, node_info: dict) -> dict:
    """The API twin with the tiny model and tiny sizes (only inputs the node declares)."""
    prompt = load(API_DIR / f"{name}.json")
    for node in prompt.values():
        declared = {n for section in node_info[node["class_type"]]["input"].values() for n in section}
        if node["class_type"] == "SVDSuite_LoadModel":
            node["inputs"]["model"] = "svd-tiny"
        for key, value in TINY.items():
            if key in declared:
                node["inputs"][key] = value
        if "engines" in node["inputs"]:
            node["inputs"]["engines"] = "local"
    return prompt


def frame_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def run_twin(server, name: str, object_info: dict):
    shutil.copy(REPO_ROOT / "media" / "rocket.jpg", server.input_dir / "rocket.jpg")
    prompt = tiny_prompt(name, object_info)
    result = run_workflow(server.url, prompt, timeout=300)
    assert result.status == "execution_success", (result.error or {}).get("exception_message")
    # SaveVideo and the remote nodes both report their video under "images" (+ "animated"):
    # remote graphs list the provider's file (remote node) and Save Video's (the last node).
    videos = [p for p in output_files(result, server.output_dir, key="images") if p.suffix == ".mp4"]
    save_nodes = [i for i, n in prompt.items() if n["class_type"] == "SVDSuite_SaveVideo"]
    [saved] = result.outputs[save_nodes[0]]["images"]
    saved_path = server.output_dir / saved["subfolder"] / saved["filename"]
    assert saved_path in videos and all(v.is_file() for v in videos), result.outputs
    return prompt, saved_path


@pytest.mark.parametrize("name", LOCAL_TWINS)
def test_local_api_twin_renders_a_video_with_the_requested_frames(name, comfyui_server, object_info):
    prompt, video = run_twin(comfyui_server, name, object_info)
    frames = next(n["inputs"]["num_frames"] for n in prompt.values() if "num_frames" in n["inputs"])
    assert frame_count(video) == frames


@pytest.mark.parametrize("name", REMOTE_TWINS)
def test_remote_api_twin_saves_the_provider_video(name, comfyui_server, object_info, fake_providers):
    remote_types = {n["class_type"] for n in load(API_DIR / f"{name}.json").values()} - {"LoadImage"}
    missing = sorted(remote_types - set(object_info))
    if missing:
        pytest.skip(f"remote nodes not registered yet: {missing}")
    if not getattr(fake_providers, "env", None):
        pytest.skip("dev/fakes provides no fake provider environment yet")
    _, video = run_twin(comfyui_server, name, object_info)
    assert frame_count(video) > 1


@pytest.mark.parametrize("name", TWINNED)
def test_api_twin_sets_only_inputs_its_nodes_declare(name, object_info):
    # The server silently ignores undeclared inputs, so a typo or a stale input would do nothing.
    problems = []
    for node_id, node in load(API_DIR / f"{name}.json").items():
        declared = {n for section in object_info[node["class_type"]]["input"].values() for n in section}
        extra = sorted(set(node["inputs"]) - declared)
        if extra:
            problems.append(f"node {node_id} {node['class_type']}: {extra}")
    assert not problems, "\n".join(problems)


def test_ui_templates_are_what_the_generator_writes_for_this_server(comfyui_server):
    # A node that gains an input needs its templates regenerated (sockets, widget order, size).
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "make_ui_workflows.py"), "--check", "--server", comfyui_server.url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
