"""Single-file SVD conversion: time and peak memory, against diffusers' own loader.

For each model size (tiny: the test model; mid: a 320/640-channel UNet with the real VAE and a
ViT-H-sized CLIP, about 4 GB in fp32) it builds a random-weight SVD in diffusers format, exports
it to one SGM-layout .safetensors, then in fresh interpreters measures
- convert: `load_single_file(file)` (meta-device models, one tensor read at a time);
- reference: `from_pretrained` of the same three components from the diffusers folder.
Memory is the peak RSS growth during the call (VmHWM reset after imports), so torch's own
~400 MB does not hide the converter's cost. Both loaders map the file lazily, so each call also
reads every weight once (a sum) inside the window: the growth then counts every page of the
model, as inference would. Each size runs in the file's dtype (fp32) and cast to bf16 (a copy).
Target: convert growth <= 1.2 x file size.

Run: python bench/bench_single_file.py [tiny mid]   (inside the venv from scripts/env.sh)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MIB = 1024 * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: writing 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def _touch(models) -> None:
    """Read every parameter once, so lazily mapped weights are counted in RSS."""
    import torch

    with torch.no_grad():
        for model in models:
            for tensor in model.state_dict().values():
                tensor.sum(dtype=torch.float32)


def _measure(call) -> dict:
    import gc

    gc.collect()
    _reset_peak()
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    del result
    return {"seconds": seconds, "growth_bytes": (peak - before) * 1024, "peak_bytes": peak * 1024}


def _pack():
    sys.path.insert(0, str(REPO))
    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes.svd import single_file

    return single_file


def worker_prepare(variant: str, folder: str, file: str) -> dict:
    sys.path.insert(0, str(REPO))
    from dev.tiny_svd import save_tiny_svd

    sf = _pack()
    save_tiny_svd(Path(folder), variant=variant)
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionModelWithProjection

    parts = (
        UNetSpatioTemporalConditionModel.from_pretrained(folder, subfolder="unet"),
        AutoencoderKLTemporalDecoder.from_pretrained(folder, subfolder="vae"),
        CLIPVisionModelWithProjection.from_pretrained(folder, subfolder="image_encoder"),
    )
    sf.export_single_file(*parts, file)
    return {"file_bytes": os.path.getsize(file)}


def _dtype(name: str):
    import torch

    return {"fp32": None, "bf16": torch.bfloat16}[name]


def worker_convert(file: str, dtype: str) -> dict:
    sf = _pack()
    # The same imports as the reference, outside the measured window (diffusers imports lazily).
    import accelerate  # noqa: F401
    import safetensors.torch  # noqa: F401
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel  # noqa: F401
    from transformers import CLIPVisionModelWithProjection  # noqa: F401

    def load():
        models = sf.load_single_file(file, dtype=_dtype(dtype))[:3]
        _touch(models)
        return models

    return _measure(load)


def worker_reference(folder: str, dtype: str) -> dict:
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionModelWithProjection

    def load():
        kwargs = {"torch_dtype": _dtype(dtype)} if _dtype(dtype) is not None else {}
        models = (
            UNetSpatioTemporalConditionModel.from_pretrained(folder, subfolder="unet", **kwargs),
            AutoencoderKLTemporalDecoder.from_pretrained(folder, subfolder="vae", **kwargs),
            CLIPVisionModelWithProjection.from_pretrained(folder, subfolder="image_encoder", **kwargs),
        )
        _touch(models)
        return models

    return _measure(load)


WORKERS = {"prepare": worker_prepare, "convert": worker_convert, "reference": worker_reference}


def _run(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(variants: list[str]) -> None:
    rows = []
    for variant in variants:
        tmp = tempfile.mkdtemp(prefix=f"bench-single-{variant}-")
        try:
            folder, file = os.path.join(tmp, "diffusers"), os.path.join(tmp, "svd_xt.safetensors")
            size = _run("prepare", variant, folder, file)["file_bytes"]
            for dtype in ("fp32", "bf16"):
                rows.append(
                    (variant, dtype, size, _run("convert", file, dtype), _run("reference", folder, dtype))
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    print("| model | dtype | file MiB | convert s | from_pretrained s | time ratio | convert RSS growth MiB "
          "| growth / file | from_pretrained growth / file | convert peak RSS MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for variant, dtype, size, convert, reference in rows:
        print(
            f"| {variant} | {dtype} | {size / MIB:.1f} | {convert['seconds']:.2f} | {reference['seconds']:.2f} "
            f"| {convert['seconds'] / reference['seconds']:.2f} | {convert['growth_bytes'] / MIB:.1f} "
            f"| {convert['growth_bytes'] / size:.2f} | {reference['growth_bytes'] / size:.2f} "
            f"| {convert['peak_bytes'] / MIB:.0f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        print(json.dumps(WORKERS[sys.argv[2]](*sys.argv[3:])))
    else:
        main(sys.argv[1:] or ["tiny", "mid"])
