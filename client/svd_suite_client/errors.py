"""Errors the client raises: each says what happened in one readable line (the CLI prints it)."""

from __future__ import annotations

from typing import Any


class ComfyClientError(Exception):
    """Base class of every error raised by svd_suite_client."""


class WorkflowError(ComfyClientError, ValueError):
    """A workflow file or a `--set` assignment is unusable (unknown title, bad format, ...)."""


class ValidationFailed(WorkflowError):
    """Client-side validation against /object_info found problems; `.problems` lists them."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("workflow is invalid: " + "; ".join(self.problems))


class PromptRejected(ComfyClientError):
    """The server answered 400 to POST /prompt.

    `.lines` are readable lines naming node id, class_type, input and message; `.body` is the
    server's JSON answer as received.
    """

    def __init__(self, body: Any, status: int = 400):
        self.body = body
        self.status = status
        self.lines = describe_rejection(body)
        super().__init__("prompt rejected: " + "; ".join(self.lines))


class ExecutionFailed(ComfyClientError):
    """A node raised while the prompt ran (websocket `execution_error`)."""

    def __init__(
        self,
        prompt_id: str,
        node_id: str | None,
        node_type: str | None,
        message: str,
        exception_type: str = "",
        traceback: list[str] | None = None,
    ):
        self.prompt_id = prompt_id
        self.node_id = node_id
        self.node_type = node_type
        self.message = (message or "").strip()
        self.exception_type = exception_type
        self.traceback = list(traceback or [])
        kind = f"{exception_type}: " if exception_type else ""
        first_line = self.message.splitlines()[0] if self.message else "no message"
        super().__init__(f"node {node_id} ({node_type}) failed: {kind}{first_line}")


class Interrupted(ComfyClientError):
    """The prompt was interrupted (by us, by another client, or from the UI)."""

    def __init__(self, prompt_id: str, node_id: str | None = None, node_type: str | None = None):
        self.prompt_id = prompt_id
        self.node_id = node_id
        self.node_type = node_type
        where = f" at node {node_id} ({node_type})" if node_id else ""
        super().__init__(f"prompt {prompt_id} was interrupted{where}")


class ServerGone(ComfyClientError):
    """The server stopped answering (connection refused/reset, websocket lost for good)."""


class EngineMissing(ComfyClientError):
    """An optional engine (`--engine ray`) whose package is not installed; the message says how."""


class Timeout(ComfyClientError, TimeoutError):
    """A bounded wait ran out before the prompt finished."""


def describe_rejection(body: Any) -> list[str]:
    """Turn ComfyUI's 400 answer into lines like `node 2 (SaveImage) input images: Required input is missing`."""
    if not isinstance(body, dict):
        return [str(body).strip().splitlines()[0] if str(body).strip() else "no details"]
    lines: list[str] = []
    for node_id, node in sorted((body.get("node_errors") or {}).items(), key=lambda kv: str(kv[0])):
        class_type = node.get("class_type", "?")
        for err in node.get("errors") or []:
            extra = err.get("extra_info") or {}
            input_name = extra.get("input_name")
            where = f"node {node_id} ({class_type})" + (f" input {input_name}" if input_name else "")
            message = err.get("message", "error")
            details = err.get("details")
            if "received_value" in extra:
                message += f" (got {extra['received_value']!r})"
            elif details and details != input_name:
                message += f": {details}"
            lines.append(f"{where}: {message}")
    if not lines:
        error = body.get("error") or {}
        if isinstance(error, dict):
            text = error.get("message") or error.get("type") or "rejected"
            if error.get("details"):
                text += f" ({error['details']})"
        else:
            text = str(error)
        lines.append(text)
    return lines
