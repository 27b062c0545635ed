"""Development support shared by bench/, scripts/ and tests/: importing the pack, tiny SVD
models, starting the real ComfyUI servers, running a workflow on them.

Never imported by the pack itself (ComfyUI loads only the repository root's `__init__.py` and
`nodes/`), and left out of registry archives by `.comfyignore`. Callers put the repository root
on `sys.path` and import `dev.<module>`; nothing here imports from tests/.
"""
