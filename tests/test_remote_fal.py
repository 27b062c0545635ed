"""fal.ai through the job engine against the protocol-faithful fake (no ComfyUI)."""

from __future__ import annotations

import asyncio
import threading

import pytest
import requests
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.remote.config import MissingKeyError  # noqa: E402
from svd_suite.nodes.remote.fal import build_request, fal_image_to_video  # noqa: E402
from svd_suite.nodes.remote.transport import ProviderError  # noqa: E402

IMAGE = torch.rand(1, 32, 48, 3)


def run(**kwargs):
    kwargs.setdefault("timeout_s", 20)
    return asyncio.run(fal_image_to_video(IMAGE, **kwargs))


def submits(fake):
    return [r for r in fake.seen("POST") if "/requests/" not in r.path]


def test_success_returns_decoded_frames_fps_and_saved_file(remote_env):
    video = run(app="fal-ai/stable-video", seed=7)
    assert tuple(video.images.shape) == (8, 64, 64, 3)
    assert video.fps == pytest.approx(8.0)
    assert (
        video.filename == "fal_00001.mp4"
        and (remote_env.output / "fal_00001.mp4").read_bytes() == remote_env.video
    )


def test_submit_sends_key_header_data_uri_and_mapped_fields(remote_env):
    run(app="fal-ai/stable-video", motion_bucket_id=200, cond_aug=0.5, fps=12, seed=5)
    (submit,) = submits(remote_env.fal)
    assert submit.path == "/fal-ai/stable-video"
    assert submit.headers["authorization"] == f"Key {remote_env.fal.key}"
    body = submit.json
    assert body["image_url"].startswith("data:image/png;base64,")
    assert {k: body[k] for k in ("motion_bucket_id", "cond_aug", "fps", "seed")} == {
        "motion_bucket_id": 200,
        "cond_aug": 0.5,
        "fps": 12,
        "seed": 5,
    }


def test_random_seed_and_app_default_fps_are_left_to_the_provider(remote_env):
    run(app="fal-ai/fast-svd-lcm", seed=-1, fps=0, steps=0)
    body = submits(remote_env.fal)[0].json
    assert "seed" not in body and "fps" not in body and "steps" not in body


def test_subpath_app_polls_status_under_owner_and_alias_only(remote_env):
    run(app="fal-ai/ltx-video/image-to-video", prompt="a rocket lifts off", steps=10)
    assert submits(remote_env.fal)[0].path == "/fal-ai/ltx-video/image-to-video"
    assert submits(remote_env.fal)[0].json["num_inference_steps"] == 10
    statuses = remote_env.fal.seen("GET", "/status")
    assert statuses and all(r.path.startswith("/fal-ai/ltx-video/requests/") for r in statuses)


def test_svd_app_accepts_the_video_under_image_and_sends_mask_and_control_zip(remote_env):
    video = run(app="fal-ai/svd", mask=torch.ones(1, 32, 48), control_frames=torch.rand(3, 16, 16, 3))
    body = submits(remote_env.fal)[0].json
    assert body["mask_image_url"].startswith("data:image/png;base64,")
    assert body["control_maps_data_url"].startswith("data:application/zip;base64,")
    assert video.frame_count == 8


def test_a_second_run_never_overwrites_the_first_file(remote_env):
    first, second = run(seed=1), run(seed=2)
    assert (first.filename, second.filename) == ("fal_00001.mp4", "fal_00002.mp4")


def test_ltx_without_prompt_fails_before_any_request(remote_env):
    with pytest.raises(ValueError, match="prompt"):
        run(app="fal-ai/ltx-video/image-to-video", prompt="  ")
    assert remote_env.fal.seen() == []


def test_out_of_range_fps_names_the_input_and_the_apps_range():
    with pytest.raises(ValueError, match=r"fps=5 is outside 10\.\.100 allowed by fal-ai/stable-video"):
        build_request(IMAGE, "fal-ai/stable-video", fps=5)


