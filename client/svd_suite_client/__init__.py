"""Companion client for SVD Suite (ComfyUI HTTP + websocket API)."""

__version__ = "0.1.0"
