"""Run a model whose weights stay on disk: each block is read just before it runs, dropped after.

Why: on the CPU ("release" policy) the CLIP image encoder runs once per start image, but in
fp32 a ViT-H is 2.4 GiB — more than the UNet and VAE together. Loading it whole beside them was
the peak of a whole SVD run. Streamed block by block (a transformer layer is ~80 MB), the
conditioning step costs almost no memory and the results are the same weights doing the same
maths. The file pages stay in the OS page cache, so the next image re-reads them quickly.

Generic over the model class: the model is built without weights (accelerate's
init_empty_weights) and forward hooks fill and empty "units" — the smallest sub-modules that
own their parameters directly or are small enough to load at once — so no knowledge of the
model's forward() is needed, and a transformers upgrade does not break it.
"""

from __future__ import annotations

import json
import os
from typing import Any

# A sub-tree at most this big is loaded as one unit (fewer, larger reads); bigger ones are split.
UNIT_BYTES = 256 * 1024**2


def weight_files(folder: str, stem: str, variant: str | None) -> dict[str, str]:
    """Map each tensor name to the .safetensors file holding it (single file or sharded index)."""
    from safetensors import safe_open

    suffix = f".{variant}" if variant else ""
    single = os.path.join(folder, f"{stem}{suffix}.safetensors")
    if os.path.exists(single):
        with safe_open(single, framework="pt") as f:
            return {name: single for name in f.keys()}
    index_path = os.path.join(folder, f"{stem}.safetensors.index{suffix}.json")
    if not os.path.exists(index_path):
        index_path = os.path.join(folder, f"{stem}{suffix}.safetensors.index.json")
    with open(index_path, encoding="utf-8") as f:
        weight_map = json.load(f)["weight_map"]
    return {name: os.path.join(folder, shard) for name, shard in weight_map.items()}


def _param_bytes(module, recurse: bool = True) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters(recurse=recurse))


def _units(module, prefix: str = "") -> list[tuple[str, Any]]:
    """(qualified name, module) of each unit; containers (ModuleList) are never units: not called."""
    import torch

    is_container = isinstance(module, (torch.nn.ModuleList, torch.nn.ModuleDict))
    if not is_container and (
        any(True for _ in module.parameters(recurse=False)) or _param_bytes(module) <= UNIT_BYTES
    ):
        return [(prefix, module)] if _param_bytes(module) else []
    found = []
    for name, child in module.named_children():
        found += _units(child, f"{prefix}{name}.")
    return found


class _UnitLoader:
    """Forward hooks that load one unit's parameters from the files and drop them afterwards.

    The hooks receive the unit as their first argument; holding no reference to it avoids a
    reference cycle, so a released encoder is freed at once without waiting for the GC.
    """

    def __init__(self, prefix: str, files: dict[str, str], dtype):
        self.prefix, self.files, self.dtype = prefix, files, dtype

    def load(self, unit, *_):
        import torch
        from safetensors import safe_open

        by_file: dict[str, list[tuple[Any, str, str]]] = {}
        for owner_name, owner in unit.named_modules():
            for name, _param in owner.named_parameters(recurse=False):
                key = f"{self.prefix}{owner_name + '.' if owner_name else ''}{name}"
                if key not in self.files:
                    raise KeyError(f"weights file has no tensor {key!r}")
                by_file.setdefault(self.files[key], []).append((owner, name, key))
        for path, entries in by_file.items():
            with safe_open(path, framework="pt") as f:
                for owner, name, key in entries:
                    tensor = f.get_tensor(key).to(self.dtype)
                    owner._parameters[name] = torch.nn.Parameter(tensor, requires_grad=False)

    def drop(self, unit, *_):
        import torch

        for owner in unit.modules():
            for name, param in list(owner._parameters.items()):
                if param is not None and param.device.type != "meta":
                    owner._parameters[name] = torch.nn.Parameter(
                        torch.empty_like(param, device="meta"), requires_grad=False
                    )


def load_streaming(cls, folder: str, subfolder: str, stem: str, variant: str | None, dtype):
    """`cls` built from `folder/subfolder`'s config with weights streamed from its safetensors files.

    Runs on the CPU only (the release policy). KeyError (naming a tensor) when the files do not
    hold every parameter under the model's own names; FileNotFoundError without safetensors.
    """
    from accelerate import init_empty_weights

    component = os.path.join(folder, subfolder)
    config = cls.config_class.from_pretrained(component)
    import torch

    # Building a model initialises (meta) weights, which draws from the global RNG: keep it as
    # it was, other nodes' seeds must not depend on whether an image was conditioned.
    with torch.random.fork_rng(devices=[]), init_empty_weights():
        model = cls(config)
    model = model.to(dtype).eval().requires_grad_(False)
    files = weight_files(component, stem, variant)
    missing = [name for name, _ in model.named_parameters() if name not in files]
    if missing:
        # e.g. a file saved under other tensor names that from_pretrained would convert
        raise KeyError(f"weights file has no tensor {missing[0]!r} ({len(missing)} missing)")
    for prefix, unit in _units(model):
        loader = _UnitLoader(prefix, files, dtype)
        unit.register_forward_pre_hook(loader.load)
        unit.register_forward_hook(loader.drop)
    return model
