"""GPU benchmark: our staged SVD path vs diffusers' StableVideoDiffusionPipeline at real SVD-XT size.

    pip install --no-deps diffusers-0.42.1-py3-none-any.whl && python bench/gpu_svd.py
    python bench/gpu_svd.py --dry-run        # tiny models on the CPU, under a minute (run by the tests)

Random weights with the real configs (docs/svd_notes.md §7: UNet 1.52 B, temporal VAE, CLIP ViT-H), so
every kernel has its real shape and the timings are the real ones without a download; 25 frames
at 1024x576, fp16, 25 steps, guidance 1 -> 3, decode chunk 8. Both paths share the very same
modules, image, seed and settings, and run alternately (ours, pipeline, ours, ...) after one
warm-up each. Per stage (CLIP, sampling = start latent + denoising loop, decode = VAE decode +
frames to CPU float32, as a ComfyUI node must hand them on) it measures wall time with CUDA
synchronisation, the peak of torch.cuda.max_memory_allocated, and the max difference between
the two outputs; then the same for each speed option (channels_last, compile_unet, both).
The physical floor: FLOPs counted from the shapes (torch.utils.flop_counter on one run of each
stage) at the dense fp16 matmul rate measured on this GPU first.

Needs only torch (>= 2.11), transformers (>= 5.17) and the diffusers wheel: no ComfyUI, PyAV,
network or Pillow. diffusers imports Pillow and requests at start-up without using them on
these paths, so where they are missing, inert stand-ins are registered (and said so).
The pack's own modules are loaded by path from this checkout. A time budget (--budget-s) is
meant to keep the whole run under 8 minutes on one H200: what would not fit by the times
measured so far is skipped, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_svd_setup import (  # noqa: E402  (a sibling file, loaded by path: bench/ is no package)
    build_model,
    build_pipeline,
    import_libraries,
    load_pack,
    matmul_rate,
    start_image,
    sync,
)

CONFIGS = {
    "default": (False, False),
    "channels_last": (True, False),
    "compile": (False, True),
    "channels_last+compile": (True, True),
}
GIB = 1024**3


# --------------------------------------------------------------------------- the two arms


class Stages:
    """Wall time and peak memory per named stage (CUDA-synchronised), and the run's peak.

    The run's peak also covers what happens between wrapped stages (the pipeline's denoising
    loop), because the high-water mark is read before every reset.
    """

    def __init__(self, device):
        self.device, self.times, self.peaks, self.run_peak = device, {}, {}, 0
        self._fold_peak(reset=True)

    def _fold_peak(self, reset: bool) -> int:
        import torch

        if self.device.type != "cuda":
            return 0
        peak = torch.cuda.max_memory_allocated(self.device)
        self.run_peak = max(self.run_peak, peak)
        if reset:
            torch.cuda.reset_peak_memory_stats(self.device)
        return peak

    def run(self, name, fn, *args, **kwargs):
        sync(self.device)
        self._fold_peak(reset=True)
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        sync(self.device)
        self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - start
        self.peaks[name] = max(self.peaks.get(name, 0), self._fold_peak(reset=False))
        return out

    def finish(self) -> Stages:
        self._fold_peak(reset=False)
        return self


def conditioning_args(model, image, s) -> tuple:
    """SVD Conditioning's inputs for this run: crop to the size, the settings' frames, fps 7,
    motion bucket 127, cond_aug 0.02 (the pipeline's defaults, which it is compared with)."""
    return (model, image, s.width, s.height, "crop", s.frames, 7, 127, 0.02)


def run_ours(pack, model, image, s, steps):
    stages = Stages(model.device)
    cond = stages.run("clip", pack.conditioning.prepare_conditioning, *conditioning_args(model, image, s))
    latent = stages.run("sampling", pack.sampling.sample_latents, model, cond, s.seed, steps, 1.0, 3.0)
    frames, _fps = stages.run("decode", pack.decoding.decode_latents, model, latent, s.decode_chunk)
    return frames, stages.finish()


def run_pipeline(pipe, model, image, s, steps):
    import torch

    stages = Stages(model.device)
    originals = {}
    for owner, name, stage in (
        (pipe, "_encode_image", "clip"),
        (pipe, "decode_latents", "decode"),
        (pipe.video_processor, "postprocess_video", "decode"),
    ):
        originals[(owner, name)] = getattr(owner, name)
        setattr(
            owner, name, lambda *a, _f=originals[(owner, name)], _s=stage, **k: stages.run(_s, _f, *a, **k)
        )
    try:
        start = time.perf_counter()
        sync(model.device)
        out = pipe(
            image.permute(0, 3, 1, 2),
            height=s.height,
            width=s.width,
            num_frames=s.frames,
            num_inference_steps=steps,
            min_guidance_scale=1.0,
            max_guidance_scale=3.0,
            fps=7,
            motion_bucket_id=127,
            noise_aug_strength=0.02,
            decode_chunk_size=s.decode_chunk,
            generator=torch.Generator(model.device).manual_seed(s.seed),
            output_type="pt",
        )
        frames = stages.run("decode", lambda: out.frames[0].permute(0, 2, 3, 1).to("cpu", torch.float32))
        sync(model.device)
        total = time.perf_counter() - start
    finally:
        for owner, name in originals:
            delattr(owner, name)
    stages.times["sampling"] = total - stages.times["clip"] - stages.times["decode"]
    return frames, stages.finish()


# --------------------------------------------------------------------------- floor


def count_flops(pack, model, image, s, steps) -> dict:
    """FLOPs per stage, counted from the shapes of one run (sampling from 1- and 2-step runs)."""
    from torch.utils.flop_counter import FlopCounterMode

    def flops(fn, *args):
        with FlopCounterMode(display=False) as counter:
            out = fn(*args)
        return out, counter.get_total_flops()

    cond, clip = flops(pack.conditioning.prepare_conditioning, *conditioning_args(model, image, s))
    _, one = flops(pack.sampling.sample_latents, model, cond, s.seed, 1, 1.0, 3.0)
    latent, two = flops(pack.sampling.sample_latents, model, cond, s.seed, 2, 1.0, 3.0)
    _, decode = flops(pack.decoding.decode_latents, model, latent, s.decode_chunk)
    return {
        "clip": clip,
        "sampling": one + (steps - 1) * (two - one),
        "decode": decode,
        "unet_step": two - one,
    }


# --------------------------------------------------------------------------- configurations


def apply_config(pack, model, channels_last: bool, compile_unet: bool, backend: str) -> None:
    if channels_last:
        pack.speed.use_channels_last(model.unet)
        pack.speed.use_channels_last(model.vae)
    if compile_unet:
        pack.speed.compile_unet(model.unet, backend=backend)


def revert_config(model) -> None:
    import torch

    for module in (*model.unet.modules(), *model.vae.modules()):
        if isinstance(module, torch.nn.Conv2d):
            module.to(memory_format=torch.contiguous_format)
    model.unet._compiled_call_impl = None  # undoes nn.Module.compile (private; the bench only)
    torch._dynamo.reset()


class Budget:
    """Skips what would not fit in the time left, from the durations measured so far."""

    def __init__(self, seconds: float):
        self.deadline, self.last, self.skipped = time.perf_counter() + seconds, {}, []

    def fits(self, kind: str, what: str, reserve: float = 0.0) -> bool:
        needed = max(self.last.get(kind, 0.0), reserve)
        if time.perf_counter() + needed <= self.deadline:
            return True
        self.skipped.append(what)
        return False

    def record(self, kind: str, seconds: float) -> None:
        self.last[kind] = seconds


def measure_config(pack, model, pipe, image, s, name, budget, reference):
    """Rows (ours, pipeline) for one configuration and our frames; (None, None) when out of time.

    "vs default" compares with `reference`: our frames in the first configuration measured
    (the default one, unless --configs leaves it out).
    """
    channels_last, compile_unet = CONFIGS[name]
    if not budget.fits("config", f"{name} (all)", reserve=s.compile_reserve if compile_unet else 0.0):
        return None, None
    apply_config(pack, model, channels_last, compile_unet, s.compile_backend)
    try:
        config_start = time.perf_counter()
        run_ours(pack, model, image, s, s.warmup_steps)  # compiles here when compile_unet
        warm_ours = time.perf_counter() - config_start
        run_pipeline(pipe, model, image, s, s.warmup_steps)
        runs = {"ours": [], "pipeline": []}
        frames = {}
        for rep in range(s.reps):
            for arm, fn in (
                ("ours", lambda: run_ours(pack, model, image, s, s.steps)),
                ("pipeline", lambda: run_pipeline(pipe, model, image, s, s.steps)),
            ):
                if rep > 0 and not budget.fits(arm, f"{name} {arm} repeat {rep + 1}"):
                    continue
                start = time.perf_counter()
                frames[arm], stages = fn()
                budget.record(arm, time.perf_counter() - start)
                runs[arm].append(stages)
        budget.record("config", time.perf_counter() - config_start)
    finally:
        revert_config(model)
    if reference is None:
        reference = frames["ours"]
    rows = []
    for arm, other in (("ours", "pipeline"), ("pipeline", "ours")):
        times = {
            k: statistics.median(st.times[k] for st in runs[arm]) for k in ("clip", "sampling", "decode")
        }
        rows.append(
            dict(
                config=name,
                arm=arm,
                runs=len(runs[arm]),
                **times,
                total=sum(times.values()),
                peak_gib=max(st.run_peak for st in runs[arm]) / GIB,
                stage_peaks_gib={k: v / GIB for k, v in runs[arm][-1].peaks.items()},
                diff_other=float((frames[arm] - frames[other]).abs().max()),
                diff_default=float((frames[arm] - reference).abs().max()),
                warmup_s=warm_ours if arm == "ours" else None,
                finite=bool(frames[arm].isfinite().all()),
            )
        )
    rows[0]["ratio"] = rows[0]["total"] / rows[1]["total"]
    return rows, frames["ours"]


# --------------------------------------------------------------------------- report


def print_report(rows, flops, rate, s, notes) -> None:
    floor = {k: flops[k] / rate for k in ("clip", "sampling", "decode")}
    floor_total = sum(floor.values())
    default_ours = next((r["total"] for r in rows if r["config"] == "default" and r["arm"] == "ours"), None)
    print(
        "\n| config | path | runs | CLIP s | sampling s | decode s | total s | ours/pipeline | vs default "
        "ours | peak GiB | max diff vs other path | max diff vs default | total/floor |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"**{r['ratio']:.3f}**" if "ratio" in r else ""
        vs_default = f"{r['total'] / default_ours:.3f}" if r["arm"] == "ours" and default_ours else ""
        peak = "n/a" if s.dry_run else f"{r['peak_gib']:.2f}"
        print(
            f"| {r['config']} | {r['arm']} | {r['runs']} | {r['clip']:.2f} | {r['sampling']:.2f} | "
            f"{r['decode']:.2f} | {r['total']:.2f} | {ratio} | {vs_default} | {peak} | "
            f"{r['diff_other']:.2e} | {r['diff_default']:.2e} | {r['total'] / floor_total:.2f} |"
        )
    print(
        f"| floor | FLOPs at {rate / 1e12:.3g} TFLOP/s | | {floor['clip']:.2f} | {floor['sampling']:.2f} | "
        f"{floor['decode']:.2f} | {floor_total:.2f} | | | | | | 1.00 |"
    )
    print(
        f"\nFLOPs: CLIP {flops['clip'] / 1e12:.3g} T, sampling {flops['sampling'] / 1e12:.4g} T "
        f"({flops['unet_step'] / 1e12:.4g} T per UNet step), decode {flops['decode'] / 1e12:.4g} T "
        f"(matmul, convolution and attention FLOPs only: the floor is a lower bound)."
    )
    for r in rows:
        if r.get("warmup_s") is not None and "compile" in r["config"]:
            print(
                f"{r['config']}: warm-up run incl. compilation {r['warmup_s']:.1f} s "
                f"({s.warmup_steps} steps; not in the table)"
            )
    for note in notes:
        print(note)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny models on the CPU (seconds)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--decode-chunk", type=int, default=8)
    parser.add_argument("--reps", type=int, default=2, help="timed runs per path and configuration")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {','.join(CONFIGS)}")
    parser.add_argument("--budget-s", type=float, default=450.0, help="skip what would end later")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    args.warmup_steps, args.compile_backend, args.compile_reserve = 2, "inductor", 150.0
    if args.dry_run:  # every code path, tiny shapes
        args.steps, args.frames, args.width, args.height, args.decode_chunk, args.reps = 2, 4, 128, 64, 2, 1
        args.warmup_steps, args.compile_backend, args.compile_reserve = 1, "eager", 0.0
    args.configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        parser.error(f"--configs: unknown {unknown}; choose from {list(CONFIGS)}")
    return args


def main(argv=None) -> int:
    started = time.perf_counter()
    s = parse_args(argv)
    inert = import_libraries()
    import diffusers
    import torch
    import transformers
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    pack = load_pack()
    if s.dry_run:
        device, dtype, matmul_size = torch.device("cpu"), torch.float32, 256
    elif not torch.cuda.is_available():
        print("No CUDA GPU here: use --dry-run for the CPU check.", file=sys.stderr)
        return 2
    else:
        device, dtype, matmul_size = torch.device("cuda"), torch.float16, 8192
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    notes = [
        f"\n{time.strftime('%Y-%m-%d')}, {gpu}; torch {torch.__version__}, diffusers "
        f"{diffusers.__version__}, transformers {transformers.__version__}; "
        f"{'tiny random models' if s.dry_run else 'SVD-XT-size random weights'}, {s.frames} frames "
        f"{s.width}x{s.height}, {str(dtype).replace('torch.', '')}, {s.steps} steps, guidance 1->3, "
        f"decode chunk {s.decode_chunk}, {s.reps} timed run(s) per path after a warm-up."
    ]
    if inert:
        notes.append(
            f"Not installed, replaced by inert stand-ins for diffusers' imports: {', '.join(inert)}."
        )
    budget = Budget(s.budget_s - (time.perf_counter() - started))
    rate = matmul_rate(device, dtype, matmul_size)
    model = build_model(pack, device, dtype, tiny=s.dry_run, seed=s.seed)
    pipe = build_pipeline(model)
    image = start_image(s.width, s.height)
    kinds = {
        name: sorted(pack.speed.attention_kinds(getattr(model, name)))
        for name in ("unet", "vae", "image_encoder")
    }
    temporal = sorted({type(p).__name__ for n, p in model.unet.attn_processors.items() if "temporal" in n})
    notes.append(
        f"Attention: UNet {kinds['unet']} (temporal blocks {temporal}), VAE {kinds['vae']}, "
        f"CLIP {kinds['image_encoder']}."
    )
    flops = count_flops(pack, model, image, s, s.steps)
    rows, reference = [], None
    for name in s.configs:
        found, frames = measure_config(pack, model, pipe, image, s, name, budget, reference)
        if found is not None:
            rows += found
            reference = frames if reference is None else reference
    if device.type == "cuda" and rows:
        weights = sum(
            t.numel() * t.element_size()
            for m in (model.unet, model.vae, model.image_encoder)
            for t in m.state_dict().values()
        )
        ours = next(r for r in rows if r["arm"] == "ours")
        estimate = {
            "sampling": pack.memory.sampling_working_bytes(dtype, 2, s.frames, s.height // 8, s.width // 8),
            "decode": pack.memory.decode_working_bytes(
                dtype, min(s.decode_chunk, s.frames), s.height, s.width
            ),
        }
        for stage, bytes_ in estimate.items():
            measured = ours["stage_peaks_gib"].get(stage, 0.0) - weights / GIB
            notes.append(
                f"{stage}: working memory estimated (memory.py) {bytes_ / GIB:.2f} GiB, measured peak "
                f"above the {weights / GIB:.2f} GiB of weights {measured:.2f} GiB."
            )
    if s.steps != 25:
        notes.append(f"Fewer steps than SVD's default 25: {s.steps}.")
    if budget.skipped:
        notes.append(f"Skipped to stay within {s.budget_s:.0f} s: {'; '.join(budget.skipped)}.")
    notes.append(f"Whole run: {time.perf_counter() - started:.0f} s.")
    print_report(rows, flops, rate, s, notes)
    print(
        "RESULT "
        + json.dumps({"rows": rows, "flops": flops, "rate": rate, "skipped": budget.skipped, "inert": inert})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
