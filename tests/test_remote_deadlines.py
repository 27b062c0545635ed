"""Deadlines and hung requests: timeout_s holds whatever the job is doing, provider-side deadlines
are sent, late answers are handled, and jobs run side by side (fakes, no ComfyUI)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from dev.pack import load_pack

load_pack()
from svd_suite.nodes import comfy  # noqa: E402
from svd_suite.nodes.remote import engine  # noqa: E402
from svd_suite.nodes.remote.fal import FalAdapter, fal_image_to_video  # noqa: E402
from svd_suite.nodes.remote.replicate import replicate_image_to_video  # noqa: E402
from svd_suite.nodes.remote.siliconflow import siliconflow_video  # noqa: E402
from svd_suite.nodes.remote.transport import ProviderError  # noqa: E402

IMAGE = torch.rand(1, 32, 48, 3)
TESTS = Path(__file__).resolve().parent
PROVIDERS = ("fal", "replicate", "siliconflow")
SUBMIT_PATH = {
    "fal": "/fal-ai/stable-video",
    "replicate": "/v1/predictions",
    "siliconflow": "/v1/video/submit",
}


def job(provider: str, timeout_s: float, node_id=None):
    """The coroutine of one job on `provider` (a fresh one each call)."""
    if provider == "fal":
        return fal_image_to_video(IMAGE, timeout_s=timeout_s, node_id=node_id)
    if provider == "replicate":
        return replicate_image_to_video(IMAGE, timeout_s=timeout_s, node_id=node_id)
    return siliconflow_video(IMAGE, prompt="waves", timeout_s=timeout_s, node_id=node_id)


def cancels(fakes, provider: str) -> list:
    fake = getattr(fakes, provider)
    return [r for r in fake.seen() if "cancel" in r.path]


@pytest.mark.parametrize("provider", ["fal", "replicate", "siliconflow"])
@pytest.mark.parametrize("kind", ["hang_submit", "hang_status", "stall_download"])
def test_timeout_holds_whatever_request_hangs(remote_env, provider, kind):
    fake = getattr(remote_env, provider)
    fake.plan(kind)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="did not finish within timeout_s=1 s") as info:
        asyncio.run(job(provider, timeout_s=1))
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"timeout_s=1 took {elapsed:.2f} s"  # the bound: within 1 s of the deadline
    assert fake.wait_for(lambda: any(kind == "disconnect" for kind, _ in fake.events), 5)  # socket shut
    assert len([r for r in fake.seen("POST") if r.path == SUBMIT_PATH[provider]]) == 1  # never repeated
    assert len(fake.jobs) == 1
    message = str(info.value)
    if kind == "hang_submit":  # no job id came back: nothing to cancel, and the create is not repeated
        assert "create request was abandoned" in message and cancels(remote_env, provider) == []
    elif kind == "hang_status" and provider != "siliconflow":
        (job_id,) = fake.jobs
        assert "cancel sent" in message
        assert fake.wait_for(lambda: any(job_id in r.path for r in cancels(remote_env, provider)), 5)
    elif kind == "hang_status":
        assert "no cancel endpoint" in message
    else:  # stalled download: the provider already reported the job finished, nothing left to cancel
        assert "had already ended" in message and cancels(remote_env, provider) == []
    assert list(remote_env.output.iterdir()) == []


class _LateFal(FalAdapter):
    """A create whose answer arrives only after the node stopped (its thread ignores the abort)."""

    def __init__(self, release: threading.Event, cancelled: list):
        super().__init__("fal-ai/stable-video")
        self.release, self.cancelled = release, cancelled

    def submit(self, t, payload, remaining_s):
        self.release.wait(10)
        return engine.Job("late-job-1")

    def cancel(self, t, job):
        self.cancelled.append(job.id)


def test_a_job_accepted_after_cancel_is_cancelled_when_its_id_arrives(remote_env):
    release, cancelled = threading.Event(), []
    threading.Timer(0.3, comfy.request_interrupt, (True,)).start()
    started = time.monotonic()
    with pytest.raises(comfy.SVDSuiteInterrupted):
        asyncio.run(engine.run_job(_LateFal(release, cancelled), {"image_url": "x"}, 30))
    assert time.monotonic() - started < 1.5 and cancelled == []
    release.set()  # the provider's answer finally arrives: the job exists, so it is cancelled
    deadline = time.monotonic() + 5
    while not cancelled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cancelled == ["late-job-1"]


def test_replicate_create_carries_cancel_after_from_the_deadline(remote_env):
    asyncio.run(replicate_image_to_video(IMAGE, timeout_s=20))
    (create,) = remote_env.replicate.seen("POST", "/v1/predictions")
    assert create.headers["cancel-after"] == "20s"


def test_fal_submit_carries_its_time_to_start_deadline(remote_env):
    asyncio.run(fal_image_to_video(IMAGE, timeout_s=30))
    submit = next(r for r in remote_env.fal.seen("POST") if "/requests/" not in r.path)
    assert submit.headers["x-fal-request-timeout"] in ("29", "30")


def test_replicate_stops_the_job_itself_when_comfyui_dies(remote_env, tmp_path):
    """SIGKILL the process mid-job: no cancel can be sent, yet Cancel-After ends the prediction."""
    fake = remote_env.replicate
    fake.plan("hold")
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(TESTS.parent)!r})
        from dev.pack import load_pack
        load_pack()
        import torch
        from svd_suite.nodes.remote.replicate import replicate_image_to_video
        asyncio.run(replicate_image_to_video(torch.rand(1, 16, 16, 3), timeout_s=5))
        """
    )
    env = dict(os.environ, **remote_env.env, SVD_SUITE_BASE_DIR=str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        assert fake.wait_for(fake.has_running_job, 60), "the child never started its job"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    (pid,) = fake.jobs
    assert fake.jobs[pid]["cancel_after"] == 5
    assert fake.wait_for(lambda: fake.deadline_state(pid) == "canceled", 10)
    assert cancels(remote_env, "replicate") == []  # nobody sent a cancel: Replicate ended it


def test_three_jobs_run_side_by_side(remote_env):
    fakes = [getattr(remote_env, p) for p in PROVIDERS]
    for fake in fakes:
        fake.job_seconds = 0.5

    async def all_three():
        return await asyncio.gather(*(job(p, timeout_s=30) for p in PROVIDERS))

    videos = asyncio.run(all_three())
    assert [v.frame_count for v in videos] == [8, 8, 8]
    submitted = [
        r.time for p, f in zip(PROVIDERS, fakes, strict=True) for r in f.seen("POST", SUBMIT_PATH[p])
    ]
    downloaded = [r.time for f in fakes for r in f.seen("GET", "/files/")]
    assert len(submitted) == 3 and max(submitted) < min(downloaded)  # all were submitted before any finished


def test_cancel_stops_every_job_running_side_by_side(remote_env):
    for provider in PROVIDERS:
        getattr(remote_env, provider).plan("never" if provider == "siliconflow" else "hold")
    fakes = [remote_env.fal, remote_env.replicate, remote_env.siliconflow]

    def interrupt_when_all_run():
        if remote_env.fal.wait_for(lambda: all(f.has_running_job() for f in fakes), 20):
            comfy.request_interrupt(True)

    async def all_three():
        return await asyncio.gather(*(job(p, timeout_s=30) for p in PROVIDERS), return_exceptions=True)

    thread = threading.Thread(target=interrupt_when_all_run)
    thread.start()
    results = asyncio.run(all_three())
    thread.join(5)
    assert all(isinstance(r, comfy.SVDSuiteInterrupted) for r in results), results
    assert cancels(remote_env, "fal") and cancels(remote_env, "replicate")
    assert cancels(remote_env, "siliconflow") == []
