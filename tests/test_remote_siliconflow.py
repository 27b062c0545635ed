"""SiliconFlow through the job engine against its protocol-faithful fake (docs/protocols.md §4, no ComfyUI)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.remote import auto  # noqa: E402
from svd_suite.nodes.remote.siliconflow import build_request, siliconflow_video  # noqa: E402
from svd_suite.nodes.remote.transport import ProviderError  # noqa: E402

IMAGE = torch.rand(1, 32, 48, 3)
I2V, T2V = "Wan-AI/Wan2.2-I2V-A14B", "Wan-AI/Wan2.2-T2V-A14B"


def run(image=IMAGE, **kwargs):
    kwargs.setdefault("model", I2V if image is not None else T2V)
    kwargs.setdefault("prompt", "a rocket lifts off at dawn")
    kwargs.setdefault("timeout_s", 20)
    return asyncio.run(siliconflow_video(image, **kwargs))


def submits(fake):
    return fake.seen("POST", "/v1/video/submit")


def test_image_to_video_posts_bearer_model_prompt_size_seed_and_a_data_uri(remote_env):
    video = run(negative_prompt="blurry", image_size="960x960", seed=11)
    assert video.frame_count == 8 and video.filename == "siliconflow_00001.mp4"
    assert (remote_env.output / video.filename).read_bytes() == remote_env.video
    (submit,) = submits(remote_env.siliconflow)
    assert submit.headers["authorization"] == f"Bearer {remote_env.siliconflow.key}"
    body = submit.json
    assert body["image"].startswith("data:image/png;base64,")
    assert {k: body[k] for k in ("model", "prompt", "negative_prompt", "image_size", "seed")} == {
        "model": I2V,
        "prompt": "a rocket lifts off at dawn",
        "negative_prompt": "blurry",
        "image_size": "960x960",
        "seed": 11,
    }
    (job_id,) = remote_env.siliconflow.jobs
    statuses = remote_env.siliconflow.seen("POST", "/v1/video/status")
    assert statuses and all(r.json == {"requestId": job_id} for r in statuses)


def test_text_to_video_needs_no_image_and_sends_none(remote_env):
    video = run(image=None, model=T2V, seed=-1)
    assert video.frame_count == 8
    body = submits(remote_env.siliconflow)[0].json
    assert "image" not in body and "seed" not in body and "negative_prompt" not in body


def test_image_to_video_without_an_image_is_a_clear_error_before_any_request(remote_env):
    with pytest.raises(ValueError, match=r"image: Wan-AI/Wan2\.2-I2V-A14B animates an image.*T2V"):
        run(image=None, model=I2V)
    assert remote_env.siliconflow.seen() == []


def test_text_to_video_with_an_image_says_to_disconnect_it():
    with pytest.raises(ValueError, match="text-to-video model and takes no image"):
        build_request(IMAGE, T2V, prompt="x")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"prompt": "  "}, "prompt is required"),
        ({"prompt": "x", "image_size": "1024x576"}, "image_size='1024x576' is not allowed.*1280x720"),
        ({"prompt": "x", "model": "Lightricks/LTX-Video"}, "model='Lightricks/LTX-Video' is not supported"),
    ],
)
def test_bad_inputs_name_the_input_and_what_is_allowed(inputs, message):
    with pytest.raises(ValueError, match=message):
        build_request(IMAGE, **{"model": I2V, **inputs})


def test_401_plain_string_body_names_the_variable_and_the_region_setting(remote_env, monkeypatch):
    monkeypatch.setenv("SILICONFLOW_API_KEY", "sk-wrong-key-123456")
    with pytest.raises(
        ProviderError, match="rejected the API key.*401.*Invalid token.*SILICONFLOW_API_KEY"
    ) as info:
        run()
    assert "SVD_SUITE_SILICONFLOW_REGION=international" in str(info.value)
    assert "sk-wrong-key-123456" not in str(info.value)


def test_400_code_20012_reports_message_data_and_code(remote_env):
    remote_env.siliconflow.plan("invalid")
    with pytest.raises(
        ProviderError, match=r"400.*Invalid parameter: seed out of range \(seed\) \[code 20012\]"
    ):
        run()
    assert len(submits(remote_env.siliconflow)) == 1


def test_429_is_retried_after_retry_after_and_makes_one_job(remote_env):
    remote_env.siliconflow.plan("rate_limited")
    assert run().frame_count == 8
    first, second = submits(remote_env.siliconflow)
    assert second.time - first.time >= 0.9  # Retry-After: 1
    assert len(remote_env.siliconflow.jobs) == 1


def test_503_overloaded_is_retried_spaced_and_never_makes_two_jobs(remote_env):
    remote_env.siliconflow.plan("overloaded")  # 503 code 50505 twice, then accepted
    assert run().frame_count == 8
    times = [r.time for r in submits(remote_env.siliconflow)]
    assert len(times) == 3 and len(remote_env.siliconflow.jobs) == 1
    # Spaced by a doubling backoff from SVD_SUITE_POLL_MIN_S=0.05 (lower bounds: sleeps never end early).
    assert times[1] - times[0] >= 0.045 and times[2] - times[1] >= 0.095


def test_504_after_submit_is_never_resubmitted(remote_env):
    remote_env.siliconflow.plan("gateway_timeout")  # the job exists; we only see a gateway error
    with pytest.raises(ProviderError, match="504.*not resubmitted: the job may have been accepted"):
        run()
    assert len(submits(remote_env.siliconflow)) == 1 and len(remote_env.siliconflow.jobs) == 1


def test_failed_status_ends_the_node_with_its_reason(remote_env):
    remote_env.siliconflow.plan("job_failed")
    with pytest.raises(ProviderError, match="failed: The prompt did not pass the content safety check"):
        run()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("expired", "403.*Request has expired.*results expire"),
        ("truncated", "truncated"),
        ("not_video", "not a video"),
    ],
)
def test_bad_downloads_raise_and_leave_no_file(remote_env, fault, message):
    remote_env.siliconflow.plan(fault)
    with pytest.raises(ProviderError, match=message):
        run()
    assert list(remote_env.output.iterdir()) == []
    assert len(submits(remote_env.siliconflow)) == 1


@pytest.mark.parametrize("fault", ["status_500_once", "malformed_status"])
def test_a_failed_status_poll_resumes_polling_without_resubmitting(remote_env, fault):
    remote_env.siliconflow.plan(fault)
    assert run().frame_count == 8
    assert len(submits(remote_env.siliconflow)) == 1


def test_a_job_that_never_finishes_stops_at_the_deadline_and_says_it_may_still_be_billed(remote_env):
    remote_env.siliconflow.plan("never")
    started = time.monotonic()
    with pytest.raises(
        ProviderError, match="timeout_s=1 s; SiliconFlow has no cancel endpoint.*may still finish.*billed"
    ):
        run(timeout_s=1)
    assert time.monotonic() - started < 2.5
    assert all(r.path in ("/v1/video/submit", "/v1/video/status") for r in remote_env.siliconflow.seen())


def test_interrupt_stops_polling_without_any_cancel_call(remote_env, monkeypatch):
    fake = remote_env.siliconflow
    fake.plan("never")
    events = []
    monkeypatch.setattr(comfy, "send_ui_message", lambda event, data, client_id=None: events.append(data))

    def interrupt_when_running():
        if fake.wait_for(fake.has_running_job, 20):
            comfy.request_interrupt(True)

    thread = threading.Thread(target=interrupt_when_running)
    thread.start()
    with pytest.raises(comfy.SVDSuiteInterrupted):
        run(timeout_s=30, node_id="9")
    thread.join(5)
    polls_at_end = len(fake.seen("POST", "/v1/video/status"))
    time.sleep(0.3)
    assert len(fake.seen("POST", "/v1/video/status")) == polls_at_end  # polling stopped
    assert all(r.path in ("/v1/video/submit", "/v1/video/status") for r in fake.seen())
    assert events[-1]["state"] == "cancelled" and "may still finish" in events[-1]["message"]


def test_status_events_carry_queue_position_then_running_then_done(remote_env, monkeypatch):
    events = []
    monkeypatch.setattr(comfy, "send_ui_message", lambda event, data, client_id=None: events.append(data))
    run(node_id="4")
    states = [d["state"] for d in events]
    assert states[0] == "submitted" and states[-2:] == ["downloading", "done"]
    assert next(d for d in events if d["state"] == "queued")["queue_position"] == 1
    assert "running" in states and all(d["provider"] == "siliconflow" and d["node"] == "4" for d in events)


def test_auto_engine_uses_siliconflow_when_named_and_skips_it_without_a_prompt(remote_env):
    skipped = asyncio.run(auto.auto_image_to_video(IMAGE, "siliconflow,segmind", timeout_s=20))
    assert skipped.engine == "segmind" and "siliconflow: skipped (needs a prompt" in skipped.summary
    used = asyncio.run(
        auto.auto_image_to_video(IMAGE, "siliconflow", prompt="waves roll in", seed=3, timeout_s=20)
    )
    assert used.engine == "siliconflow" and used.video.filename.startswith("siliconflow_")
    body = submits(remote_env.siliconflow)[0].json
    assert (body["model"], body["prompt"], body["seed"], body["image_size"]) == (
        I2V,
        "waves roll in",
        3,
        "1280x720",
    )
