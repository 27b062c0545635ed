"""Benchmark: our staged SVD path vs diffusers' StableVideoDiffusionPipeline (CPU, same run).

Each measurement is a FRESH subprocess (imports, load, one generation); its peak RSS is that
child's VmHWM (its own memory's high-water mark). Ours and the pipeline alternate (A/B/A/B...) so machine load drifts hit both
alike; medians and ratios are printed. Both get the same model folder, image, seed and settings,
and the outputs are compared (max abs difference) so a memory win cannot come from doing less.

    python bench/bench_svd.py                 # tiny + mid models, 3 runs each side
    python bench/bench_svd.py --variants tiny --runs 3 --chunks ""
    python bench/bench_svd.py --keep-models /tmp/svd-bench-models   # reuse built models

Goals (docs/svd.md): wall ratio <= 1.0 (target 0.95), peak RSS ratio <= 0.76.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # per model variant: one run takes seconds, not minutes, on 2 CPU cores
    "tiny": dict(width=128, height=128, num_frames=14, steps=4, decode_chunk_size=14),
    "mid": dict(width=128, height=128, num_frames=8, steps=2, decode_chunk_size=8),
}
SEED = 1234


# --------------------------------------------------------------------------- child side


def _image(width: int, height: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx / (width - 1), yy / (height - 1), (xx + yy) / (width + height)], -1)
    return Image.fromarray(
        np.clip(base * 200 + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)
    )


def _import_both() -> None:
    """The same heavy imports in both children before any timer starts (imports are not the test)."""
    import diffusers  # noqa: F401
    import transformers  # noqa: F401
    from diffusers import (  # noqa: F401
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPVisionModelWithProjection  # noqa: F401


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


_peak_before_decode: list[float] = []


def _reset_peak() -> None:
    """Reset VmHWM (Linux clear_refs 5) so the decode phase's own peak can be read.

    The high-water mark so far is remembered and folded back in at the end.
    """
    _peak_before_decode.append(_rss_mib("VmHWM"))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _run_ours(model_dir: str, s: dict):
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes.svd import decode_latents, load_svd_model, prepare_conditioning, sample_latents

    pil = _image(s["width"], s["height"])
    image = torch.from_numpy(np.array(pil).astype(np.float32) / 255.0)[None]
    start = time.perf_counter()
    model = load_svd_model(model_dir)
    loaded = time.perf_counter()
    # image_to_video's three stages, called one by one to read the decode phase's peak
    cond = prepare_conditioning(model, image, s["width"], s["height"], num_frames=s["num_frames"])
    latent = sample_latents(model, cond, SEED, s["steps"])
    del cond
    _reset_peak()
    frames, _ = decode_latents(model, latent, s["decode_chunk_size"])
    return frames.numpy(), start, loaded


def _run_pipeline(model_dir: str, s: dict):
    import torch
    from diffusers import StableVideoDiffusionPipeline

    def at_last_step(pipe, i, t, kwargs):
        if i == s["steps"] - 1:
            _reset_peak()  # decode and postprocess follow
        return {}

    pil = _image(s["width"], s["height"])
    start = time.perf_counter()
    pipe = StableVideoDiffusionPipeline.from_pretrained(model_dir)
    pipe.set_progress_bar_config(disable=True)
    loaded = time.perf_counter()
    frames = pipe(
        pil,
        height=s["height"],
        width=s["width"],
        num_frames=s["num_frames"],
        num_inference_steps=s["steps"],
        decode_chunk_size=s["decode_chunk_size"],
        generator=torch.Generator().manual_seed(SEED),
        output_type="np",
        callback_on_step_end=at_last_step,
    ).frames[0]
    return frames, start, loaded


def child_main(which: str, model_dir: str, settings: str, out: str) -> None:
    import numpy as np

    s = json.loads(settings)
    _import_both()
    frames, start, loaded = (_run_ours if which == "ours" else _run_pipeline)(model_dir, s)
    done = time.perf_counter()
    decode_peak = _rss_mib("VmHWM")
    # VmHWM, not ru_maxrss: ru_maxrss survives fork+exec, so a child started by a parent that
    # holds a model (this script builds them) would report at least the parent's RSS.
    peak_kib = max(decode_peak, *_peak_before_decode) * 1024
    np.save(out, frames)
    print(
        json.dumps(
            {
                "wall": done - start,
                "load": loaded - start,
                "generate": done - loaded,
                "peak_mib": peak_kib / 1024,
                "decode_peak_mib": decode_peak,
            }
        )
    )


# --------------------------------------------------------------------------- parent side


def measure(which: str, model_dir: Path, settings: dict, workdir: Path) -> dict:
    out = workdir / f"{which}.npy"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        which,
        "--model",
        str(model_dir),
        "--settings",
        json.dumps(settings),
        "--out",
        str(out),
    ]
    env = dict(os.environ, PYTHONWARNINGS="ignore", TQDM_DISABLE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{which} child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["out"] = out
    return result


def compare(variant: str, model_dir: Path, settings: dict, runs: int, workdir: Path) -> dict:
    import numpy as np

    samples: dict[str, list[dict]] = {"ours": [], "pipeline": []}
    for i in range(runs):
        order = ("ours", "pipeline") if i % 2 == 0 else ("pipeline", "ours")
        for which in order:
            samples[which].append(measure(which, model_dir, settings, workdir))
    diff = float(np.abs(np.load(workdir / "ours.npy") - np.load(workdir / "pipeline.npy")).max())
    med = {
        w: {k: statistics.median(r[k] for r in rs) for k in ("wall", "load", "generate", "peak_mib")}
        for w, rs in samples.items()
    }
    return {"variant": variant, "settings": settings, "median": med, "max_abs_diff": diff, "runs": runs}


def chunk_table(model_dir: Path, settings: dict, chunks: list[int], workdir: Path) -> list[tuple]:
    rows = []
    for chunk in chunks:
        s = dict(settings, decode_chunk_size=chunk)
        ours = measure("ours", model_dir, s, workdir)
        pipe = measure("pipeline", model_dir, s, workdir)
        rows.append(
            (chunk, ours["peak_mib"], pipe["peak_mib"], ours["decode_peak_mib"], pipe["decode_peak_mib"])
        )
    return rows


def print_comparison(results: list[dict]) -> None:
    print("\n## Staged path (ours) vs StableVideoDiffusionPipeline — medians of fresh processes\n")
    print(
        "| model | settings | runs | wall ours s | wall pipe s | **wall ratio** | generate ratio "
        "| peak RSS ours MiB | peak RSS pipe MiB | **RSS ratio** | max abs diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        o, p, s = r["median"]["ours"], r["median"]["pipeline"], r["settings"]
        label = f"{s['width']}x{s['height']}, {s['num_frames']}f, {s['steps']} steps, chunk {s['decode_chunk_size']}"
        print(
            f"| {r['variant']} | {label} | {r['runs']}+{r['runs']} | {o['wall']:.2f} | {p['wall']:.2f} "
            f"| **{o['wall'] / p['wall']:.3f}** | {o['generate'] / p['generate']:.3f} | {o['peak_mib']:.0f} "
            f"| {p['peak_mib']:.0f} | **{o['peak_mib'] / p['peak_mib']:.3f}** | {r['max_abs_diff']:.2e} |"
        )
    print(
        "\nwall = load + generate inside the child (imports excluded, identical for both); "
        "goals: wall ratio <= 1.0 (target 0.95), RSS ratio <= 0.76."
    )


def print_chunks(variant: str, settings: dict, rows: list[tuple]) -> None:
    s = settings
    print(
        f"\n## Peak RSS vs decode_chunk_size ({variant}, {s['width']}x{s['height']}, {s['num_frames']} frames, "
        f"{s['steps']} steps; one fresh process each)\n"
    )
    print(
        "| decode_chunk_size | peak RSS ours MiB | peak RSS pipeline MiB | ratio "
        "| decode-phase peak ours MiB | decode-phase peak pipeline MiB |"
    )
    print("|---|---|---|---|---|---|")
    for chunk, ours, pipe, dec_o, dec_p in rows:
        print(f"| {chunk} | {ours:.0f} | {pipe:.0f} | {ours / pipe:.3f} | {dec_o:.0f} | {dec_p:.0f} |")
    print(
        "\npeak RSS = the child's whole-run VmHWM (the maximum of the reading before the decode reset and after);"
        "\ndecode-phase peak = VmHWM reset after the last sampling step (resident weights count too)."
    )


def ensure_model(variant: str, folder: Path) -> Path:
    target = folder / f"svd-{variant}"
    if not (target / "model_index.json").exists():
        sys.path.insert(0, str(ROOT))
        from dev.tiny_svd import save_tiny_svd

        print(f"building the random-weight {variant} model in {target} ...", flush=True)
        save_tiny_svd(target, variant=variant)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", choices=["ours", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--variants", default="tiny,mid", help="comma list of tiny,mid")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per side (>= 3)")
    parser.add_argument(
        "--chunks", default="1,4,8", help="decode_chunk_size values for the RSS table ('' = skip)"
    )
    parser.add_argument(
        "--chunk-variant", default="mid", help="model variant for the decode_chunk_size table"
    )
    parser.add_argument(
        "--keep-models", help="folder to build/reuse the random models in (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.model, args.settings, args.out)
        return
    variants = [v for v in args.variants.split(",") if v]
    chunks = [int(c) for c in args.chunks.split(",") if c]
    with tempfile.TemporaryDirectory(prefix="svd-bench-") as tmp:
        models = Path(args.keep_models) if args.keep_models else Path(tmp)
        models.mkdir(parents=True, exist_ok=True)
        work = Path(tmp) / "out"
        work.mkdir()
        results = [compare(v, ensure_model(v, models), SETTINGS[v], args.runs, work) for v in variants]
        print_comparison(results)
        if chunks:
            v = args.chunk_variant
            print_chunks(v, SETTINGS[v], chunk_table(ensure_model(v, models), SETTINGS[v], chunks, work))


if __name__ == "__main__":
    main()
