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

from typing import Any

from ..comfy import Progress, throw_if_interrupted
from ..svd.params import SPECS, Spec, SVDParams
from .preview import frame_preview

# The chaining inputs, declared like the SVD parameters (the node renders its widgets from them).
SEGMENTS = Spec(
    "INT", 3, 1, 50, tooltip="How many SVD clips to chain; each starts from the previous clip's last frame."
)
OVERLAP = Spec(
    "INT", 1, 0, 8,
    tooltip="Frames shared by neighbouring clips, cross-faded at each join "
    "(1 blends the join frame with its re-generation; 0 appends whole clips). "
    "Must be less than the frames per clip.",
)  # fmt: skip
SEED_MODULUS = 2**64


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
    SEGMENTS.check("segments", segments)
    OVERLAP.check("overlap", overlap)
    SPECS["num_frames"].check("num_frames", num_frames)
    frames = frames_per_segment(model, num_frames)
    if overlap >= frames:
        raise ValueError(
            f"overlap: {overlap} is not allowed with {frames} frames per segment (num_frames); "
            f"overlap must be less than the frames per segment, so use 0 to {frames - 1} or raise num_frames"
        )
    return frames


def segment_seed(seed: int, segment: int) -> int:
    """Segment k samples with seed + k (wrapping at 2^64, ComfyUI's seed range)."""
    return (int(seed) + segment) % SEED_MODULUS


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
    params: SVDParams | None = None,
    progress: Any = None,
    node_id: str | None = None,
    **values: Any,
):
    """Generate `segments` chained SVD clips from `image`; returns (frames [N·(F−o)+o, H, W, 3], fps).

    Each clip is one `image_to_video` call with `params` (keyword `values` override single
    parameters), its seed + k and the resolved frame count. The first frame of `image` (an
    IMAGE batch) starts segment 0. `progress` (optional, with `.update(value, preview=None)`;
    by default ComfyUI's bar for `node_id`) runs once across the whole job. The interrupt flag
    is checked between segments; the sampler checks it every step.
    """
    import torch

    params = (params or SVDParams()).but(**values)
    frames = validate_long_video(model, segments, overlap, params.num_frames)
    params = params.but(num_frames=frames).check()
    svd = _svd_api()
    per_segment = svd.total_progress_steps(model, params)
    if progress is None:
        progress = Progress(segments * per_segment, node_id=node_id)

    out = None
    out_fps = float(params.fps)
    init = image[:1, ..., :3]
    for segment in range(segments):
        throw_if_interrupted()
        base = segment * per_segment
        decoded, out_fps = svd.image_to_video(
            model,
            init,
            params.but(seed=segment_seed(params.seed, segment)),
            progress=svd.OffsetProgress(progress, base),
        )
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
