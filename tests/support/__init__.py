"""Test and benchmark support: importing the pack, tiny SVD models, the real ComfyUI server."""
