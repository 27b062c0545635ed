"""SVDSuite_ExtendVideo: chaining SVD segments into one long video.

The joining rules are specified first with a recording stand-in for the SVD functions (exact
frame values, no model); then the real thing runs on the tiny model, in-process and in the
real ComfyUI server.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch
from support.templates import ui_template

from dev.pack import REPO_ROOT, load_pack
from dev.run_workflow import output_files, run_workflow

load_pack()
from svd_suite.nodes.comfy import SVDSuiteInterrupted, request_interrupt  # noqa: E402
from svd_suite.nodes.extend import long_video  # noqa: E402
from svd_suite.nodes.extend.long_video import extend_video  # noqa: E402
from svd_suite.nodes.svd.generate import OffsetProgress, total_progress_steps  # noqa: E402

TINY = dict(width=64, height=64, num_frames=4, steps=2, decode_chunk_size=4, fps=7)


class RecordingSVD:
    """Stands in for nodes.svd: segment frames are distinct constants, every call is recorded.

    Frame i of the segment sampled with seed s is filled with (s * 10 + i) / 1000, so the
    expected value of every output frame can be computed exactly.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self.init_images: list[torch.Tensor] = []
        self.seeds: list[int] = []
        self.decoded: list[torch.Tensor] = []
        self.after_decode = None

    @staticmethod
    def value(seed: int, index: int) -> float:
        return (seed * 10 + index) / 1000

    def prepare_conditioning(self, model, image, width, height, resize="crop", num_frames=0, **_):
        self.init_images.append(image.clone())
        return SimpleNamespace(num_frames=num_frames)

    def sample_latents(self, model, cond, seed, steps=25, progress=None, **_):
        self.seeds.append(seed)
        for step in range(1, steps + 1):
            if progress is not None:
                progress.update(step)
        return {"frames": cond.num_frames, "seed": seed}

    def decode_latents(self, model, latent, decode_chunk_size=8, progress=None):
        values = torch.tensor([self.value(latent["seed"], i) for i in range(latent["frames"])])
        frames = values.view(-1, 1, 1, 1).expand(-1, self.size, self.size, 3).contiguous()
        self.decoded.append(frames)
        if progress is not None:
            progress.update(-(-latent["frames"] // decode_chunk_size))
        if self.after_decode is not None:
            self.after_decode()
        return frames, 7.0

    def image_to_video(self, model, image, params, progress=None):
        """The real routine's three stages, on the recording stand-ins."""
        cond = self.prepare_conditioning(
            model, image, params.width, params.height, num_frames=params.num_frames
        )
        latent = self.sample_latents(model, cond, params.seed, params.steps, OffsetProgress(progress, 0))
        return self.decode_latents(
            model, latent, params.decode_chunk_size, OffsetProgress(progress, params.steps)
        )

    total_progress_steps = staticmethod(total_progress_steps)
    OffsetProgress = OffsetProgress


@pytest.fixture
def recording_svd(monkeypatch):
    fake = RecordingSVD()
    monkeypatch.setattr(long_video, "_svd_api", lambda: fake)
    return fake


def run_recorded(segments, frames, overlap, seed=0, **params):
    model = SimpleNamespace(num_frames=14)
    image = torch.full((1, 8, 8, 3), 0.5)
    args = dict(TINY, num_frames=frames, seed=seed)
    args.update(params)
    return extend_video(model, image, segments, overlap, **args)


def frame_values(video: torch.Tensor) -> list[float]:
    return [round(float(v), 6) for v in video[:, 0, 0, 0]]


# --------------------------------------------------------------------------- joining rules


@pytest.mark.parametrize("segments,frames,overlap", [(1, 4, 1), (3, 4, 1), (2, 6, 0), (4, 5, 2), (2, 4, 3)])
def test_frame_count_is_segments_times_fresh_frames_plus_overlap(recording_svd, segments, frames, overlap):
    video, _ = run_recorded(segments, frames, overlap)
    assert video.shape[0] == segments * (frames - overlap) + overlap


def test_overlap_zero_appends_whole_segments(recording_svd):
    video, _ = run_recorded(2, 4, 0, seed=1)
    expected = [RecordingSVD.value(1, i) for i in range(4)] + [RecordingSVD.value(2, i) for i in range(4)]
    assert frame_values(video) == pytest.approx(expected)


def test_overlap_cross_fades_joins_with_linear_weights(recording_svd):
    video, _ = run_recorded(2, 5, 2, seed=0)
    v = RecordingSVD.value
    expected = [v(0, 0), v(0, 1), v(0, 2)]
    expected += [v(0, 3) * 2 / 3 + v(1, 0) / 3, v(0, 4) / 3 + v(1, 1) * 2 / 3]
    expected += [v(1, 2), v(1, 3), v(1, 4)]
    assert frame_values(video) == pytest.approx(expected, abs=1e-6)


def test_overlap_one_blends_the_join_frame_half_and_half(recording_svd):
    video, _ = run_recorded(2, 4, 1, seed=3)
    join = float(video[3, 0, 0, 0])
    assert join == pytest.approx((RecordingSVD.value(3, 3) + RecordingSVD.value(4, 0)) / 2, abs=1e-6)


def test_each_segment_starts_from_the_previous_segments_raw_last_frame(recording_svd):
    run_recorded(3, 4, 1)
    assert len(recording_svd.init_images) == 3
    for k in (1, 2):
        assert torch.equal(recording_svd.init_images[k], recording_svd.decoded[k - 1][-1:])


def test_segment_k_samples_with_seed_plus_k(recording_svd):
    run_recorded(3, 4, 1, seed=41)
    assert recording_svd.seeds == [41, 42, 43]


def test_segment_seeds_wrap_at_two_to_the_64(recording_svd):
    run_recorded(2, 4, 1, seed=2**64 - 1)
    assert recording_svd.seeds == [2**64 - 1, 0]


def test_one_progress_bar_runs_across_all_segments(recording_svd):
    seen = []

    class Recorder:
        def update(self, value, preview=None):
            seen.append(value)

    run_recorded(3, 4, 1, steps=2, decode_chunk_size=2, progress=Recorder())
    assert seen == sorted(seen), "progress went backwards"
    assert seen[-1] == 3 * (2 + 2)


@pytest.mark.parametrize("overlap,frames", [(4, 4), (8, 6)])
def test_overlap_not_below_frames_per_segment_is_a_clear_error_before_work(recording_svd, overlap, frames):
    with pytest.raises(ValueError, match=rf"overlap: {overlap}.*less than the frames per segment"):
        run_recorded(2, frames, overlap)
    assert recording_svd.init_images == []


def test_overlap_checked_against_the_model_default_when_num_frames_is_zero(recording_svd):
    with pytest.raises(ValueError, match="overlap"):
        extend_video(SimpleNamespace(num_frames=4), torch.zeros(1, 8, 8, 3), 2, 5, **dict(TINY, num_frames=0))


@pytest.mark.parametrize("name,value", [("segments", 0), ("segments", 51), ("overlap", -1), ("overlap", 9)])
def test_out_of_range_chaining_inputs_are_clear_errors(recording_svd, name, value):
    args = {"segments": 2, "overlap": 1, name: value}
    with pytest.raises(ValueError, match=rf"{name}: {value} is not allowed"):
        run_recorded(args["segments"], 4, args["overlap"])


def test_interrupt_between_segments_stops_the_job(recording_svd):
    recording_svd.after_decode = lambda: request_interrupt(True)
    try:
        with pytest.raises(SVDSuiteInterrupted):
            run_recorded(3, 4, 1)
    finally:
        request_interrupt(False)
    assert len(recording_svd.init_images) == 1


# --------------------------------------------------------------------------- the tiny model


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread for this module, restored afterwards.

    On the shared, oversubscribed test CPU two OpenMP threads spin against each other and a tiny
    segment takes 5-10x longer than with one; results are compared with a tolerance anyway.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_model(tiny_svd_dir):
    from svd_suite.nodes.svd import load_svd_model

    return load_svd_model(str(tiny_svd_dir))


@pytest.fixture(scope="module")
def start_image():
    generator = torch.Generator().manual_seed(7)
    return torch.rand(1, 80, 96, 3, generator=generator)


@pytest.fixture
def svd_spy(monkeypatch):
    """Records what the real SVD stages inside image_to_video receive and return, unchanged."""
    from svd_suite.nodes.svd import generate as svd

    spy = SimpleNamespace(conditions=[], decoded=[])
    prepare, decode = svd.prepare_conditioning, svd.decode_latents

    def prepare_conditioning(*args, **kwargs):
        cond = prepare(*args, **kwargs)
        spy.conditions.append(cond)
        return cond

    def decode_latents(*args, **kwargs):
        frames, fps = decode(*args, **kwargs)
        spy.decoded.append(frames.clone())
        return frames, fps

    monkeypatch.setattr(svd, "prepare_conditioning", prepare_conditioning)
    monkeypatch.setattr(svd, "decode_latents", decode_latents)
    return spy


@pytest.mark.parametrize("segments,frames,overlap", [(2, 4, 1), (3, 4, 0)])
def test_tiny_model_video_has_segments_times_fresh_frames_plus_overlap(
    tiny_model, start_image, segments, frames, overlap
):
    video, fps = extend_video(tiny_model, start_image, segments, overlap, **dict(TINY, num_frames=frames))
    assert video.shape == (segments * (frames - overlap) + overlap, 64, 64, 3)
    assert fps == 7.0
    assert 0.0 <= float(video.min()) and float(video.max()) <= 1.0


def test_tiny_model_next_segment_is_conditioned_on_the_previous_last_frame(tiny_model, start_image, svd_spy):
    extend_video(tiny_model, start_image, 3, 1, **TINY)
    assert len(svd_spy.conditions) == 3
    for k in (1, 2):
        assert torch.equal(svd_spy.conditions[k].frame, svd_spy.decoded[k - 1][-1:])
    # and segment 0 starts from the (resized) input image, not from something else
    assert not torch.equal(svd_spy.conditions[0].frame, svd_spy.decoded[0][-1:])


def test_tiny_model_same_seed_gives_the_same_video(tiny_model, start_image):
    first, _ = extend_video(tiny_model, start_image, 2, 1, **dict(TINY, seed=5))
    again, _ = extend_video(tiny_model, start_image, 2, 1, **dict(TINY, seed=5))
    other, _ = extend_video(tiny_model, start_image, 1, 1, **dict(TINY, seed=6))
    assert torch.allclose(first, again, atol=1e-5)
    # the seed is really used: another seed changes segment 0 (its frames before the first join)
    assert (first[:3] - other[:3]).abs().max() > 1e-3


def test_tiny_model_interrupt_between_segments_stops_before_the_next_one(tiny_model, start_image, svd_spy):
    per_segment = TINY["steps"] + 1  # 4 frames decoded in one chunk of 4

    class InterruptAtEndOfFirstSegment:
        def update(self, value, preview=None):
            if value == per_segment:
                request_interrupt(True)

    try:
        with pytest.raises(SVDSuiteInterrupted):
            extend_video(tiny_model, start_image, 3, 1, progress=InterruptAtEndOfFirstSegment(), **TINY)
    finally:
        request_interrupt(False)
    assert len(svd_spy.conditions) == 1


def test_tiny_model_bad_sampler_input_fails_before_any_segment(tiny_model, start_image, svd_spy):
    with pytest.raises(ValueError, match="steps"):
        extend_video(tiny_model, start_image, 2, 1, **dict(TINY, steps=0))
    assert svd_spy.conditions == []


# --------------------------------------------------------------------------- the real server


def tiny_model_choice(server) -> str:
    import requests

    info = requests.get(f"{server.url}/object_info/SVDSuite_LoadModel", timeout=30).json()
    choices = info["SVDSuite_LoadModel"]["input"]["required"]["model"][0]
    return next(c for c in choices if "svd-tiny" in c)


def test_real_server_chains_segments_into_one_long_video(comfyui_server):
    from PIL import Image

    Image.new("RGB", (96, 80), (200, 120, 40)).save(comfyui_server.input_dir / "extend_start.png")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "extend_start.png"}},
        "2": {
            "class_type": "SVDSuite_LoadModel",
            "inputs": {"model": tiny_model_choice(comfyui_server), "dtype": "auto", "offload": "auto"},
        },
        "3": {
            "class_type": "SVDSuite_ExtendVideo",
            "inputs": {
                "svd_model": ["2", 0],
                "image": ["1", 0],
                "segments": 3,
                "overlap": 1,
                "resize": "crop",
                "motion_bucket_id": 127,
                "cond_aug": 0.02,
                "seed": 3,
                "min_guidance_scale": 1.0,
                "max_guidance_scale": 3.0,
                **TINY,
            },
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "extend/long"}},
    }
    result = run_workflow(comfyui_server.url, prompt, timeout=300)
    assert result.status == "execution_success", result.error
    assert len(output_files(result, comfyui_server.output_dir)) == 3 * (4 - 1) + 1
    bars = [e["data"] for e in result.events if e.get("type") == "progress" and e["data"].get("node") == "3"]
    assert bars, "no progress from the Long Video node"
    assert {bar["max"] for bar in bars} == {3 * (TINY["steps"] + 1)}, "not one bar across all segments"
    assert bars[-1]["value"] == bars[-1]["max"]


