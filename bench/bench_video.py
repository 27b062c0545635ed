"""Benchmark Save Video (SVD Suite) against ComfyUI core and diffusers' export_to_video.

Same 25 smooth frames of 1024×576 (SVD-XT's output), mp4:
1. Through one warm, real ComfyUI server: our SVDSuite_SaveVideo vs core CreateVideo → SaveVideo,
   run alternately; per-prompt wall time (queue → execution_success) and the server process's
   peak RSS growth during the prompt (psutil, sampled every ~2 ms). The frames come from one
   shared, cached loader node, so only the saving is measured.
2. In-process, each run in a fresh subprocess (so freed memory of one run cannot hide the
   next one's): save_video vs diffusers.utils.export_to_video (whatever backend is installed),
   time and peak RSS growth.
3. Colour: a chart through both servers' savers, decoded with the BT.709 limited-range matrix
   (what an HD player uses, and what our file is tagged with); mean error on saturated patches.

Prints ratios against core measured in the same run; no absolute targets.
Run: V=$(bash scripts/env.sh); $V/bin/python bench/bench_video.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MiB = 1 << 20
SATURATED = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1),
             "cyan": (0, 1, 1), "magenta": (1, 0, 1), "yellow": (1, 1, 0)}  # fmt: skip


def smooth_frames(frames: int = 25, width: int = 1024, height: int = 576):
    """Slowly drifting gradients: like SVD output, easy on the encoder, no noise."""
    import torch

    x = torch.linspace(0, 1, width)[None, None, :, None].expand(frames, height, width, 1)
    y = torch.linspace(0, 1, height)[None, :, None, None].expand(frames, height, width, 1)
    t = torch.linspace(0, 0.3, frames)[:, None, None, None].expand(frames, height, width, 1)
    r = 0.5 + 0.4 * torch.sin(6.28 * (x + t))
    g = 0.5 + 0.4 * torch.cos(6.28 * (y - t))
    b = 0.5 + 0.4 * torch.sin(6.28 * (x * y + t))
    return torch.cat([r, g, b], dim=-1).contiguous()


class PeakRss:
    """Sample a process's RSS in a thread; `extra` = peak − value at start."""

    def __init__(self, pid: int):
        import psutil

        self.process = psutil.Process(pid)

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.extra = self.peak - self.start


# --------------------------------------------------------------------------- 1. server


def server_prompts(source: str, prefix: str, variant: str) -> dict:
    load = {"class_type": "SVDSuite_LoadVideo",
            "inputs": {"video": source, "frame_cap": 0, "skip_first": 0, "every_nth": 1}}  # fmt: skip
    if variant == "core":
        return {
            "1": load,
            "3": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 7.0}},
            "4": {"class_type": "SaveVideo",
                  "inputs": {"video": ["3", 0], "filename_prefix": prefix, "format": "auto", "codec": "auto"}},
        }  # fmt: skip
    crf = int(variant.split("crf")[1])
    return {
        "1": load,
        "2": {"class_type": "SVDSuite_SaveVideo",
              "inputs": {"images": ["1", 0], "fps": 7.0, "format": "mp4-h264", "crf": crf, "pix_fmt": "yuv420p",
                         "loop_count": 0, "pingpong": False, "filename_prefix": prefix, "save_metadata": True}},
    }  # fmt: skip


def timed_run(server, prompt):
    from dev.run_workflow import TERMINAL, output_files, run_workflow

    done = {}

    def on_event(event):
        if event.get("type") in TERMINAL:
            done.setdefault("t", time.perf_counter())

    with PeakRss(server.process.pid) as rss:
        start = time.perf_counter()
        result = run_workflow(server.url, prompt, timeout=300, on_event=on_event)
    if result.status != "execution_success":
        raise RuntimeError(f"prompt failed: {result.error}")
    [path] = output_files(result, server.output_dir)
    return done["t"] - start, rss.extra, path


def chart_png(path: Path) -> None:
    import numpy as np
    from PIL import Image

    patch = 64
    image = np.zeros((patch * 2, patch * len(SATURATED), 3), dtype=np.uint8)
    for index, colour in enumerate(SATURATED.values()):
        image[:, index * patch : (index + 1) * patch] = np.array(colour) * 255
    Image.fromarray(image).save(path)


