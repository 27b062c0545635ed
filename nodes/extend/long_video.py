"""Long videos by chaining SVD segments, each one starting from the previous one's last frame.

SVD makes 14–25 frames from one image. To go further, segment k+1 is conditioned on the last
decoded frame of segment k and sampled with seed + k (a fresh but reproducible noise draw, so
segments do not repeat each other's motion). The segments are then joined:

- overlap o = 0: segments are appended whole. Segment k+1's first frame is SVD's re-generation
  of its init frame, i.e. a near-duplicate of segment k's last frame (a brief hold at each join).
- overlap o > 0: the last o frames of segment k and the first o frames of segment k+1 are
  cross-faded with linear weights (i+1)/(o+1) towards the new segment. With o = 1 this blends
  the shared join frame with its re-generation, which hides the small colour/detail jump SVD's
  re-encoding of the init frame introduces. Larger o trades that jump for a softer, slightly
  smeared transition.

Either way the result has N·(F − o) + o frames, assembled into one preallocated tensor.
Drift is inherent: every join passes through one VAE decode/encode, so colours and detail
slowly wander over many segments; lower cond_aug and motion_bucket_id keep it smaller.
"""

from __future__ import annotations

import math
from typing import Any

from ..comfy import Progress, throw_if_interrupted
from .preview import frame_preview

SEGMENTS_RANGE = (1, 50)
OVERLAP_RANGE = (0, 8)
SEED_MODULUS = 2**64


def _whole_number(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name}: {value!r} is not allowed; use a whole number from {lo} to {hi}")
    return value


def frames_per_segment(model: Any, num_frames: int) -> int:
    """num_frames, or the model's own default (14 for SVD, 25 for SVD-XT) when it is 0."""
    if num_frames:
        return int(num_frames)
    default = getattr(model, "num_frames", None)
    if not default:
        raise ValueError("num_frames: 0 means the model default, but this model does not declare one; set it")
    return int(default)


def long_video_frame_count(segments: int, frames: int, overlap: int) -> int:
    """N·(F − o) + o: each join shares o frames."""
    return segments * (frames - overlap) + overlap


def validate_long_video(model: Any, segments: int, overlap: int, num_frames: int) -> int:
    """Check the chaining inputs before any work; returns the frames per segment."""
    _whole_number("segments", segments, *SEGMENTS_RANGE)
    _whole_number("overlap", overlap, *OVERLAP_RANGE)
    _whole_number("num_frames", num_frames, 0, 128)
    frames = frames_per_segment(model, num_frames)
    if overlap >= frames:
        raise ValueError(
            f"overlap: {overlap} is not allowed with {frames} frames per segment (num_frames); "
            f"overlap must be less than the frames per segment, so use 0 to {frames - 1} or raise num_frames"
        )
    return frames


def _validate_sampling(
    seed: int, steps: int, min_guidance_scale: float, max_guidance_scale: float, decode_chunk_size: int
) -> None:
    """The sampler's and decoder's own checks, run up front so segment 0 is not wasted work."""
    from ..svd.sampling import check_sampling_params
    from ..svd.validation import check_int

    check_sampling_params(seed, steps, min_guidance_scale, max_guidance_scale)
    check_int("decode_chunk_size", decode_chunk_size, 1, 128)


def segment_seed(seed: int, segment: int) -> int:
    """Segment k samples with seed + k (wrapping at 2^64, ComfyUI's seed range)."""
    return (int(seed) + segment) % SEED_MODULUS


def segment_progress_span(model: Any, frames: int, steps: int, decode_chunk_size: int) -> int:
    """Progress units per segment: one per sampling step plus one per decoded chunk.

    A model loaded with a decode_chunk_size hint never decodes larger chunks than the hint.
    """
    chunk = int(decode_chunk_size) or frames
    cap = int(getattr(model, "decode_chunk_size", 0) or 0)
    if cap:
        chunk = min(chunk, cap)
    return int(steps) + math.ceil(frames / chunk)


