"""Blocking calls (HTTP, file I/O, decoding) off ComfyUI's event loop, given up at once on Cancel.

ComfyUI (0.3.75 and 0.33) runs an `async def` node function as a task on the prompt's event
loop, next to the other nodes' tasks, so a remote job must never block that loop. Each blocking
call therefore runs in a daemon thread of its own, and the job's coroutine waits for it in short
ticks, checking the interrupt flag and the deadline at every tick (`wait`). When the job must
stop, the caller shuts the call's sockets so the thread ends soon, and raises at once: it never
waits for a hung request.

Why not `asyncio.to_thread`: the default executor is joined when `asyncio.run` ends (ComfyUI
runs each prompt in `asyncio.run`), so one hung request would hold up the end of the prompt.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("svd_suite")

FIRST_TICK_S = 0.002  # fast calls (loopback, small answers) return within a few ms
MAX_TICK_S = 0.05  # the slowest reaction to Cancel or the deadline while a call is in flight


class Call:
    """One blocking function running in its own daemon thread.

    A call that is abandoned (the job stopped while it was in flight) may still finish later; its
    result then goes to the `late` handler given to `abandon`, so that, say, a job whose create
    request was answered after Cancel is still cancelled at the provider.
    """

    def __init__(self, fn: Callable[[], Any], name: str):
        self._fn = fn
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._abandoned = False
        self._late: Callable[[Any], None] | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)

    def start(self) -> Call:
        self.thread.start()
        return self

    def done(self) -> bool:
        return self._done.is_set()

    def _work(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # handed to the waiting coroutine
            with self._lock:
                self.error = exc
                self._done.set()
            return
        with self._lock:
            self.result = result
            self._done.set()
            late = self._late if self._abandoned else None
        if late is not None:
            try:
                late(result)
            except Exception as exc:  # nobody is waiting any more: log it
                log.warning("SVD Suite: handling a late answer failed: %s", exc)

    def abandon(self, late: Callable[[Any], None] | None = None) -> tuple[bool, Any]:
        """Stop waiting. Returns (True, result) when the call had already succeeded (the caller
        handles that result itself); otherwise a later success goes to `late`."""
        with self._lock:
            self._abandoned = True
            self._late = late
            return (self._done.is_set() and self.error is None), self.result

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


async def wait(call: Call, checkpoint: Callable[[], None], on_tick: Callable[[], None] | None = None) -> None:
    """Wait until `call` is done, calling `checkpoint()` (and `on_tick()`) every tick.

    Raises only what `checkpoint`/`on_tick` raise, or the task's own cancellation: that is the
    caller's cue to abandon the call (Call.abandon) and unblock its sockets. The call's own result
    or error is then read with `call.outcome()`.
    """
    tick = FIRST_TICK_S
    while not call.done():
        checkpoint()
        if on_tick is not None:
            on_tick()
        await asyncio.sleep(tick)
        tick = min(tick * 2, MAX_TICK_S)


async def settle(call: Call, seconds: float) -> bool:
    """Wait up to `seconds` for `call` to finish, checking nothing (we are already stopping)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    tick = FIRST_TICK_S
    while not call.done() and loop.time() < end:
        await asyncio.sleep(min(tick, max(0.0, end - loop.time())))
        tick = min(tick * 2, MAX_TICK_S)
    return call.done()
