"""Benchmark SVDSuite_Interpolate at SVD's size (1024×576): speed and streamed memory.

Prints ratios against references measured in the same run, never absolute targets:
- time per in-between frame vs. one DIS flow estimate (DIS alone was the whole motion estimate
  before the candidate search; each pair needs two) and vs. a plain cross-fade (the cheapest
  possible in-between);
- peak NumPy/OpenCV working memory (tracemalloc) for a short and a 3× longer clip, in units of
  one float32 frame: streaming means it stays flat as the clip grows.

Run: V=$(bash scripts/env.sh); $V/bin/python bench/bench_interpolate.py [--frames 5] [--size 1024x576]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def textured_clip(frames: int, width: int, height: int, shift: int = 6):
    """Smooth random texture panning `shift` px per frame (realistic flow, reproducible)."""
    import cv2
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    big = rng.random((height + 8, width + shift * frames + 8, 3)).astype(np.float32)
    big = cv2.GaussianBlur(big, (0, 0), 3)
    big = (big - big.min()) / (big.max() - big.min())
    clip = np.stack([big[4 : 4 + height, 4 + i * shift : 4 + i * shift + width] for i in range(frames)])
    return torch.from_numpy(np.ascontiguousarray(clip))


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--size", default="1024x576")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    import cv2

    from dev.pack import load_pack

    load_pack()
    from svd_suite.nodes.extend import flow, interpolate

    clip = textured_clip(args.frames, width, height)
    pairs = args.frames - 1
    grey = [flow.PreparedFrame.from_tensor(clip[i]).grey for i in range(2)]
    flow_time = best_of(args.repeats, lambda: flow.dis_flow(grey[0], grey[1]))
    a, b = clip[0].numpy(), clip[1].numpy()
    fade_time = best_of(args.repeats, lambda: cv2.addWeighted(a, 0.5, b, 0.5, 0.0))

    print(f"clip {args.frames} frames {width}x{height}; cv2 threads {cv2.getNumThreads()}")
    print(f"reference: one DIS flow {flow_time * 1000:.1f} ms, one cross-fade {fade_time * 1000:.2f} ms")
    print("| multiplier | new frames | total s | ms / new frame | ÷ one flow | ÷ cross-fade |")
    print("|---|---|---|---|---|---|")
    for k in (2, 4):
        new_frames = pairs * (k - 1)
        seconds = best_of(args.repeats, lambda k=k: interpolate.interpolate_frames(clip, 7.0, k))
        per_frame = seconds / new_frames
        print(
            f"| {k} | {new_frames} | {seconds:.2f} | {per_frame * 1000:.1f} | "
            f"{per_frame / flow_time:.1f} | {per_frame / fade_time:.0f} |"
        )

    frame_bytes = width * height * 3 * 4
    print()
    print("| clip frames | peak NumPy/OpenCV working memory (frames of float32 RGB) |")
    print("|---|---|")
    peaks = []
    for frames in (args.frames, 3 * args.frames):
        longer = textured_clip(frames, width, height)
        tracemalloc.start()
        interpolate.interpolate_frames(longer, 7.0, 2)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append(peak)
        print(f"| {frames} | {peak / frame_bytes:.1f} |")
    print(
        f"\nworking-memory ratio, {3 * args.frames} vs {args.frames} frames: {peaks[1] / peaks[0]:.2f} (1.0 = streamed)"
    )


if __name__ == "__main__":
    main()
