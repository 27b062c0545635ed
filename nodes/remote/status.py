"""Job status for the UI: `svd-suite.job-status` events and the node's progress bar.

Called only from the job's coroutine, never from a worker thread: ComfyUI's progress hook finds
the running node and prompt through a context variable that worker threads do not carry, and it
raises ComfyUI's interrupt when Cancel was pressed (the engine treats that as a Cancel).
"""

from __future__ import annotations

import math
import time

from .. import comfy

STATUS_EVENT = "svd-suite.job-status"
PROGRESS_TOTAL = 100


class StatusReporter:
    """Sends `svd-suite.job-status` events and moves the node's progress bar."""

    _PROGRESS = {"submitted": 5, "queued": 10, "running": 20, "downloading": 85, "done": 100}

    def __init__(self, provider: str, node_id: str | None, redact):
        self.provider = provider
        self.node_id = node_id
        self.redact = redact
        self.started = time.monotonic()
        self.progress = comfy.Progress(PROGRESS_TOTAL, node_id=node_id)
        self.last_message = ""

    def __call__(self, state: str, queue_position: int | None = None, message: str = "") -> None:
        if message:
            self.last_message = self.redact(message)[:500]
        elapsed = round(time.monotonic() - self.started, 2)
        comfy.send_ui_message(
            STATUS_EVENT,
            {
                "node": self.node_id,
                "provider": self.provider,
                "state": state,
                "queue_position": queue_position,
                "elapsed_s": elapsed,
                "message": self.last_message,
            },
        )
        value = self._PROGRESS.get(state)
        if state == "running":  # unknown total: creep towards 80 % as time passes
            value = 20 + int(60 * (1 - math.exp(-elapsed / 60)))
        if value is not None:
            self.progress.update(value)
