"""The auto engine: order, skipping, fallback on failure, never on interrupt (fakes, no ComfyUI)."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.remote import auto  # noqa: E402

IMAGE = torch.rand(1, 32, 48, 3)


def run_auto(*args, **kwargs):
    return asyncio.run(auto.auto_image_to_video(*args, **kwargs))


def test_first_engine_failing_falls_back_to_the_next(remote_env):
    remote_env.fal.plan("job_failed")
    result = run_auto(IMAGE, "fal,replicate", timeout_s=20)
    assert result.engine == "replicate" and result.images.shape[0] == 8
    assert "fal: failed" in result.summary and "CUDA out of memory" in result.summary


def test_engines_without_a_key_and_local_without_a_model_are_skipped_and_reported(remote_env, monkeypatch):
    monkeypatch.delenv("FAL_KEY")
    result = run_auto(IMAGE, "local,fal,segmind", timeout_s=20)
    assert result.engine == "segmind"
    assert "local: skipped (no svd_model connected)" in result.summary
    assert "fal: skipped (no key: set FAL_KEY" in result.summary
    assert remote_env.fal.seen() == []


def test_remote_parameters_are_clamped_to_each_providers_range(remote_env):
    run_auto(IMAGE, "segmind", fps=7, motion_bucket_id=255, cond_aug=3.0, num_frames=25, timeout_s=20)
    body = remote_env.segmind.seen("POST")[0].json
    assert (body["motion"], body["cond_aug"], body["frames"]) == (180, 1.0, 25)


def test_auto_engine_fits_values_into_the_ranges_of_each_providers_schema_table(remote_env):
    from svd_suite.nodes.remote import fal, replicate

    run_auto(IMAGE, "replicate", fps=60, num_frames=25, timeout_s=20)
    (create,) = remote_env.replicate.seen("POST", "/v1/predictions")
    sent = create.json["input"]
    assert sent["frames_per_second"] == replicate.FIELDS["frames_per_second"].maximum == 30
    assert sent["video_length"] == "25_frames_with_svd_xt"
    run_auto(IMAGE, "fal", fps=1, timeout_s=20)
    assert remote_env.fal.seen("POST")[0].json["fps"] == fal.APPS[fal.AUTO_APP]["fps"].minimum == 10


def test_local_engine_failure_falls_back_to_a_provider(remote_env, monkeypatch):
    def broken_local(*args):
        raise RuntimeError("out of memory on this machine")

    monkeypatch.setattr(auto, "_run_local", broken_local)
    result = run_auto(IMAGE, "local,fal", svd_model=object(), timeout_s=20)
    assert result.engine == "fal"
    assert "local: failed (out of memory on this machine)" in result.summary


def test_interrupt_never_falls_back(remote_env):
    remote_env.fal.plan("hold")
    fake = remote_env.fal

    def watch():
        if fake.wait_for(fake.has_running_job, 20):
            comfy.request_interrupt(True)

    thread = threading.Thread(target=watch)
    thread.start()
    with pytest.raises(comfy.SVDSuiteInterrupted):
        run_auto(IMAGE, "fal,replicate", timeout_s=30)
    thread.join(5)
    assert remote_env.replicate.seen() == []
    assert any(kind == "cancel" for kind, _ in fake.events)


def test_every_engine_failing_raises_with_each_reason(remote_env, monkeypatch):
    remote_env.fal.plan("job_failed")
    remote_env.segmind.plan("no_credits")
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    with pytest.raises(
        RuntimeError, match=r"local: skipped.*fal: failed.*replicate: skipped.*segmind: failed.*credits"
    ):
        run_auto(IMAGE, timeout_s=20)


def test_unknown_engine_name_is_rejected_before_anything_runs(remote_env):
    with pytest.raises(ValueError, match="unknown: runway"):
        run_auto(IMAGE, "fal,runway")
    assert remote_env.fal.seen() == []
