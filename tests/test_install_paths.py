"""The ways people install the pack into today's ComfyUI (0.33.0), tried as they do them.

- ComfyUI-Manager's CLI (`python -m cm_cli install <git url>`, the Manager 4.2.2 that ComfyUI
  0.33.0 pins) installs this checkout from a git URL (a local bare clone here); after a restart
  every node of the pack is listed and nothing of ComfyUI's own environment changed.
- The pack's requirements.txt, installed on top of a bare ComfyUI 0.33.0 as the Manager does,
  only adds packages: ComfyUI's pins stay as they were (scripts/env.sh records both freezes).
- `comfy node validate` (comfy-cli) accepts the registry metadata in pyproject.toml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import requests
from support.checkout import copy_checkout
from support.installs import require_install

from dev.comfyui import CURRENT, PACK_FOLDER, ComfyUIInstall, start_comfyui
from dev.pack import REPO_ROOT, load_pack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def current():
    return require_install(CURRENT)


def run(cmd, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=dict(os.environ, **(env or {})),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def bare_clone_of_this_checkout(tmp_path: Path) -> Path:
    """A bare git repository holding this checkout as it is now (uncommitted work included)."""
    work = copy_checkout(tmp_path / "work" / PACK_FOLDER)
    identity = ["-c", "user.name=test", "-c", "user.email=test@127.0.0.1"]
    for cmd in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "checkout"]):
        out = run(["git", *cmd], work)
        assert out.returncode == 0, out.stderr
    bare = tmp_path / "remote" / f"{PACK_FOLDER}.git"
    out = run(["git", "clone", "-q", "--bare", work, bare], tmp_path)
    assert out.returncode == 0, out.stderr
    return bare


def pip_freeze(python: Path) -> str:
    out = run([python, "-m", "pip", "freeze", "--all"], Path.cwd())
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_manager_cli_installs_the_pack_from_a_git_url_and_comfyui_lists_its_nodes(current, tmp_path):
    probe = "import importlib.util as u; assert u.find_spec('cm_cli') and u.find_spec('comfyui_manager')"
    out = run([current.python, "-c", probe], tmp_path)
    if out.returncode != 0:
        pytest.skip(
            f"ComfyUI-Manager (comfyui_manager 4.2.2) is not installed beside ComfyUI 0.33.0: {out.stderr}"
        )
    comfy = tmp_path / "ComfyUI"  # a ComfyUI of the user's own: the Manager installs into it
    shutil.copytree(current.main.parent, comfy, ignore=shutil.ignore_patterns("__pycache__", "tests*"))
    (comfy / "user").mkdir(exist_ok=True)
    # The Manager only takes URLs with a host: file://localhost/ is a local clone with one.
    url = "file://localhost" + str(bare_clone_of_this_checkout(tmp_path))
    before = pip_freeze(current.python)

    home = tmp_path / "home"  # the Manager's caches and config, away from the real ~
    home.mkdir()
    out = run([current.python, "-m", "cm_cli", "install", url], tmp_path,
              env={"COMFYUI_PATH": str(comfy), "HOME": str(home)})  # fmt: skip
    assert out.returncode == 0 and "[INSTALLED]" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    installed = comfy / "custom_nodes" / PACK_FOLDER
    assert (installed / "__init__.py").is_file() and (installed / "requirements.txt").is_file()
    assert pip_freeze(current.python) == before, "installing the pack changed ComfyUI's environment"

    # The restart: ComfyUI started on that folder, with the Manager enabled as users run it.
    manager_comfy = ComfyUIInstall(CURRENT, current.python, comfy / "main.py")
    server = start_comfyui(
        comfy, install=manager_comfy, extra_args=["--enable-manager"], env={"HOME": str(home)}
    )
    try:
        info = requests.get(f"{server.url}/object_info", timeout=60).json()
        log = server.log_text()
    finally:
        server.stop()
    ours = set(load_pack().NODE_CLASS_MAPPINGS)
    assert len(ours) >= 14
    assert ours <= set(info), (
        f"missing after the Manager's install: {sorted(ours - set(info))}\n{log[-3000:]}"
    )
    report = re.search(r"[\d.]+ seconds(?P<failed> \(IMPORT FAILED\))?: \S*custom_nodes/" + PACK_FOLDER, log)
    assert report and not report.group("failed"), log[-3000:]


def test_pack_requirements_only_add_packages_to_a_bare_comfyui(current):
    venv = current.python.parent.parent
    bare, with_pack = (venv / "freeze-comfyui.txt"), (venv / "freeze-with-pack.txt")
    if not bare.exists():
        pytest.skip(f"{venv} predates the recorded freezes: rebuild it with scripts/env.sh comfyui-0.33")

    def versions(path: Path) -> dict[str, str]:
        pairs = (line.split("==", 1) for line in path.read_text().splitlines() if "==" in line)
        return {name.lower().replace("_", "-"): version for name, version in pairs}

    before, after = versions(bare), versions(with_pack)
    changed = {n: (v, after.get(n)) for n, v in before.items() if after.get(n) != v}
    assert not changed, f"the pack's requirements changed ComfyUI's packages: {changed}"
    added = set(after) - set(before)
    assert {"diffusers", "accelerate", "opencv-python-headless"} <= added, added


def test_comfy_node_validate_accepts_the_registry_metadata(current, tmp_path):
    comfy_cli = current.python.parent / "comfy"
    if not comfy_cli.exists():
        pytest.skip("comfy-cli is not installed beside ComfyUI 0.33.0")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}  # no tracking prompt, no ~
    out = run([comfy_cli, "--skip-prompt", "node", "validate"], REPO_ROOT, env=env, timeout=120)
    assert out.returncode == 0 and "validation checks passed" in out.stdout + out.stderr, out.stdout + out.stderr

    # The same command refuses metadata without a version, so the check above can fail.
    broken = copy_checkout(tmp_path / "broken" / PACK_FOLDER)
    pyproject = broken / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "', 'old_version = "', 1))
    out = run([comfy_cli, "--skip-prompt", "node", "validate"], broken, env=env, timeout=120)
    assert out.returncode != 0, out.stdout + out.stderr


def test_the_registry_archive_ships_the_pack_without_the_development_folders(current, tmp_path):
    comfy_cli = current.python.parent / "comfy"
    if not comfy_cli.exists():
        pytest.skip("comfy-cli is not installed beside ComfyUI 0.33.0")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    clone = tmp_path / "clone" / PACK_FOLDER
    out = run(["git", "clone", "-q", bare_clone_of_this_checkout(tmp_path), clone], tmp_path)
    assert out.returncode == 0, out.stderr
    out = run([comfy_cli, "--skip-prompt", "node", "pack"], clone, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    with zipfile.ZipFile(clone / "node.zip") as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {"__init__.py", "nodes", "js", "workflows", "pyproject.toml", "requirements.txt"} <= tops
    assert not tops & {"dev", "bench", "tests", "scripts", ".ci"}, sorted(tops)
