"""Import this checkout as a package, the way ComfyUI does, without ComfyUI on the path.

The repository root *is* the custom node package, and its folder name varies (a clone, a
symlink in custom_nodes/), so tests import it under a fixed name: `svd_suite`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACK_NAME = "svd_suite"


def load_pack():
    """Return the pack's root module, imported once as `svd_suite`."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module
