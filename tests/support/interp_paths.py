"""The two paths of interpolate_frames, for tests that must hold on both: a test parametrized
with `path` ("opencv" or "torch", see PATHS) gets the function for it as the fixture
`interpolate` (a pytest plugin, registered in tests/conftest.py).

"opencv" is the OpenCV/NumPy path a CPU device uses; "torch" is the path a CUDA device uses
(flow_torch.py + splat_torch.py), forced onto the CPU with in_torch=True and torch on one thread.
"""

from __future__ import annotations

import functools

import pytest

PATHS = ("opencv", "torch")


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test, then back to what it was."""
    # On the shared 2-core machine torch's thread pool contends with OpenCV's and other work:
    # the search of one 160x128 pair took 0.6 s with one thread, 3.7 s with the default (2).
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def interpolate(request, path):
    """interpolate_frames on the test's `path`."""
    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes.extend.interpolate import interpolate_frames

    if path not in PATHS:
        raise ValueError(f"path {path!r}: expected one of {PATHS}")
    if path == "torch":
        request.getfixturevalue("one_torch_thread")
    return functools.partial(interpolate_frames, in_torch=path == "torch")
