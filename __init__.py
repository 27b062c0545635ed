"""SVD Suite: Stable Video Diffusion for ComfyUI (local on diffusers, or hosted APIs).

ComfyUI imports this package; heavy libraries (torch, diffusers, transformers) are imported
only when a node first runs, so start-up stays fast.
"""

WEB_DIRECTORY = "./js"

# ComfyUI always imports this folder as a package. pytest, though, imports this file on its own
# when the clone's folder name is no Python identifier ("comfyui-svd-suite", "svd suite"): the
# repository root holds __init__.py, so pytest treats it as a test package and runs it for its
# setup hooks. There is no parent package then, and a relative import would fail the whole run.
if __package__:
    from .nodes.registry import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
