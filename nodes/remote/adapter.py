"""What a provider module supplies to the job engine, and what a finished job gives back.

A provider adapter is plain blocking code (requests): it knows URLs, field names and states,
never the flow. The engine (engine.py) runs its methods in worker threads, so they may block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..video.saved import SavedVideo, preview_payload
from .transport import Transport


@dataclass
class Job:
    """An accepted job: the provider's id plus whatever URLs it handed back."""

    id: str
    data: dict = field(default_factory=dict)


@dataclass
class Poll:
    """One status answer, in our words: queued | running | done | failed | cancelled."""

    state: str
    queue_position: int | None = None
    message: str = ""
    error: str = ""


class Adapter:
    """What a provider module supplies. Queue providers implement submit/poll/result_url and, when
    the provider has one, cancel; synchronous ones (Segmind v1) set `synchronous` and implement
    run_sync. All of them are plain blocking code: the engine runs them off the event loop."""

    provider: str = ""
    synchronous: bool = False
    can_cancel: bool = True

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def submit(self, t: Transport, payload: dict, remaining_s: float) -> Job:
        """Create the job; `remaining_s` is what is left of timeout_s, for provider-side deadlines."""
        raise NotImplementedError

    def poll(self, t: Transport, job: Job) -> Poll:
        raise NotImplementedError

    def result_url(self, t: Transport, job: Job) -> str:
        raise NotImplementedError

    def cancel(self, t: Transport, job: Job) -> None:
        raise NotImplementedError

    def run_sync(self, t: Transport, payload: dict):
        raise NotImplementedError


@dataclass
class RemoteVideo:
    """A finished remote job: decoded frames, fps, and the file saved in output/."""

    images: Any
    fps: float
    frame_count: int
    saved: SavedVideo
    provider: str
    job_id: str

    @property
    def path(self) -> str:
        return self.saved.path

    @property
    def filename(self) -> str:
        return self.saved.filename

    def ui(self) -> dict:
        """The node's preview: the same builder as Save Video's (video/saved.py)."""
        return preview_payload(self.saved)
