"""Optical-flow in-betweens put a moving object where linear motion puts it, also over texture.

The scene (support/interp_scenes.py, disc_scene): a disc of radius 9 px moving over a static
background, 160×128, textured or flat, with the disc's coverage in the blue channel.

Where is the disc in a frame: the centroid of its coverage AND the centroid of the pixels it
covers more than half. The first alone would accept a cross-fade (two half discs average to the
right place); the second sees which copy dominates. Both are compared with the same
measurements on the disc drawn at its linear position.

A sample of the cases also runs on the torch path (what CUDA devices use, here on the CPU):
the whole matrix there would multiply this file's run time.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from support.interp_scenes import DISC_HEIGHT, DISC_START, DISC_WIDTH, disc_scene

from dev.pack import load_pack

load_pack()
from svd_suite.nodes.extend.interpolate import interpolate_frames  # noqa: E402


def disc_position(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(coverage centroid, centroid of the >50%-covered pixels, their count)."""
    cover = frame[..., 2]
    ys, xs = np.mgrid[0:DISC_HEIGHT, 0:DISC_WIDTH]
    solid = cover > 0.5
    weighted = np.array([(cover * xs).sum(), (cover * ys).sum()]) / cover.sum()
    return weighted, np.array([xs[solid].mean(), ys[solid].mean()]), int(solid.sum())


def in_betweens(interpolate, background: str, disc: str, motion: tuple[int, int], multiplier: int):
    """Yield (t, interpolated frame, frame drawn at the linear position, static background),
    the frames made by `interpolate` (interpolate_frames on one path)."""
    (x0, y0), (dx, dy) = DISC_START, motion
    first, _ = disc_scene(x0, y0, background, disc)
    last, _ = disc_scene(x0 + dx, y0 + dy, background, disc)
    out, _ = interpolate(torch.from_numpy(np.stack([first, last])), 7.0, multiplier)
    for step in range(1, multiplier):
        t = step / multiplier
        truth, back = disc_scene(x0 + t * dx, y0 + t * dy, background, disc)
        yield t, out[step].numpy(), truth, back


def position_error(frame: np.ndarray, truth: np.ndarray) -> float:
    weighted, solid, _ = disc_position(frame)
    true_weighted, true_solid, _ = disc_position(truth)
    return float(max(np.hypot(*(weighted - true_weighted)), np.hypot(*(solid - true_solid))))


def area_ratio(frame: np.ndarray, truth: np.ndarray) -> float:
    return disc_position(frame)[2] / disc_position(truth)[2]


def background_drift(frame: np.ndarray, truth: np.ndarray, back: np.ndarray) -> tuple[float, float]:
    """(mean |error|, share of pixels off by > 0.1) of the picture channels, away from the disc."""
    away = cv2.dilate((truth[..., 2] > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    error = np.abs(frame - back)[..., :2].max(axis=-1)[away]
    return float(error.mean()), float((error > 0.1).mean())


# Speeds up to 9 px/frame per axis must land within 1 px, up to 12 px/frame within 1.5 px.
MOTIONS_UP_TO_9 = [(9, 9), (-9, 6), (4, -4), (0, -9), (-6, -9), (2, 1)]
MOTIONS_UP_TO_12 = [(12, -12), (-12, 0)]


def motion_id(value):
    """Test ids that show the motion, e.g. [opencv-9,9-3], instead of its index."""
    return "{},{}".format(*value) if isinstance(value, tuple) else None


@pytest.mark.parametrize(
    "path,motion,multiplier",
    [("opencv", motion, k) for motion in MOTIONS_UP_TO_9 + MOTIONS_UP_TO_12 for k in (2, 3, 4)]
    + [("torch", motion, 3) for motion in [(9, 9), (-6, -9), (12, -12)]],
    ids=motion_id,
)
def test_textured_disc_over_texture_lands_at_its_linear_position(interpolate, motion, multiplier):
    limit = 1.0 if max(map(abs, motion)) <= 9 else 1.5
    for t, frame, truth, back in in_betweens(interpolate, "textured", "textured", motion, multiplier):
        error = position_error(frame, truth)
        assert error <= limit, f"t={t:.3f}: disc {error:.2f} px from its linear position (limit {limit})"
        assert 0.85 <= area_ratio(frame, truth) <= 1.15, f"t={t:.3f}: disc not in one piece"
        mean_drift, moved_share = background_drift(frame, truth, back)
        assert mean_drift < 0.002 and moved_share < 0.005, f"t={t:.3f}: background moved"


@pytest.mark.parametrize("multiplier", [2, 3, 4])
@pytest.mark.parametrize("motion", [(9, 9), (-6, 4), (12, -12)], ids=motion_id)
def test_plain_disc_over_texture_lands_at_its_linear_position(motion, multiplier):
    limit = 1.0 if max(map(abs, motion)) <= 9 else 1.5
    for t, frame, truth, back in in_betweens(interpolate_frames, "textured", "plain", motion, multiplier):
        error = position_error(frame, truth)
        assert error <= limit, f"t={t:.3f}: disc {error:.2f} px from its linear position (limit {limit})"
        mean_drift, moved_share = background_drift(frame, truth, back)
        assert mean_drift < 0.002 and moved_share < 0.005, f"t={t:.3f}: background moved"


@pytest.mark.parametrize(
    "path,disc,motion,multiplier",
    [
        ("opencv", disc, motion, k)
        for disc in ("textured", "plain")
        for motion in [(9, 9), (-12, 0), (3, -7)]
        for k in (2, 3, 4)
    ]
    + [("torch", "plain", (9, 9), 4)],
    ids=motion_id,
)
def test_disc_over_a_flat_background_stays_in_place(interpolate, disc, motion, multiplier):
    # Measured 0.12 px at most, before and after the textured-scene work: the >50% mask of a
    # resampled antialiased edge, not motion (the coverage centroid is within 0.005 px).
    for t, frame, truth, back in in_betweens(interpolate, "flat", disc, motion, multiplier):
        error = position_error(frame, truth)
        assert error <= 0.15, f"t={t:.3f}: disc {error:.3f} px off on a flat background"
        # Where the disc's coverage is, it sits exactly (the "0 px" of the flat case).
        exact = float(np.hypot(*(disc_position(frame)[0] - disc_position(truth)[0])))
        assert exact <= 0.01, f"t={t:.3f}: disc coverage {exact:.4f} px off on a flat background"
        mean_drift, moved_share = background_drift(frame, truth, back)
        assert mean_drift < 1e-3 and moved_share == 0.0


def test_in_between_is_not_a_cross_fade_of_the_neighbours():
    # The failure this guards against: on texture the old flow missed the disc's motion, and the
    # in-between showed the nearer original disc with a faint copy of the other one.
    (x0, y0), (dx, dy) = DISC_START, (9, 9)
    for t, frame, truth, _ in in_betweens(interpolate_frames, "textured", "textured", (dx, dy), 3):
        nearer = disc_scene(x0 + round(t) * dx, y0 + round(t) * dy, "textured", "textured")[0]
        assert position_error(frame, truth) < position_error(nearer, truth) / 3