COLORSPACE_NAMES = {1: "bt709", 2: "unspecified", 5: "bt470bg (601)", 6: "smpte170m (601)"}


def colour_errors(path: Path) -> dict[str, float]:
    """Per-patch mean error (8-bit levels) of the first frame decoded as BT.709 limited range."""
    import av
    import numpy as np
    from svd_suite.nodes.video.colour import yuv_to_rgb

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        tags = COLORSPACE_NAMES.get(int(frame.colorspace), str(int(frame.colorspace)))
        y, u, v = (
            np.frombuffer(bytes(p), np.uint8).reshape(p.height, p.line_size)[:, : p.width]
            for p in frame.planes
        )
    u, v = (c.repeat(2, 0).repeat(2, 1)[: y.shape[0], : y.shape[1]] for c in (u, v))
    rgb = yuv_to_rgb(y, u, v)
    patch = 64
    errors = {"tags": tags}
    for index, (name, colour) in enumerate(SATURATED.items()):
        inner = rgb[16 : 2 * patch - 16, index * patch + 16 : (index + 1) * patch - 16]
        errors[name] = float(np.abs(inner - np.array(colour) * 255).mean())
    return errors


def bench_server(repeats: int) -> None:
    from svd_suite.nodes.video.save import save_video

    from dev.comfyui import prepare_base, start_comfyui

    base = prepare_base(Path(tempfile.mkdtemp(prefix="bench_video_")))
    server = start_comfyui(base)
    try:
        source = save_video(smooth_frames(), 7, pix_fmt="yuv444p", crf=0, filename_prefix="bench_source",
                            output_dir=str(server.input_dir)).filename  # fmt: skip
        variants = ["core", "ours-crf19", "ours-crf23"]
        times = {v: [] for v in variants}
        extras = {v: [] for v in variants}
        sizes = {}
        for variant in variants:  # warm-up: first decode, codec init, imports
            timed_run(server, server_prompts(source, f"warm/{uuid.uuid4().hex[:8]}", variant))
        for _ in range(repeats):
            for variant in variants:
                seconds, extra, path = timed_run(
                    server, server_prompts(source, f"b/{uuid.uuid4().hex[:8]}", variant)
                )
                times[variant].append(seconds)
                extras[variant].append(extra)
                sizes[variant] = path.stat().st_size
        core_time = statistics.median(times["core"])
        print(
            f"\n## 1. Warm ComfyUI server, 25 frames 1024x576 -> mp4 (h264), {repeats} alternating runs each\n"
        )
        print(
            "| saver | median s | time / core | median peak extra RSS MiB | max peak extra MiB | file KiB |"
        )
        print("|---|---|---|---|---|---|")
        labels = {"core": "core CreateVideo -> SaveVideo (crf 23 default)", "ours-crf19": "SVDSuite_SaveVideo crf 19 (default)",
                  "ours-crf23": "SVDSuite_SaveVideo crf 23 (core's quality)"}  # fmt: skip
        for variant in variants:
            med = statistics.median(times[variant])
            print(f"| {labels[variant]} | {med:.3f} | {med / core_time:.2f} | "
                  f"{statistics.median(extras[variant]) / MiB:.1f} | {max(extras[variant]) / MiB:.1f} | "
                  f"{sizes[variant] / 1024:.0f} |")  # fmt: skip

        chart_png(server.input_dir / "bench_chart.png")
        load = {"class_type": "LoadImage", "inputs": {"image": "bench_chart.png"}}
        print("\n## 3. Colour: saturated chart saved by each, decoded as BT.709 limited range\n")
        print("| saver | stream colorspace tag | " + " | ".join(SATURATED) + " | mean |")
        print("|---|---|" + "---|" * (len(SATURATED) + 1))
        for variant in ("core", "ours-crf19"):
            prompt = server_prompts("unused", f"chart/{uuid.uuid4().hex[:8]}", variant)
            prompt["1"] = load
            _, _, path = timed_run(server, prompt)
            errors = colour_errors(path)
            values = [errors[n] for n in SATURATED]
            print(f"| {labels[variant]} | {errors['tags']} | " + " | ".join(f"{v:.1f}" for v in values)
                  + f" | {statistics.mean(values):.1f} |")  # fmt: skip
    finally:
        server.stop()


