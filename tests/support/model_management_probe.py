"""Run the SVD pack against a real ComfyUI's model management, in-process, and report as JSON.

    python model_management_probe.py COMFYUI_DIR MODEL_DIR

Run by tests/test_svd_model_management.py with each supported ComfyUI's own Python (0.3.75 and
0.33.0): a separate process, so ComfyUI's `comfy` package never enters the pytest process (where
the pack must keep using its fallbacks).

There is no GPU here, so the accelerator is played by the device "cpu:0": ComfyUI compares
devices with `!= torch.device("cpu")`, so for "cpu:0" it runs its real free-memory path (it
makes room before loading and evicts idle models), while the tensors stay in RAM. The probe
only observes; tests/test_svd_model_management.py asserts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path


def main(comfy_dir: str, model_dir: str) -> dict:
    sys.path.insert(0, comfy_dir)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.model_management as mm
    import comfy.model_patcher as mp
    import torch

    # Appended, not prepended: ComfyUI's own top-level `nodes` must win over the pack's nodes/.
    sys.path.append(str(Path(__file__).resolve().parents[2]))
    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes import comfy as door
    from svd_suite.nodes.svd import image_to_video, load_svd_model, memory
    from svd_suite.nodes.svd.placement import manage_components

    stand_in = torch.device("cpu", 0)
    door.torch_device = lambda: stand_in
    report: dict = {"manages_models": door.manages_models()}

    def names() -> list[str]:
        return sorted(entry["name"] for entry in door.managed_models())

    def run(model):
        image = torch.linspace(0, 1, 64 * 64 * 3).reshape(1, 64, 64, 3)
        frames, _ = image_to_video(
            model, image, width=64, height=64, num_frames=2, steps=1, decode_chunk_size=2
        )
        return frames

    theirs = mp.ModelPatcher(
        torch.nn.Linear(64, 64), load_device=stand_in, offload_device=torch.device("cpu")
    )
    mm.load_models_gpu([theirs])
    # "none": all three components resident (on a CPU "auto" would stream the image encoder).
    model = load_svd_model(model_dir, offload="none")
    report["offload"] = model.offload
    report["accounted"] = door.managed_models()
    report["weight_bytes"] = {
        type(module).__name__: sum(t.numel() * t.element_size() for t in module.state_dict().values())
        for module in (model.unet, model.vae, model.image_encoder)
    }
    reference = run(model)
    report["after_run"] = names()

    # Our stage needs more room than there is: ComfyUI evicts its own idle model first.
    memory.UNET_VALUES_PER_LATENT_CELL, saved = 10**12, memory.UNET_VALUES_PER_LATENT_CELL
    frames = run(model)
    memory.UNET_VALUES_PER_LATENT_CELL = saved
    report["after_run_needing_room"] = names()
    report["diff_after_making_room"] = float((frames - reference).abs().max())

    # ComfyUI's model needs all the room: ours are evicted, and the next run loads them again.
    mm.load_models_gpu([theirs], memory_required=10**15)
    report["after_comfyui_needed_room"] = names()
    report["unet_device_after_eviction"] = str(next(model.unet.parameters()).device)
    frames = run(model)
    report["after_reload"] = names()
    report["diff_after_reload"] = float((frames - reference).abs().max())

    # "Unload models" (POST /free): unload_all_models() is free_memory(1e30, device) for
    # ComfyUI's own device(s), which the stand-in is not, so it is called for the stand-in.
    mm.free_memory(1e30, stand_in)
    report["after_unload_all"] = names()

    # offload "model": each component is loaded only while its stage runs.
    per_stage = dataclasses.replace(model, offload="model", handles={})
    manage_components(per_stage)
    report["model_policy_after_load"] = names()
    seen_during_sampling = []
    hook = per_stage.unet.register_forward_pre_hook(lambda *_: seen_during_sampling.append(names()))
    frames = run(per_stage)
    hook.remove()
    report["model_policy_during_unet"] = seen_during_sampling[0]
    report["model_policy_after_run"] = names()
    report["diff_model_policy"] = float((frames - reference).abs().max())

    # offload "sequential": weights are not ComfyUI's, but the stage still gets its room.
    mm.load_models_gpu([theirs])
    streamed = dataclasses.replace(model, offload="sequential", handles={})
    manage_components(streamed)
    report["sequential_handles"] = len(streamed.handles)
    memory.UNET_VALUES_PER_LATENT_CELL = 10**12
    frames = run(streamed)
    memory.UNET_VALUES_PER_LATENT_CELL = saved
    report["sequential_after_run_needing_room"] = names()
    report["diff_sequential"] = float((frames - reference).abs().max())

    # A ComfyUI whose ModelPatcher refuses our components: we place them ourselves.
    from svd_suite.nodes.svd import clear_model_cache

    clear_model_cache()

    def refuse(*args, **kwargs):
        raise TypeError("ModelPatcher() got an unexpected keyword argument")

    mp.ModelPatcher, real_patcher = refuse, mp.ModelPatcher
    try:
        unmanaged = load_svd_model(model_dir, offload="none")
        frames = run(unmanaged)
    finally:
        mp.ModelPatcher = real_patcher
    report["refused_handles"] = len(unmanaged.handles)
    report["diff_refused"] = float((frames - reference).abs().max())
    return report


if __name__ == "__main__":
    print("PROBE " + json.dumps(main(sys.argv[1], sys.argv[2])))
