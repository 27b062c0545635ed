"""pytest fixtures that start the fake provider servers (dev/fakes) for a whole session.

`fake_providers.env` holds the environment (base URLs, test keys, a tiny poll interval, a config
path that does not exist) that the ComfyUI server fixture passes to the real server, so remote
nodes inside it talk to these fakes. `fake_providers.fal/.replicate/.segmind/.siliconflow` are the
fakes.
"""

from __future__ import annotations

import pytest

from dev.fakes.start import start_fakes


@pytest.fixture(scope="session")
def fake_providers(tmp_path_factory):
    fakes = start_fakes(tmp_path_factory.mktemp("fake-providers"))
    try:
        yield fakes
    finally:
        fakes.stop()


@pytest.fixture
def remote_env(fake_providers, monkeypatch, tmp_path):
    """Unit-test setting: fakes reset, their env applied, output/ in a temp dir, interrupt cleared.

    Yields the fakes namespace with `.output` (the svd-remote output folder).
    """
    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes import comfy

    fake_providers.reset()
    for name in ("FAL_KEY_ID", "FAL_KEY_SECRET", "REPLICATE_BASE_URL", "SVD_SUITE_SILICONFLOW_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_providers.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(comfy, "_FALLBACK_BASE", str(tmp_path))
    comfy.request_interrupt(False)
    fake_providers.output = tmp_path / "output" / "svd-remote"
    yield fake_providers
    comfy.request_interrupt(False)