# --------------------------------------------------------------------------- 2. in-process


def core_like_save(images, path: str, fps: int = 7) -> None:
    """What ComfyUI core's VIDEO save does, restated: uint8 RGB per frame, swscale's default
    (BT.601) conversion to yuv420p, libx264 defaults, no colour tags."""
    import av

    with av.open(path, mode="w", options={"movflags": "use_metadata_tags"}) as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = images.shape[2], images.shape[1], "yuv420p"
        for image in images:
            rgb = (image * 255).clamp(0, 255).byte().numpy()
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def worker(variant: str, out_dir: str) -> None:
    """One measured call in this fresh process; prints JSON {seconds, extra}."""
    from dev.pack import load_pack

    load_pack()
    from diffusers.utils import export_to_video
    from svd_suite.nodes.video.save import save_video

    frames = smooth_frames().numpy()  # SVD's output_type="np" shape [N, H, W, 3] float32
    small = frames[:2, :64, :64].copy()
    if variant == "core-like":
        import torch

        call = lambda: core_like_save(torch.from_numpy(frames), os.path.join(out_dir, "core.mp4"))  # noqa: E731
        core_like_save(torch.from_numpy(small), os.path.join(out_dir, "warm.mp4"))
    elif variant == "export_to_video":
        export_to_video(list(small), os.path.join(out_dir, "warm.mp4"), fps=7)
        call = lambda: export_to_video(list(frames), os.path.join(out_dir, "x.mp4"), fps=7)  # noqa: E731
    else:
        import torch

        crf = int(variant.split("crf")[1])
        save_video(torch.from_numpy(small), 7, output_dir=out_dir, filename_prefix="warm")
        call = lambda: save_video(torch.from_numpy(frames), 7, crf=crf, output_dir=out_dir)  # noqa: E731
    with PeakRss(os.getpid()) as rss:
        start = time.perf_counter()
        call()
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "extra": rss.extra}))


def bench_in_process(repeats: int) -> None:
    variants = ["export_to_video", "core-like", "ours-crf19", "ours-crf23"]
    results = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(repeats):
            for variant in variants:
                done = subprocess.run([sys.executable, __file__, "--worker", variant, out_dir], capture_output=True,
                                      text=True, timeout=300, check=True)  # fmt: skip
                results[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
    reference = statistics.median(r["seconds"] for r in results["export_to_video"])
    core = statistics.median(r["seconds"] for r in results["core-like"])
    print(f"\n## 2. In-process (fresh subprocess per run, first call at this size), 25 frames 1024x576 -> mp4, "
          f"{repeats} runs each\n")  # fmt: skip
    print("| writer | median s | time / export_to_video | time / core-like | median peak extra RSS MiB |")
    print("|---|---|---|---|---|")
    backend = "imageio-ffmpeg, libx264" if importlib.util.find_spec("imageio_ffmpeg") else "OpenCV mp4v, no imageio"
    labels = {"export_to_video": f"diffusers export_to_video (installed backend: {backend})",
              "core-like": "core's PyAV path restated (libx264 defaults, crf 23)",
              "ours-crf19": "save_video crf 19", "ours-crf23": "save_video crf 23"}  # fmt: skip
    for variant in variants:
        med = statistics.median(r["seconds"] for r in results[variant])
        extra = statistics.median(r["extra"] for r in results[variant]) / MiB
        print(f"| {labels[variant]} | {med:.3f} | {med / reference:.2f} | {med / core:.2f} | {extra:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", nargs=2, metavar=("VARIANT", "OUT_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    from dev.pack import load_pack

    load_pack()
    if not args.skip_server:
        bench_server(args.repeats)
    bench_in_process(args.repeats)


if __name__ == "__main__":
    main()
