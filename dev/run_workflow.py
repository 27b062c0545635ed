"""Queue an API-format workflow on a real ComfyUI server and follow its websocket to the end.

Deliberately independent of the pack's own client (svd_suite_client), so integration tests of the
nodes do not depend on the code under test in another issue.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import requests
import websocket

TERMINAL = {"execution_success", "execution_error", "execution_interrupted"}


class PromptRejected(Exception):
    """ComfyUI answered 400 to POST /prompt; `.body` holds its JSON (error, node_errors)."""

    def __init__(self, body: dict):
        super().__init__(json.dumps(body)[:2000])
        self.body = body


@dataclass
class RunResult:
    prompt_id: str
    status: str  # execution_success | execution_error | execution_interrupted
    events: list = field(default_factory=list)
    history: dict = field(default_factory=dict)

    @property
    def outputs(self) -> dict:
        return self.history.get("outputs", {})

    def event(self, kind: str) -> dict | None:
        for e in self.events:
            if e.get("type") == kind:
                return e.get("data")
        return None

    @property
    def error(self) -> dict | None:
        return self.event("execution_error")


def queue_prompt(url: str, prompt: dict, client_id: str) -> str:
    r = requests.post(f"{url}/prompt", json={"prompt": prompt, "client_id": client_id}, timeout=30)
    if r.status_code == 400:
        raise PromptRejected(r.json())
    r.raise_for_status()
    return r.json()["prompt_id"]


def run_workflow(url: str, prompt: dict, timeout: float = 300.0, on_event=None) -> RunResult:
    """Queue `prompt`, follow the websocket until it ends (bounded by `timeout`), fetch history.

    `on_event(event_dict)` is called for each JSON message of this prompt (e.g. to interrupt).
    """
    client_id = uuid.uuid4().hex
    ws = websocket.create_connection(f"{url.replace('http', 'ws', 1)}/ws?clientId={client_id}", timeout=5)
    try:
        prompt_id = queue_prompt(url, prompt, client_id)
        events: list[dict] = []
        status = None
        deadline = time.monotonic() + timeout
        while status is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout}s")
            try:
                message = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if isinstance(message, bytes):
                events.append({"type": "binary", "data": message[:8]})
                continue
            event = json.loads(message)
            data = event.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            events.append(event)
            if on_event is not None:
                on_event(event)
            if event.get("type") in TERMINAL and data.get("prompt_id") == prompt_id:
                status = event["type"]
        history = {}
        for _ in range(50):  # history is written right after the terminal event
            h = requests.get(f"{url}/history/{prompt_id}", timeout=10).json()
            if prompt_id in h:
                history = h[prompt_id]
                break
            time.sleep(0.1)
        return RunResult(prompt_id=prompt_id, status=status, events=events, history=history)
    finally:
        ws.close()


def output_files(result: RunResult, output_root, key: str | None = None) -> list:
    """Paths of files listed in a run's outputs (images/gifs/videos lists) under `output_root`."""
    from pathlib import Path

    paths = []
    for node_out in result.outputs.values():
        for k, items in node_out.items():
            if key is not None and k != key:
                continue
            if not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict) and "filename" in item and item.get("type", "output") == "output":
                    paths.append(Path(output_root) / item.get("subfolder", "") / item["filename"])
    return paths