class _StageProgress:
    """Maps one stage's own 0..span progress onto the whole job's bar, starting at `base`."""

    def __init__(self, progress: Any, base: int, span: int):
        self.progress, self.base, self.span = progress, base, span

    def update(self, value: int, preview: Any = None, **_: Any) -> None:
        self.progress.update(self.base + max(0, min(int(value), self.span)), preview=preview)


def _svd_api():
    """The local SVD package, looked up per call.

    Imported here rather than at module top so this concern still registers its nodes when the
    svd concern fails to load, and so tests can stand in for the SVD functions.
    """
    from .. import svd

    return svd


def extend_video(
    model: Any,
    image,
    segments: int = 3,
    overlap: int = 1,
    width: int = 1024,
    height: int = 576,
    resize: str = "crop",
    num_frames: int = 0,
    fps: int = 7,
    motion_bucket_id: int = 127,
    cond_aug: float = 0.02,
    seed: int = 0,
    steps: int = 25,
    min_guidance_scale: float = 1.0,
    max_guidance_scale: float = 3.0,
    decode_chunk_size: int = 8,
    progress: Any = None,
):
    """Generate `segments` chained SVD clips from `image`; returns (frames [N·(F−o)+o, H, W, 3], fps).

    The first frame of `image` (an IMAGE batch) starts segment 0. `progress` (optional, with
    `.update(value, preview=None)`) runs once across the whole job: segments × (steps + decode
    chunks). The interrupt flag is checked between segments; the sampler checks it every step.
    """
    import torch

    frames = validate_long_video(model, segments, overlap, num_frames)
    _validate_sampling(seed, steps, min_guidance_scale, max_guidance_scale, decode_chunk_size)
    svd = _svd_api()
    per_segment = segment_progress_span(model, frames, steps, decode_chunk_size)
    decode_span = per_segment - int(steps)
    if progress is None:
        progress = Progress(segments * per_segment)

    out = None
    out_fps = float(fps)
    init = image[:1, ..., :3]
    for segment in range(segments):
        throw_if_interrupted()
        base = segment * per_segment
        cond = svd.prepare_conditioning(
            model,
            init,
            width,
            height,
            resize=resize,
            num_frames=frames,
            fps=fps,
            motion_bucket_id=motion_bucket_id,
            cond_aug=cond_aug,
        )
        latent = svd.sample_latents(
            model,
            cond,
            segment_seed(seed, segment),
            steps=steps,
            min_guidance_scale=min_guidance_scale,
            max_guidance_scale=max_guidance_scale,
            progress=_StageProgress(progress, base, int(steps)),
        )
        decoded, out_fps = svd.decode_latents(
            model,
            latent,
            decode_chunk_size=decode_chunk_size,
            progress=_StageProgress(progress, base + int(steps), decode_span),
        )
        del latent, cond
        if decoded.shape[0] != frames:
            raise RuntimeError(f"segment {segment} decoded {decoded.shape[0]} frames, expected {frames}")
        if out is None:
            total = long_video_frame_count(segments, frames, overlap)
            out = torch.empty((total,) + tuple(decoded.shape[1:]), dtype=torch.float32)
        _place_segment(out, decoded, segment * (frames - overlap), overlap if segment else 0)
        # The raw last frame (not the blended one) seeds the next segment: it is what SVD made.
        init = decoded[-1:].detach().to("cpu", torch.float32).clone()
        progress.update(base + per_segment, preview=frame_preview(decoded[-1]))
        del decoded
    return out, float(out_fps)


def _place_segment(out, segment_frames, start: int, blend: int) -> None:
    """Write a segment at `start`, cross-fading its first `blend` frames into what is there."""
    frames = segment_frames.to("cpu", dtype=out.dtype)
    for i in range(blend):
        weight = (i + 1) / (blend + 1)
        out[start + i].mul_(1.0 - weight).add_(frames[i], alpha=weight)
    out[start + blend : start + frames.shape[0]] = frames[blend:]
