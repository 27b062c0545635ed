"""Replicate and Segmind through the job engine against their fakes (no ComfyUI)."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.remote.replicate import DEFAULT_VERSION, replicate_image_to_video  # noqa: E402
from svd_suite.nodes.remote.segmind import segmind_image_to_video  # noqa: E402
from svd_suite.nodes.remote.transport import ProviderError  # noqa: E402

IMAGE = torch.rand(1, 32, 48, 3)


def run_replicate(*args, **kwargs):
    return asyncio.run(replicate_image_to_video(*args, **kwargs))


def run_segmind(*args, **kwargs):
    return asyncio.run(segmind_image_to_video(*args, **kwargs))


def interrupt_when(fake, predicate):
    def watch():
        if fake.wait_for(predicate, 20):
            comfy.request_interrupt(True)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


# ----------------------------------------------------------------------------- Replicate


def test_replicate_success_creates_one_prediction_with_version_and_bearer(remote_env):
    video = run_replicate(IMAGE, frames_per_second=10, seed=3, timeout_s=20)
    assert video.frame_count == 8 and video.filename == "replicate_00001.mp4"
    (create,) = remote_env.replicate.seen("POST", "/v1/predictions")
    assert create.headers["authorization"] == f"Bearer {remote_env.replicate.key}"
    assert create.json["version"] == DEFAULT_VERSION
    sent = create.json["input"]
    assert sent["input_image"].startswith("data:image/png;base64,")
    assert (sent["frames_per_second"], sent["seed"], sent["video_length"]) == (10, 3, "14_frames_with_svd")


def test_replicate_accepts_owner_name_colon_version(remote_env):
    version = "stability-ai/stable-video-diffusion:" + "a" * 64
    run_replicate(IMAGE, version=version, timeout_s=20)
    assert remote_env.replicate.seen("POST", "/v1/predictions")[0].json["version"] == "a" * 64


def test_replicate_rejects_a_version_that_is_not_an_id(remote_env):
    with pytest.raises(ValueError, match="version='latest' is not a Replicate version id"):
        run_replicate(IMAGE, version="latest")
    assert remote_env.replicate.seen() == []


def test_replicate_failed_prediction_raises_its_error(remote_env):
    remote_env.replicate.plan("job_failed")
    with pytest.raises(ProviderError, match="failed: CUDA out of memory"):
        run_replicate(IMAGE, timeout_s=20)


def test_replicate_rejected_token_names_the_variable(remote_env, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_wrongtoken_abcdef")
    with pytest.raises(
        ProviderError, match="You did not pass a valid authentication token.*REPLICATE_API_TOKEN"
    ) as info:
        run_replicate(IMAGE, timeout_s=20)
    assert "r8_wrongtoken_abcdef" not in str(info.value)


def test_replicate_problem_detail_is_reported(remote_env):
    remote_env.replicate.plan("invalid_input")
    with pytest.raises(ProviderError, match="422.*Input validation failed.*frames_per_second"):
        run_replicate(IMAGE, timeout_s=20)


def test_replicate_base_url_variable_is_honoured(remote_env, monkeypatch):
    monkeypatch.delenv("SVD_SUITE_REPLICATE_API_URL")
    monkeypatch.setenv("REPLICATE_BASE_URL", remote_env.replicate.url)
    assert run_replicate(IMAGE, timeout_s=20).frame_count == 8


def test_replicate_poll_error_does_not_resubmit(remote_env):
    remote_env.replicate.plan("status_500_once")
    run_replicate(IMAGE, timeout_s=20)
    assert len(remote_env.replicate.seen("POST", "/v1/predictions")) == 1


def test_replicate_interrupt_posts_cancel(remote_env):
    remote_env.replicate.plan("hold")
    fake = remote_env.replicate
    thread = interrupt_when(fake, fake.has_running_job)
    with pytest.raises(comfy.SVDSuiteInterrupted):
        run_replicate(IMAGE, timeout_s=30)
    thread.join(5)
    (pid,) = fake.jobs
    assert fake.seen("POST", f"/v1/predictions/{pid}/cancel")
    assert fake.jobs[pid]["status"] == "canceled"


def test_replicate_deadline_posts_cancel(remote_env):
    remote_env.replicate.plan("hold")
    with pytest.raises(ProviderError, match="did not finish within timeout_s=1 s"):
        run_replicate(IMAGE, timeout_s=1)
    assert [kind for kind, _ in remote_env.replicate.events] == ["cancel"]


# ----------------------------------------------------------------------------- Segmind


def test_segmind_success_sends_raw_base64_and_api_key_header(remote_env):
    video = run_segmind(IMAGE, fps=9, motion=100, frames="25", timeout_s=20)
    assert video.frame_count == 8 and video.filename == "segmind_00001.mp4"
    (post,) = remote_env.segmind.seen("POST", "/v1/svd")
    assert post.headers["x-api-key"] == remote_env.segmind.key
    assert "authorization" not in post.headers
    body = post.json
    assert not body["image"].startswith("data:") and body["base64"] is False
    assert (body["fps"], body["motion"], body["frames"], body["seed"]) == (9, 100, 25, -1)


def test_segmind_not_enough_credits_is_reported(remote_env):
    remote_env.segmind.plan("no_credits")
    with pytest.raises(ProviderError, match="406.*Not enough credits"):
        run_segmind(IMAGE, timeout_s=20)


def test_segmind_motion_out_of_its_range_is_rejected_before_the_request(remote_env):
    with pytest.raises(ValueError, match=r"motion=200 is outside 1\.\.180"):
        run_segmind(IMAGE, motion=200)
    assert remote_env.segmind.seen() == []


def test_segmind_rate_limit_is_retried(remote_env):
    remote_env.segmind.plan("rate_limited")
    assert run_segmind(IMAGE, timeout_s=20).frame_count == 8
    assert [kind for kind, _ in remote_env.segmind.events] == ["run"]


def test_segmind_server_error_is_not_retried(remote_env):
    # The generation may have run (and been billed): a synchronous call is never repeated blindly.
    remote_env.segmind.plan("server_error")
    with pytest.raises(ProviderError, match="500.*Internal server error"):
        run_segmind(IMAGE, timeout_s=20)
    assert len(remote_env.segmind.seen("POST")) == 1


def test_segmind_interrupt_aborts_the_request(remote_env):
    remote_env.segmind.plan("hold")
    fake = remote_env.segmind
    thread = interrupt_when(fake, fake.has_running_job)
    with pytest.raises(comfy.SVDSuiteInterrupted):
        run_segmind(IMAGE, timeout_s=30)
    thread.join(5)
    assert fake.wait_for(lambda: any(kind == "disconnect" for kind, _ in fake.events), 10)


def test_segmind_deadline_aborts_the_request(remote_env):
    remote_env.segmind.plan("hold")
    with pytest.raises(ProviderError, match="did not finish within timeout_s=1 s; request aborted"):
        run_segmind(IMAGE, timeout_s=1)
    assert remote_env.segmind.wait_for(
        lambda: any(k == "disconnect" for k, _ in remote_env.segmind.events), 10
    )


@pytest.mark.parametrize(("fault", "message"), [("truncated", "truncated"), ("not_video", "not a video")])
def test_segmind_bad_answer_raises_and_leaves_no_file(remote_env, fault, message):
    remote_env.segmind.plan(fault)
    with pytest.raises(ProviderError, match=message):
        run_segmind(IMAGE, timeout_s=20)
    assert list(remote_env.output.iterdir()) == []
