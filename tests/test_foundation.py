"""The pack skeleton: imports without ComfyUI, registers its nodes, and loads in the real server."""

from __future__ import annotations

import re
import subprocess
import sys

import requests

from dev.comfyui import PACK_FOLDER
from dev.pack import REPO_ROOT

HEAVY = ("torch", "diffusers", "transformers", "av", "cv2")


def test_pack_imports_without_comfyui_and_without_heavy_libraries():
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from dev.pack import load_pack\n"
        "pack = load_pack()\n"
        "from svd_suite.nodes import registry\n"
        "assert not registry.FAILED_MODULES, registry.FAILED_MODULES\n"
        "print(sorted(m for m in %r if m in sys.modules))\n"
    ) % (str(REPO_ROOT), HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"heavy modules imported at start-up: {out.stdout}"


def test_pack_exports_comfyui_entry_points(pack):
    assert pack.WEB_DIRECTORY == "./js"
    assert set(pack.NODE_CLASS_MAPPINGS) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)
    for node_id, cls in pack.NODE_CLASS_MAPPINGS.items():
        assert node_id.startswith("SVDSuite_"), node_id
        assert callable(getattr(cls, "INPUT_TYPES", None)), node_id
        assert hasattr(cls, "RETURN_TYPES") and hasattr(cls, "FUNCTION"), node_id


def test_real_server_lists_every_node_of_the_pack(comfyui_server, pack):
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    missing = sorted(set(pack.NODE_CLASS_MAPPINGS) - set(info))
    assert not missing, f"not registered in ComfyUI: {missing}"
    for node_id, display in pack.NODE_DISPLAY_NAME_MAPPINGS.items():
        assert info[node_id]["display_name"] == display


def test_real_server_imported_the_pack_without_error(comfyui_server):
    log = comfyui_server.log_text()
    line = re.search(r"([\d.]+) seconds(?P<failed> \(IMPORT FAILED\))?: .*" + re.escape(PACK_FOLDER), log)
    assert line, f"pack missing from ComfyUI's import report:\n{log[-3000:]}"
    assert not line.group("failed"), log[-3000:]
    assert "SVD Suite: could not load" not in log


def test_real_server_serves_the_pack_javascript(comfyui_server):
    listed = requests.get(f"{comfyui_server.url}/extensions", timeout=10).json()
    ours = sorted(p for p in listed if p.startswith(f"/extensions/{PACK_FOLDER}/"))
    assert ours, listed
    registering = []
    for path in ours:
        r = requests.get(comfyui_server.url + path, timeout=10)
        assert r.status_code == 200, path
        if "registerExtension" in r.text:
            registering.append(path.rsplit("/", 1)[-1])
    # The shared helper module (dom_widgets.js) registers nothing; each extension file does.
    assert registering == ["model_check.js", "svd_suite.js"], ours


def test_svd_model_folder_is_registered(comfyui_server):
    # LoadModel lists folders from models/svd too; the server must know the folder kind.
    r = requests.get(f"{comfyui_server.url}/models", timeout=10)
    assert r.status_code == 200
    assert "svd" in r.json()


def test_real_server_loads_every_core_node_too(comfyui_server):
    """No IMPORT FAILED in the log at all: ComfyUI's own audio nodes (torchaudio) and GLSL nodes
    (comfy-angle, PyOpenGL) load in the test environments, so a failure shown there is ours."""
    failed = [line for line in comfyui_server.log_text().splitlines() if "IMPORT FAILED" in line]
    assert not failed, failed


def test_every_input_of_every_node_has_a_tooltip(comfyui_server, pack):
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    missing = []
    for node_id in pack.NODE_CLASS_MAPPINGS:
        for section in ("required", "optional"):
            for name, spec in (info[node_id]["input"].get(section) or {}).items():
                options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                if not options.get("tooltip"):
                    missing.append(f"{node_id}.{name}")
    assert not missing, missing
