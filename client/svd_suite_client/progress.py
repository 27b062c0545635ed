"""How the CLI shows a run: a one-line progress bar on a terminal, JSON lines, or nothing."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from . import events as ev


class Reporter:
    """Receives every event of a run; the base class shows nothing."""

    def event(self, event: ev.Event, label: str = "") -> None:
        pass

    def summary(self, data: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        print(text, file=sys.stderr)


class JsonLines(Reporter):
    """One JSON object per event on stdout, then a final summary object."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()  # batch workers report from several threads

    def _write(self, data: dict[str, Any]) -> None:
        line = json.dumps(data, default=str) + "\n"
        with self.lock:
            self.stream.write(line)
            self.stream.flush()

    def event(self, event: ev.Event, label: str = "") -> None:
        if isinstance(event, ev.Other):
            return
        data = event.to_json()
        if label:
            data["label"] = label
        self._write(data)

    def summary(self, data: dict[str, Any]) -> None:
        self._write({"event": "summary", **data})

    def message(self, text: str) -> None:
        self._write({"event": "message", "text": text})


class TerminalBar(Reporter):
    """A single redrawn line on stderr: current node and its step progress."""

    def __init__(
        self, stream: TextIO | None = None, node_names: dict[str, str] | None = None, width: int = 24
    ):
        self.stream = stream or sys.stderr
        self.node_names = node_names or {}
        self.width = width
        self.node = ""
        self.drawn = False

    def _draw(self, text: str) -> None:
        self.stream.write("\r\033[K" + text[:120])
        self.stream.flush()
        self.drawn = True

    def event(self, event: ev.Event, label: str = "") -> None:
        prefix = f"{label} " if label else ""
        if isinstance(event, ev.Executing) and event.node is not None:
            self.node = f"{event.node} {self.node_names.get(event.node, '')}".strip()
            self._draw(f"{prefix}running {self.node}")
        elif isinstance(event, ev.Progress) and event.max:
            done = int(self.width * min(event.value / event.max, 1.0))
            bar = "#" * done + "." * (self.width - done)
            self._draw(f"{prefix}[{bar}] {event.value}/{event.max} {self.node}")
        elif isinstance(event, ev.TERMINAL):
            self.end()

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

    def message(self, text: str) -> None:
        self.end()
        print(text, file=self.stream)


def make_reporter(json_lines: bool, node_names: dict[str, str] | None = None) -> Reporter:
    if json_lines:
        return JsonLines()
    if sys.stderr.isatty():
        return TerminalBar(node_names=node_names)
    return Reporter()
