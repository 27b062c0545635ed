"""SVD Suite: Stable Video Diffusion for ComfyUI (local on diffusers, or hosted APIs).

ComfyUI imports this package; heavy libraries (torch, diffusers, transformers) are imported
only when a node first runs, so start-up stays fast.
"""

from .nodes.registry import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./js"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