# --------------------------------------------------------------------------- templates

UI_TEMPLATE = ui_template("svd_long_video")
API_TEMPLATE = REPO_ROOT / "workflows" / "api" / "svd_long_video.json"
FRONTEND_ONLY = {"MarkdownNote", "Note"}
SOCKET_WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def object_info(server) -> dict:
    import requests

    return requests.get(f"{server.url}/object_info", timeout=30).json()


def require_nodes(info: dict, *node_ids: str) -> None:
    missing = [n for n in node_ids if n not in info]
    if missing:
        pytest.skip(f"node(s) not in this checkout yet: {', '.join(missing)}")


def widget_names(spec: dict) -> list[tuple[str, dict]]:
    """Widget inputs in the order the frontend serialises widgets_values."""
    names = []
    for section in ("required", "optional"):
        for name, entry in spec["input"].get(section, {}).items():
            kind, options = entry[0], (entry[1] if len(entry) > 1 else {})
            if isinstance(kind, list) or kind in SOCKET_WIDGET_TYPES:
                names.append((name, options))
    return names


def ui_to_api(ui: dict, info: dict) -> dict:
    """What the frontend would queue for the UI template (widget values by name, links as refs)."""
    links = {link[0]: link for link in ui["links"]}
    prompt = {}
    for node in ui["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            continue
        values = list(node["widgets_values"])
        inputs = {}
        for name, options in widget_names(info[node["type"]]):
            inputs[name] = values.pop(0)
            if options.get("control_after_generate"):
                assert values.pop(0) in ("fixed", "increment", "decrement", "randomize")
            if options.get("image_upload"):
                values.pop(0)
        assert values == [], f"{node['type']}: widgets_values has {len(values)} value(s) with no widget"
        for slot in node["inputs"]:
            if slot.get("link") is not None:
                _, source, source_slot, target, _, _ = links[slot["link"]]
                assert target == node["id"]
                inputs[slot["name"]] = [str(source), source_slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def test_ui_template_queues_exactly_the_api_template(comfyui_server):
    import json

    info = object_info(comfyui_server)
    require_nodes(info, "SVDSuite_ExtendVideo", "SVDSuite_LoadModel", "SVDSuite_SaveVideo")
    ui = json.loads(UI_TEMPLATE.read_text())
    api = json.loads(API_TEMPLATE.read_text())
    assert ui["version"] == 0.4
    assert ui_to_api(ui, info) == {
        key: {k: v for k, v in node.items() if k != "_meta"} for key, node in api.items()
    }


def test_api_template_makes_a_long_video_on_the_tiny_model(comfyui_server):
    import json

    import av

    info = object_info(comfyui_server)
    require_nodes(info, "SVDSuite_ExtendVideo", "SVDSuite_LoadModel", "SVDSuite_SaveVideo")
    prompt = json.loads(API_TEMPLATE.read_text())
    by_type = {node["class_type"]: node["inputs"] for node in prompt.values()}
    shutil.copy(REPO_ROOT / "media" / "rocket.jpg", comfyui_server.input_dir / "rocket.jpg")
    by_type["SVDSuite_LoadModel"]["model"] = tiny_model_choice(comfyui_server)
    by_type["SVDSuite_ExtendVideo"].update(TINY, segments=2, overlap=1)
    result = run_workflow(comfyui_server.url, prompt, timeout=300)
    assert result.status == "execution_success", result.error
    videos = [p for p in output_files(result, comfyui_server.output_dir) if p.suffix == ".mp4"]
    assert len(videos) == 1 and videos[0].stat().st_size > 0
    with av.open(str(videos[0])) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 2 * (4 - 1) + 1
