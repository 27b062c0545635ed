"""Which ComfyUI installs a test may use: skip the ones missing here, unless scripts/test.sh
asked for all of them (then a missing install fails the run)."""

from __future__ import annotations

import os

import pytest

from dev.comfyui import ComfyUIInstall, ComfyUIUnavailable, comfyui_install

# scripts/test.sh sets this: a missing install then fails the run instead of skipping.
REQUIRE_ALL_VARIABLE = "SVD_SUITE_REQUIRE_ALL_COMFYUI"


def require_install(version: str) -> ComfyUIInstall:
    """comfyui_install() for a test: skip when missing, or fail when scripts/test.sh asked for all."""
    try:
        return comfyui_install(version)
    except ComfyUIUnavailable as exc:
        if os.environ.get(REQUIRE_ALL_VARIABLE):
            pytest.fail(f"ComfyUI {version} unavailable: {exc}")
        pytest.skip(f"ComfyUI {version} unavailable: {exc}")
