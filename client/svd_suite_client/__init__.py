"""Companion client for SVD Suite: run ComfyUI API workflows over HTTP + one websocket."""

from .aio import AsyncComfyClient
from .api import DEFAULT_SERVER, default_server
from .client import ComfyClient
from .errors import (
    ComfyClientError,
    ExecutionFailed,
    Interrupted,
    PromptRejected,
    ServerGone,
    Timeout,
    ValidationFailed,
    WorkflowError,
)
from .outputs import OutputFile, RunResult

__version__ = "0.1.0"

__all__ = [
    "AsyncComfyClient",
    "DEFAULT_SERVER",
    "ComfyClient",
    "default_server",
    "ComfyClientError",
    "ExecutionFailed",
    "Interrupted",
    "PromptRejected",
    "ServerGone",
    "Timeout",
    "ValidationFailed",
    "WorkflowError",
    "OutputFile",
    "RunResult",
]