def test_mask_with_an_app_that_has_no_mask_is_rejected():
    with pytest.raises(ValueError, match="only used by fal-ai/svd"):
        build_request(IMAGE, "fal-ai/stable-video", mask=torch.ones(1, 8, 8))


def test_missing_key_names_the_variables_and_config_path(remote_env, monkeypatch):
    monkeypatch.delenv("FAL_KEY")
    with pytest.raises(
        MissingKeyError, match=r"FAL_KEY \(or FAL_KEY_ID \+ FAL_KEY_SECRET\).*no-such-config\.json"
    ):
        run()
    assert remote_env.fal.seen() == []


def test_key_id_and_secret_variables_make_the_key(remote_env, monkeypatch):
    key_id, secret = remote_env.fal.key.split(":")
    monkeypatch.delenv("FAL_KEY")
    monkeypatch.setenv("FAL_KEY_ID", key_id)
    monkeypatch.setenv("FAL_KEY_SECRET", secret)
    assert run().frame_count == 8


def test_key_from_the_config_file_is_used(remote_env, monkeypatch, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"FAL_KEY": "%s"}' % remote_env.fal.key)
    monkeypatch.delenv("FAL_KEY")
    monkeypatch.setenv("SVD_SUITE_CONFIG", str(config))
    assert run().frame_count == 8


def test_rejected_key_names_the_variable_and_never_shows_the_key(remote_env, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "wrongid:wrong-secret-123456")
    with pytest.raises(ProviderError, match="rejected the API key.*401.*FAL_KEY") as info:
        run()
    assert "wrong-secret-123456" not in str(info.value)


def test_validation_error_list_is_joined_readably(remote_env):
    remote_env.fal.plan("invalid_input")
    with pytest.raises(
        ProviderError,
        match=r"body\.image_url: Image is too large \(image_too_large\); "
        r"body\.motion_bucket_id: ensure this value is <= 255",
    ):
        run()


def test_rate_limit_is_retried_after_the_retry_after_delay(remote_env):
    remote_env.fal.plan("rate_limited")
    assert run().frame_count == 8
    first, second = submits(remote_env.fal)
    assert second.time - first.time >= 0.9  # Retry-After: 1
    assert len(remote_env.fal.jobs) == 1


@pytest.mark.parametrize("fault", ["status_500_once", "malformed_status"])
def test_a_failed_poll_resumes_polling_without_resubmitting(remote_env, fault):
    remote_env.fal.plan(fault)
    assert run().frame_count == 8
    assert len(submits(remote_env.fal)) == 1


def test_failed_job_raises_the_providers_error(remote_env):
    remote_env.fal.plan("job_failed")
    with pytest.raises(ProviderError, match="failed: CUDA out of memory while sampling"):
        run()


def test_result_error_raises_the_detail(remote_env):
    remote_env.fal.plan("result_error")
    with pytest.raises(ProviderError, match="Could not decode image"):
        run()


@pytest.mark.parametrize(
    ("fault", "message"), [("result_404", "404"), ("truncated", "truncated"), ("not_video", "not a video")]
)
def test_bad_downloads_raise_and_leave_no_file_behind(remote_env, fault, message):
    remote_env.fal.plan(fault)
    with pytest.raises(ProviderError, match=message):
        run()
    assert list(remote_env.output.iterdir()) == []
    assert len(submits(remote_env.fal)) == 1


def test_deadline_sends_cancel_and_raises(remote_env):
    remote_env.fal.plan("hold")
    with pytest.raises(ProviderError, match="did not finish within timeout_s=1 s; cancel sent"):
        run(timeout_s=1)
    (job_id,) = remote_env.fal.jobs
    assert ("cancel", job_id) in remote_env.fal.events


