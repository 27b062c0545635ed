"""Typed websocket events: one small dataclass per message kind ComfyUI sends.

`parse_text` and `parse_binary` turn raw frames into these; anything unknown becomes `Other`
so a newer server never breaks the client.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

PREVIEW_FORMATS = {1: "jpeg", 2: "png"}
MIME_FORMATS = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}


@dataclass
class Event:
    """Base of every event; `prompt_id` is None for server-wide messages (status)."""

    prompt_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (used by the CLI's `--json` lines); bytes become their length."""
        out: dict[str, Any] = {"event": type(self).__name__.lower()}
        for key, value in self.__dict__.items():
            out[key] = len(value) if isinstance(value, bytes | bytearray) else value
        return out


@dataclass
class Status(Event):
    queue_remaining: int | None = None
    sid: str | None = None


@dataclass
class Started(Event):
    pass


@dataclass
class Cached(Event):
    nodes: list[str] = field(default_factory=list)


@dataclass
class Executing(Event):
    node: str | None = None
    display_node: str | None = None


@dataclass
class Progress(Event):
    node: str | None = None
    value: float = 0
    max: float = 0


@dataclass
class Executed(Event):
    node: str | None = None
    output: dict[str, Any] = field(default_factory=dict)


@dataclass
class Preview(Event):
    """A preview image sent as a binary frame; `format` is "jpeg", "png" or "webp"."""

    image: bytes = b""
    format: str = "jpeg"
    node: str | None = None


@dataclass
class Success(Event):
    pass


@dataclass
class Error(Event):
    node_id: str | None = None
    node_type: str | None = None
    message: str = ""
    exception_type: str = ""
    traceback: list[str] = field(default_factory=list)


@dataclass
class Interrupted(Event):
    node_id: str | None = None
    node_type: str | None = None


@dataclass
class Other(Event):
    """Any message kind this client does not model (progress_state, feature_flags, ...)."""

    type: str = ""
    data: Any = None


TERMINAL = (Success, Error, Interrupted)


def parse_text(text: str) -> Event:
    """Parse one JSON websocket message."""
    try:
        message = json.loads(text)
        kind = message.get("type", "")
        data = message.get("data") or {}
    except (ValueError, AttributeError):
        return Other(type="invalid", data=text[:200])
    if not isinstance(data, dict):
        return Other(type=kind, data=data)
    pid = data.get("prompt_id")
    if kind == "status":
        info = (data.get("status") or {}).get("exec_info") or {}
        return Status(prompt_id=None, queue_remaining=info.get("queue_remaining"), sid=data.get("sid"))
    if kind == "execution_start":
        return Started(prompt_id=pid)
    if kind == "execution_cached":
        return Cached(prompt_id=pid, nodes=[str(n) for n in data.get("nodes") or []])
    if kind == "executing":
        return Executing(prompt_id=pid, node=data.get("node"), display_node=data.get("display_node"))
    if kind == "progress":
        return Progress(
            prompt_id=pid, node=data.get("node"), value=data.get("value", 0), max=data.get("max", 0)
        )
    if kind == "executed":
        return Executed(prompt_id=pid, node=data.get("node"), output=data.get("output") or {})
    if kind == "execution_success":
        return Success(prompt_id=pid)
    if kind == "execution_error":
        return _error(pid, data)
    if kind == "execution_interrupted":
        return _interrupted(pid, data)
    return Other(prompt_id=pid, type=kind, data=data)


def parse_binary(frame: bytes) -> Event:
    """Parse a binary frame: event 1 `[u32 1][u32 fmt][image]` or event 4 `[u32 4][u32 len][json][image]`."""
    if len(frame) < 8:
        return Other(type="binary", data=len(frame))
    kind, word = struct.unpack(">II", frame[:8])
    if kind == 1:
        return Preview(image=bytes(frame[8:]), format=PREVIEW_FORMATS.get(word, "jpeg"))
    if kind == 4:
        try:
            meta = json.loads(frame[8 : 8 + word])
        except ValueError:
            meta = {}
        return Preview(
            prompt_id=meta.get("prompt_id"),
            node=_str(meta.get("node_id")),
            image=bytes(frame[8 + word :]),
            format=MIME_FORMATS.get(meta.get("image_type"), "jpeg"),
        )
    return Other(type=f"binary:{kind}", data=len(frame))


def terminal_from_history(prompt_id: str, entry: dict[str, Any]) -> Event | None:
    """The terminal event a /history entry implies, or None while the prompt is unfinished."""
    status = (entry or {}).get("status") or {}
    messages = status.get("messages") or []
    for kind, data in reversed(messages):
        if kind == "execution_error":
            return _error(prompt_id, data)
        if kind == "execution_interrupted":
            return _interrupted(prompt_id, data)
    if status.get("completed") or status.get("status_str") == "success":
        return Success(prompt_id=prompt_id)
    return None


def _error(prompt_id: str | None, data: dict[str, Any]) -> Error:
    """An execution_error's data (websocket event or /history message) as an Error."""
    return Error(
        prompt_id=prompt_id,
        node_id=_str(data.get("node_id")),
        node_type=data.get("node_type"),
        message=data.get("exception_message", ""),
        exception_type=data.get("exception_type", ""),
        traceback=list(data.get("traceback") or []),
    )


def _interrupted(prompt_id: str | None, data: dict[str, Any]) -> Interrupted:
    return Interrupted(prompt_id=prompt_id, node_id=_str(data.get("node_id")), node_type=data.get("node_type"))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
