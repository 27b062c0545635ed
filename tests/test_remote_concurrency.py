"""Remote nodes in the REAL ComfyUI servers: Cancel within a second whatever request hangs, and
independent remote nodes running side by side with their own progress, status and Cancel."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from dev.remote_nodes import NODE_INPUTS
from dev.run_workflow import run_workflow

pytestmark = pytest.mark.integration

CLASS_OF = {
    "fal": "SVDSuite_RemoteFal",
    "replicate": "SVDSuite_RemoteReplicate",
    "segmind": "SVDSuite_RemoteSegmind",
    "siliconflow": "SVDSuite_RemoteSiliconFlow",
}
SUBMIT_PATH = {
    "fal": "/fal-ai/stable-video",
    "replicate": "/v1/predictions",
    "segmind": "/v1/svd",
    "siliconflow": "/v1/video/submit",
}
CANCEL_BOUND_S = 2.0  # the bound from Cancel to the node's end


def submits(fake, provider: str) -> list:
    return [r for r in fake.seen("POST") if r.path == SUBMIT_PATH[provider]]


def remote_graph(*providers: str) -> tuple[dict, dict]:
    """One start image feeding one remote node per provider, each previewed; and provider → node id."""
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x3366AA},
        }
    }
    ids = {}
    for index, provider in enumerate(providers):
        node, preview = str(10 + 2 * index), str(11 + 2 * index)
        kind = CLASS_OF[provider]
        prompt[node] = {"class_type": kind, "inputs": {"image": ["1", 0], **NODE_INPUTS[kind]}}
        prompt[preview] = {"class_type": "PreviewImage", "inputs": {"images": [node, 0]}}
        ids[provider] = node
    return prompt, ids


class CancelClock:
    """POSTs /interrupt once `ready()` holds and times it against the prompt's terminal event."""

    def __init__(self, server, ready):
        self.server, self.ready = server, ready
        self.sent_at: float | None = None
        self.ended_at: float | None = None
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.ready():
                self.sent_at = time.monotonic()
                requests.post(f"{self.server.url}/interrupt", json={}, timeout=10)
                return
            time.sleep(0.02)

    def on_event(self, event):
        if event.get("type") in ("execution_interrupted", "execution_error", "execution_success"):
            self.ended_at = time.monotonic()

    @property
    def elapsed(self) -> float:
        assert self.sent_at is not None, "the fake never reached the hung request"
        assert self.ended_at is not None
        return self.ended_at - self.sent_at


@pytest.fixture
def fakes(fake_providers):
    fake_providers.reset()
    yield fake_providers
    fake_providers.reset()


@pytest.mark.parametrize(
    ("provider", "kind"),
    [
        (provider, kind)
        for provider in ("fal", "replicate", "siliconflow")
        for kind in ("hang_submit", "hang_status", "stall_download")
    ]
    + [("segmind", "hold"), ("segmind", "stall_download")],
)
def test_cancel_ends_the_node_within_a_second_or_two_whatever_request_hangs(
    comfyui_server, fakes, provider, kind
):
    fake = getattr(fakes, provider)
    fake.plan(kind)
    prompt, _ = remote_graph(provider)
    clock = CancelClock(comfyui_server, lambda: fake.holding() > 0)
    result = run_workflow(comfyui_server.url, prompt, timeout=120, on_event=clock.on_event)
    clock.thread.join(5)
    assert result.status == "execution_interrupted", result.error
    assert clock.elapsed <= CANCEL_BOUND_S, f"Cancel took {clock.elapsed:.2f} s to end the node"
    assert fake.wait_for(
        lambda: any(k == "disconnect" for k, _ in fake.events), 5
    )  # the hung socket was shut
    assert len(submits(fake, provider)) == 1  # a create is never repeated
    cancels = [r for r in fake.seen() if "cancel" in r.path]
    if kind == "hang_status" and provider in ("fal", "replicate"):  # a running job with an id: cancelled
        (job_id,) = fake.jobs
        assert fake.wait_for(lambda: any(job_id in r.path for r in fake.seen() if "cancel" in r.path), 5)
    else:  # no id yet (hung create), already finished (stalled download), or no cancel endpoint
        assert cancels == []


def test_three_remote_nodes_run_together_with_their_own_progress_and_status(comfyui_server, fakes):
    providers = ("fal", "replicate", "siliconflow")
    for provider in providers:
        getattr(fakes, provider).job_seconds = 1.0
    prompt, ids = remote_graph(*providers)
    result = run_workflow(comfyui_server.url, prompt, timeout=120)
    assert result.status == "execution_success", result.error
    submitted = [r.time for p in providers for r in submits(getattr(fakes, p), p)]
    downloaded = [r.time for p in providers for r in getattr(fakes, p).seen("GET", "/files/")]
    assert len(submitted) == 3 and max(submitted) < min(downloaded)  # all submitted before any finished
    for provider, node in ids.items():
        assert result.outputs[node]["images"][0]["filename"].startswith(provider + "_")
        states = [
            e["data"]["state"]
            for e in result.events
            if e.get("type") == "svd-suite.job-status" and e["data"]["node"] == node
        ]
        assert states[0] == "submitted" and states[-1] == "done" and "running" in states, (provider, states)
        assert {
            e["data"]["provider"]
            for e in result.events
            if e.get("type") == "svd-suite.job-status" and e["data"]["node"] == node
        } == {provider}
        progress = [
            e["data"]["value"]
            for e in result.events
            if e.get("type") == "progress" and e["data"]["node"] == node
        ]
        assert progress and progress[-1] == 100, (provider, progress)


def test_cancel_stops_every_remote_node_running_together(comfyui_server, fakes):
    providers = ("fal", "replicate", "segmind")
    for provider in providers:
        getattr(fakes, provider).plan("hold")
    all_running = [getattr(fakes, p).has_running_job for p in providers]
    prompt, _ = remote_graph(*providers)
    clock = CancelClock(comfyui_server, lambda: all(check() for check in all_running))
    result = run_workflow(comfyui_server.url, prompt, timeout=120, on_event=clock.on_event)
    clock.thread.join(5)
    assert result.status == "execution_interrupted"
    assert clock.elapsed <= CANCEL_BOUND_S, f"Cancel took {clock.elapsed:.2f} s"
    (fal_job,) = fakes.fal.jobs
    (replicate_job,) = fakes.replicate.jobs
    assert fakes.fal.wait_for(lambda: ("cancel", fal_job) in fakes.fal.events, 5)
    assert fakes.replicate.wait_for(lambda: ("cancel", replicate_job) in fakes.replicate.events, 5)
    assert fakes.segmind.wait_for(lambda: any(k == "disconnect" for k, _ in fakes.segmind.events), 5)
