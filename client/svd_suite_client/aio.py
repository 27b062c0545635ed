"""asyncio facade over the same core: each call runs the sync client's method on a thread.

The core already multiplexes one websocket for all prompts, so awaiting many runs at once costs
one parked thread per waiting prompt, not one connection each. The pool is our own (not asyncio's
default one) so hundreds of concurrent `run`s do not queue behind a handful of threads.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .client import ComfyClient
from .events import Event
from .outputs import RunResult


class AsyncComfyClient:
    """`await client.run(prompt)` and friends; accepts the same arguments as ComfyClient."""

    def __init__(self, server: str | None = None, *, max_workers: int = 64, **kwargs: Any):
        self.sync = ComfyClient(server, **kwargs)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="svd-suite-aio")

    async def _call(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    async def queue(self, prompt: dict[str, Any]) -> str:
        return await self._call(self.sync.queue, prompt)

    async def wait(
        self, prompt_id: str, timeout: float = 600.0, on_event: Callable[[Event], Any] | None = None
    ) -> RunResult:
        """Follow a queued prompt; `on_event` (plain or async function) runs on the event loop."""
        return await self._call(self.sync.wait, prompt_id, timeout, self._bridge(on_event))

    async def run(
        self, prompt: dict[str, Any], timeout: float = 600.0, on_event: Callable[[Event], Any] | None = None
    ) -> RunResult:
        prompt_id = await self.queue(prompt)
        return await self.wait(prompt_id, timeout=timeout, on_event=on_event)

    def _bridge(self, on_event: Callable[[Event], Any] | None) -> Callable[[Event], None] | None:
        if on_event is None:
            return None
        loop = asyncio.get_running_loop()

        def deliver(event: Event) -> None:
            if inspect.iscoroutinefunction(on_event):
                asyncio.run_coroutine_threadsafe(on_event(event), loop)
            else:
                loop.call_soon_threadsafe(on_event, event)

        return deliver

    async def upload_image(
        self, image: str | os.PathLike | bytes, subfolder: str = "", overwrite: bool = False
    ) -> dict[str, str]:
        return await self._call(self.sync.upload_image, image, subfolder, overwrite)

    async def download_outputs(self, result: RunResult, directory: str | os.PathLike) -> list[Path]:
        return await self._call(self.sync.download_outputs, result, directory)

    async def interrupt(self, prompt_id: str | None = None) -> None:
        await self._call(self.sync.interrupt, prompt_id)

    async def delete_from_queue(self, prompt_ids: list[str]) -> None:
        await self._call(self.sync.delete_from_queue, prompt_ids)

    async def object_info(self, class_type: str | None = None) -> dict[str, Any]:
        return await self._call(self.sync.object_info, class_type)

    async def system_stats(self) -> dict[str, Any]:
        return await self._call(self.sync.system_stats)

    async def history(self, prompt_id: str | None = None) -> dict[str, Any]:
        return await self._call(self.sync.history, prompt_id)

    async def queue_state(self) -> dict[str, list[str]]:
        return await self._call(self.sync.queue_state)

    async def close(self) -> None:
        await self._call(self.sync.close)
        self._pool.shutdown(wait=False)

    async def __aenter__(self) -> AsyncComfyClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
