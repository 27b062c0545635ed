"""Shared fixtures: the pack imported as `svd_suite`, a tiny SVD model, the real ComfyUI server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
# tests/ for `support` and the shared test helpers, the repository root for `dev`.
for folder in (TESTS_DIR, TESTS_DIR.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from support.installs import require_install  # noqa: E402

from dev.comfyui import COMFYUI_VERSIONS, STARTED, prepare_base, start_comfyui  # noqa: E402
from dev.pack import load_pack  # noqa: E402

# The fake provider servers (fixture `fake_providers`) and interpolate_frames on each path
# (fixture `interpolate`, for tests parametrized with `path`) live in their own modules.
pytest_plugins = ["support.fake_providers", "support.interp_paths"]

TINY_MODEL_NAME = "svd-tiny"


@pytest.fixture(scope="session")
def pack():
    """The pack's root module (this checkout imported as the package `svd_suite`)."""
    return load_pack()


@pytest.fixture(scope="session")
def tiny_svd_dir(tmp_path_factory) -> Path:
    """A tiny random-weight SVD saved in diffusers format (docs/svd_notes.md), built once per session."""
    from dev.tiny_svd import save_tiny_svd

    return save_tiny_svd(tmp_path_factory.mktemp("models") / TINY_MODEL_NAME)


@pytest.fixture(scope="session", params=COMFYUI_VERSIONS)
def comfyui_install(request):
    """Each ComfyUI we support (0.3.75, 0.33.0): tests that start their own servers use it."""
    return require_install(request.param)


@pytest.fixture(scope="session")
def comfyui_server(tmp_path_factory, tiny_svd_dir, fake_providers, comfyui_install):
    """A real ComfyUI on 127.0.0.1 with this pack and the tiny model installed, once per
    supported version: every test that uses it runs on 0.3.75 and on 0.33.0.

    Yields a ComfyUIServer (url, base, output_dir, input_dir, version, log_text()); stopped by
    PID at the end.
    """
    base = prepare_base(
        tmp_path_factory.mktemp(f"comfyui-{comfyui_install.version}"),
        {f"diffusers/{TINY_MODEL_NAME}": tiny_svd_dir},
    )
    server = start_comfyui(base, env=dict(fake_providers.env), install=comfyui_install)
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter):
    """Say which real ComfyUI servers the integration tests talked to (CI logs show it)."""
    if not STARTED:
        return
    terminalreporter.section("real ComfyUI servers used")
    for url, version, pid in STARTED:
        terminalreporter.write_line(f"ComfyUI {version} at {url} (pid {pid})")