def test_interrupt_sends_cancel_and_reraises_the_interrupt(remote_env):
    remote_env.fal.plan("hold")

    def interrupt_when_running():
        if remote_env.fal.wait_for(remote_env.fal.has_running_job, 20):
            comfy.request_interrupt(True)

    thread = threading.Thread(target=interrupt_when_running)
    thread.start()
    with pytest.raises(comfy.SVDSuiteInterrupted):
        run(timeout_s=30)
    thread.join(5)
    (job_id,) = remote_env.fal.jobs
    assert ("cancel", job_id) in remote_env.fal.events
    assert remote_env.fal.seen("PUT", f"/fal-ai/stable-video/requests/{job_id}/cancel")


def test_status_events_carry_state_queue_position_and_latest_log_line(remote_env, monkeypatch):
    events = []
    monkeypatch.setattr(
        comfy, "send_ui_message", lambda event, data, client_id=None: events.append((event, data))
    )
    run(node_id="17")
    assert {name for name, _ in events} == {"svd-suite.job-status"}
    data = [d for _, d in events]
    assert all(d["node"] == "17" and d["provider"] == "fal" for d in data)
    assert set(data[0]) == {"node", "provider", "state", "queue_position", "elapsed_s", "message"}
    queued = next(d for d in data if d["state"] == "queued")
    running = next(d for d in data if d["state"] == "running")
    assert queued["queue_position"] == 1 and running["message"] == "step 2/20"
    assert [d["state"] for d in data][-2:] == ["downloading", "done"]


def test_faults_can_be_planned_over_http_for_jobs_from_another_process(remote_env):
    answer = requests.post(f"{remote_env.fal.url}/_control", json={"plan": ["job_failed"]}, timeout=5).json()
    assert answer["plans"] == ["job_failed"]
    with pytest.raises(ProviderError, match="CUDA out of memory"):
        run()


def test_returned_urls_are_used_as_given(remote_env):
    remote_env.fal.plan("odd_urls")  # the job lives only under the URLs fal handed back
    assert run().frame_count == 8
    (job_id,) = remote_env.fal.jobs
    assert remote_env.fal.seen("GET", f"/q/{job_id}/status") and remote_env.fal.seen("GET", f"/q/{job_id}")
    assert not remote_env.fal.seen("GET", "/requests/")


def test_cancel_goes_to_the_returned_cancel_url(remote_env):
    remote_env.fal.plan("odd_urls")
    remote_env.fal.job_seconds = 30  # keeps running until cancelled
    with pytest.raises(ProviderError, match="cancel sent"):
        run(timeout_s=1)
    (job_id,) = remote_env.fal.jobs
    assert remote_env.fal.seen("PUT", f"/q/{job_id}/cancel")


def test_a_returned_url_on_a_foreign_host_never_gets_the_key(remote_env, monkeypatch):
    from svd_suite.nodes.remote import fal

    adapter = fal.FalAdapter("fal-ai/stable-video")
    job = fal.Job("abc", {"status_url": "https://evil.example.com/requests/abc/status"})
    with pytest.raises(ProviderError, match="unexpected host.*evil.example.com.*not sending the key"):
        adapter._url(job, "status_url", "/status")
    job = fal.Job("abc", {"status_url": "https://queue.fal.run/fal-ai/x/requests/abc/status"})
    assert adapter._url(job, "status_url", "/status") == "https://queue.fal.run/fal-ai/x/requests/abc/status"


def test_a_202_result_means_not_done_yet(remote_env):
    remote_env.fal.plan("result_202_once")
    assert run().frame_count == 8
    (job_id,) = remote_env.fal.jobs
    result_path = f"/fal-ai/stable-video/requests/{job_id}"
    assert [r.path for r in remote_env.fal.seen("GET", result_path) if r.path == result_path] == [
        result_path
    ] * 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("failed_state", "failed: Runner crashed while loading the model \\[runner_server_error\\]"),
        ("canceled_state", "was cancelled by the provider: Request was cancelled by an administrator"),
    ],
)
def test_terminal_states_other_than_success_end_the_job_with_the_reason(remote_env, fault, message):
    remote_env.fal.plan(fault)
    with pytest.raises(ProviderError, match=message):
        run()
    assert remote_env.fal.seen("GET", "/files/") == []
