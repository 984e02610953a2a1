"""Gaussian-process smoothing of tracks against a slow per-coordinate reference and hand cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assoc import (
    SequenceTracks,
    gsi_length_scale,
    interpolate_tracks,
    postprocess_tracks,
    smooth_tracks,
)


def _seq(frames: list[int], ids: list[int], boxes: np.ndarray) -> SequenceTracks:
    n = len(frames)
    return SequenceTracks(np.array(frames), np.array(ids), boxes, np.linspace(0.1, 0.9, n))


def _slow_smooth(t: SequenceTracks, scale_of: object, noise: float) -> np.ndarray:
    """Obvious reference: per track and per coordinate of (cx, cy, w, h), fit the line with
    np.polyfit, build the RBF Gram matrix element by element and take the GP posterior mean
    K (K + noise I)^-1 (y - line) + line with an explicit inverse."""
    out = t.boxes_xyxy.copy()
    for tid in sorted(set(t.ids.tolist())):
        rows = [k for k in range(len(t)) if t.ids[k] == tid]
        if len(rows) < 3:
            continue
        times = [float(t.frames[k]) for k in rows]
        scale = scale_of(len(rows))  # type: ignore[operator]
        n = len(rows)
        gram = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                gram[i, j] = math.exp(-((times[i] - times[j]) ** 2) / (2 * scale**2))
        weights = gram @ np.linalg.inv(gram + noise * np.eye(n))
        coords = []
        for c in range(4):
            b = t.boxes_xyxy[rows]
            y = [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0]]
            y.append(b[:, 3] - b[:, 1])
            slope, intercept = np.polyfit(times, y[c], 1)
            line = intercept + slope * np.array(times)
            coords.append(line + weights @ (y[c] - line))
        cx, cy, w, h = coords
        w, h = np.maximum(w, 0), np.maximum(h, 0)
        out[rows] = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return out


@st.composite
def _tracks(draw: st.DrawFn) -> SequenceTracks:
    rows: list[tuple[int, int, list[float]]] = []
    for tid in range(draw(st.integers(0, 4))):
        frames = draw(st.sets(st.integers(0, 40), max_size=15))
        for f in frames:
            x = draw(st.floats(-50, 500, allow_nan=False, width=32))
            y = draw(st.floats(-50, 500, allow_nan=False, width=32))
            w = draw(st.floats(1, 100, allow_nan=False, width=32))
            h = draw(st.floats(1, 200, allow_nan=False, width=32))
            rows.append((f, 3 * tid + 1, [x, y, x + w, y + h]))
    order = draw(st.permutations(range(len(rows))))
    rows = [rows[i] for i in order]
    if not rows:
        return SequenceTracks.empty()
    return _seq([r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows]))


@settings(deadline=None, max_examples=60)
@given(_tracks(), st.sampled_from([5.0, 10.0, 20.0]), st.sampled_from([1e-4, 1e-2, 1.0]))
def test_tau0_matches_slow_reference(t: SequenceTracks, tau0: float, noise: float) -> None:
    got = smooth_tracks(t, tau0=tau0, noise=noise)
    want = _slow_smooth(t, lambda n: float(gsi_length_scale(tau0, n)), noise)
    np.testing.assert_allclose(got.boxes_xyxy, want, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(got.frames, t.frames)
    np.testing.assert_array_equal(got.ids, t.ids)
    np.testing.assert_array_equal(got.scores, t.scores)


@settings(deadline=None, max_examples=40)
@given(_tracks(), st.floats(0.3, 50))
def test_fixed_length_scale_matches_slow_reference(t: SequenceTracks, scale: float) -> None:
    got = smooth_tracks(t, length_scale=scale, noise=1e-2)
    np.testing.assert_allclose(
        got.boxes_xyxy, _slow_smooth(t, lambda n: scale, 1e-2), rtol=1e-6, atol=1e-5
    )


def test_length_scale_formula_and_clipping() -> None:
    assert float(gsi_length_scale(10, 71)) == pytest.approx(10 * math.log(1000 / 71))
    want = [10 * math.log(1000), 10 * math.log(10), 0.5]
    np.testing.assert_allclose(gsi_length_scale(10.0, np.array([1, 100, 5000])), want)
    assert float(gsi_length_scale(2.0, 1)) == 4.0  # 2 ln 8 = 4.16, clipped to tau0**2
    with pytest.raises(ValueError, match="length must be >= 1"):
        gsi_length_scale(10, 0)
    with pytest.raises(ValueError, match="tau0 must be a positive"):
        gsi_length_scale(-1, 5)


def test_constant_and_linear_tracks_are_kept() -> None:
    f = np.arange(0, 60)
    const = np.tile([10.0, 20.0, 50.0, 120.0], (60, 1))
    linear = np.stack([3 + 2.5 * f, 7 - 0.5 * f, 40 + 3.5 * f, 90 + 0.25 * f], axis=1)
    t = _seq(list(f) * 2, [1] * 60 + [2] * 60, np.concatenate([const, linear]))
    for kw in ({"tau0": 10.0}, {"tau0": 20.0, "noise": 1.0}, {"length_scale": 8.0}):
        got = smooth_tracks(t, **kw)  # type: ignore[arg-type]
        np.testing.assert_allclose(got.boxes_xyxy, t.boxes_xyxy, atol=1e-8)


def test_jitter_shrinks_around_a_straight_walk() -> None:
    rng = np.random.default_rng(3)
    f = np.arange(80)
    truth = np.stack([100 + 2 * f, 50 + 0 * f, 140 + 2 * f, 250 + 0 * f], axis=1).astype(float)
    noisy = truth + rng.normal(0, 3, truth.shape)
    t = _seq(list(f), [4] * 80, noisy)
    before = np.mean((noisy - truth) ** 2)
    errors = [
        np.mean((smooth_tracks(t, tau0=tau0).boxes_xyxy - truth) ** 2) for tau0 in (5, 10, 20)
    ]
    assert errors[0] < before and errors[1] < 0.25 * before
    # more smoothing with a longer length scale on this straight walk
    assert errors[2] <= errors[1] <= errors[0]


def test_a_real_turn_is_kept_by_a_short_length_scale() -> None:
    f = np.arange(100)
    cx = np.where(f < 50, 3.0 * f, 150.0 - 3.0 * (f - 50))  # walks right, then back
    boxes = np.stack([cx - 10, 0 * cx, cx + 10, 0 * cx + 80], axis=1)
    t = _seq(list(f), [1] * 100, boxes)
    short = smooth_tracks(t, length_scale=1.0).boxes_xyxy
    long = smooth_tracks(t, length_scale=40.0).boxes_xyxy
    assert np.abs(short - boxes).max() < 0.5
    assert np.abs(long - boxes).max() > 5  # the GP rounds the corner off


def test_gaps_use_real_frame_indices() -> None:
    f = [0, 1, 2, 10, 11, 12]  # the same straight walk seen through a gap
    boxes = np.array([[2.0 * x, 0.0, 2.0 * x + 10, 30.0] for x in f])
    t = _seq(f, [5] * 6, boxes)
    np.testing.assert_allclose(smooth_tracks(t, tau0=10).boxes_xyxy, boxes, atol=1e-8)


def test_short_tracks_empty_input_and_row_order() -> None:
    assert len(smooth_tracks(SequenceTracks.empty(), tau0=10)) == 0
    two = _seq([0, 1], [1, 1], np.array([[0.0, 0, 1, 1], [5.0, 5, 9, 9]]))
    assert smooth_tracks(two, tau0=10) is two
    rng = np.random.default_rng(0)
    f = list(range(20))
    boxes = np.concatenate([rng.uniform(0, 50, (20, 2)), rng.uniform(60, 90, (20, 2))], axis=1)
    one = np.array([[1.0, 2, 3, 4]])
    t = _seq([*f, 7], [2] * 20 + [9], np.concatenate([boxes, one]))
    perm = rng.permutation(len(t))
    shuffled = t.select(perm)
    got = smooth_tracks(shuffled, tau0=10)
    np.testing.assert_array_equal(got.frames, shuffled.frames)
    np.testing.assert_allclose(got.boxes_xyxy, smooth_tracks(t, tau0=10).boxes_xyxy[perm])
    np.testing.assert_array_equal(got.boxes_xyxy[got.ids == 9], one)  # one row: kept


def test_widths_never_go_negative() -> None:
    f = list(range(12))
    # a one-frame spike: unclipped, the smoothed width dips to -0.09 at the end
    w = np.array([0.0, 0, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0])
    boxes = np.stack([np.zeros(12), np.zeros(12), w, np.full(12, 5.0)], axis=1)
    got = smooth_tracks(_seq(f, [1] * 12, boxes), length_scale=3.0, noise=1.0)
    assert np.all(got.boxes_xyxy[:, 2] >= got.boxes_xyxy[:, 0])


def test_postprocess_smooth_is_smooth_after_interpolation() -> None:
    rng = np.random.default_rng(1)
    f = [0, 1, 2, 3, 6, 7, 8, 9, 10]
    boxes = np.array([[3.0 * x, 0, 3.0 * x + 20, 50] for x in f]) + rng.normal(0, 2, (9, 4))
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    t = _seq(f, [3] * 9, boxes)
    want = smooth_tracks(interpolate_tracks(t, max_gap=3), tau0=10)
    got = postprocess_tracks(t, max_gap=3, smooth=10)
    np.testing.assert_array_equal(got.boxes_xyxy, want.boxes_xyxy)
    assert postprocess_tracks(t, max_gap=3, smooth=0) is not None
    np.testing.assert_array_equal(
        postprocess_tracks(t, max_gap=3, smooth=0).boxes_xyxy,
        interpolate_tracks(t, max_gap=3).boxes_xyxy,
    )
    assert postprocess_tracks(t) is t
    assert postprocess_tracks(t, smooth=None) is t


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of tau0 and length_scale"),
        ({"tau0": 10, "length_scale": 5}, "give exactly one of tau0 and length_scale"),
        ({"tau0": 0}, "tau0 must be a positive finite number"),
        ({"tau0": -3.0}, "tau0 must be a positive finite number"),
        ({"tau0": float("nan")}, "tau0 must be a positive finite number"),
        ({"tau0": True}, "tau0 must be a positive number"),
        ({"tau0": "10"}, "tau0 must be a positive number"),
        ({"length_scale": float("inf")}, "length_scale must be a positive finite number"),
        ({"tau0": 10, "noise": 0}, "noise must be a positive finite number"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    t = _seq([0, 1, 2], [1, 1, 1], np.tile([0.0, 0, 1, 1], (3, 1)))
    with pytest.raises(ValueError, match=message):
        smooth_tracks(t, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("smooth", [-1, float("nan"), True, "10"])
def test_postprocess_bad_smooth(smooth: object) -> None:
    t = _seq([0, 1, 2], [1, 1, 1], np.tile([0.0, 0, 1, 1], (3, 1)))
    with pytest.raises(ValueError, match=r"smooth must be None, 0 \(off\) or a positive tau0"):
        postprocess_tracks(t, smooth=smooth)  # type: ignore[arg-type]


def test_bad_tracks_type() -> None:
    with pytest.raises(TypeError, match=r"tracks must be assoc\.SequenceTracks"):
        smooth_tracks(np.zeros((3, 4)), tau0=10)  # type: ignore[arg-type]
