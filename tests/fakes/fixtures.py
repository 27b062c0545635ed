"""pytest fixtures that start the fake provider servers for a whole session.

`fake_providers.env` holds the environment (base URLs, test keys) that the ComfyUI server
fixture passes to the real server, so remote nodes inside it talk to these fakes.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="session")
def fake_providers():
    yield SimpleNamespace(env={})
