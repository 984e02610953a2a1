"""Offline track post-processing against slow per-track references and hand-made cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assoc
from assoc import SequenceTracks, drop_short_tracks, interpolate_tracks, postprocess_tracks


def _table(rows: list[tuple[int, int, list[float], float]]) -> SequenceTracks:
    """Rows ``(frame, id, xyxy, score)``."""
    if not rows:
        return SequenceTracks.empty()
    return SequenceTracks(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.float64),
    )


def _as_dict(t: SequenceTracks) -> dict[tuple[int, int], tuple[float, ...]]:
    return {
        (int(i), int(f)): (*t.boxes_xyxy[k].tolist(), float(t.scores[k]))
        for k, (i, f) in enumerate(zip(t.ids, t.frames, strict=True))
    }


def _slow_interpolate(t: SequenceTracks, max_gap: int) -> dict[tuple[int, int], tuple[float, ...]]:
    """Obvious reference: per track, walk consecutive rows, fill frame by frame."""
    out = _as_dict(t)
    for tid in set(t.ids.tolist()):
        rows = sorted((int(f), k) for k, f in enumerate(t.frames) if t.ids[k] == tid)
        for (f1, k1), (f2, k2) in itertools.pairwise(rows):
            if 1 <= f2 - f1 - 1 <= max_gap:
                for f in range(f1 + 1, f2):
                    a = (f - f1) / (f2 - f1)
                    box = [
                        t.boxes_xyxy[k1][j] + a * (t.boxes_xyxy[k2][j] - t.boxes_xyxy[k1][j])
                        for j in range(4)
                    ]
                    score = t.scores[k1] + a * (t.scores[k2] - t.scores[k1])
                    out[(tid, f)] = (*box, score)
    return out


def _slow_drop(t: SequenceTracks, min_length: int) -> list[int]:
    counts: dict[int, int] = {}
    for i in t.ids.tolist():
        counts[i] = counts.get(i, 0) + 1
    return [k for k, i in enumerate(t.ids.tolist()) if counts[i] >= min_length]


@st.composite
def _tracks(draw: st.DrawFn) -> SequenceTracks:
    n_ids = draw(st.integers(0, 5))
    rows = []
    for tid in range(1, n_ids + 1):
        frames = draw(st.sets(st.integers(0, 30), max_size=12))
        for f in frames:
            x = draw(st.floats(-50, 500, allow_nan=False, width=32))
            y = draw(st.floats(-50, 500, allow_nan=False, width=32))
            w = draw(st.floats(0, 100, allow_nan=False, width=32))
            h = draw(st.floats(0, 200, allow_nan=False, width=32))
            s = draw(st.floats(0, 1, width=32))
            rows.append((f, tid * 7, [x, y, x + w, y + h], s))
    order = draw(st.permutations(range(len(rows))))
    return _table([rows[i] for i in order])


@settings(deadline=None, max_examples=150)
@given(_tracks(), st.integers(0, 12))
def test_interpolate_matches_slow_reference(t: SequenceTracks, max_gap: int) -> None:
    got = interpolate_tracks(t, max_gap=max_gap)
    want = _slow_interpolate(t, max_gap)
    assert len(got) == len(want)
    got_d = _as_dict(got)
    assert got_d.keys() == want.keys()
    for key, values in want.items():
        np.testing.assert_allclose(got_d[key], values, rtol=1e-12, atol=1e-9)
    if len(got) > len(t):
        assert np.all(np.diff(got.frames) >= 0), "rows must be ordered by frame"
    else:
        assert got is t
    # the input's own rows are kept exactly
    for key, values in _as_dict(t).items():
        assert got_d[key] == values


@settings(deadline=None, max_examples=150)
@given(_tracks(), st.integers(1, 8))
def test_drop_matches_slow_reference(t: SequenceTracks, min_length: int) -> None:
    got = drop_short_tracks(t, min_length=min_length)
    keep = _slow_drop(t, min_length)
    np.testing.assert_array_equal(got.frames, t.frames[keep])
    np.testing.assert_array_equal(got.ids, t.ids[keep])
    np.testing.assert_array_equal(got.boxes_xyxy, t.boxes_xyxy[keep])


@settings(deadline=None, max_examples=80)
@given(_tracks(), st.integers(0, 6), st.integers(1, 6))
def test_postprocess_is_drop_then_interpolate(t: SequenceTracks, gap: int, length: int) -> None:
    got = postprocess_tracks(t, max_gap=gap, min_length=length)
    kept = t.select(_slow_drop(t, length))
    want = _slow_interpolate(kept, gap)
    assert _as_dict(got).keys() == want.keys()


def test_hand_made_gap() -> None:
    t = _table(
        [
            (0, 1, [0, 0, 10, 20], 0.9),
            (3, 1, [30, 0, 40, 20], 0.6),  # 2 missing frames
            (0, 2, [100, 100, 110, 120], 0.8),
            (10, 2, [100, 100, 110, 120], 0.8),  # 9 missing frames
        ]
    )
    out = interpolate_tracks(t, max_gap=2)
    d = _as_dict(out)
    assert d[(1, 1)] == pytest.approx((10, 0, 20, 20, 0.8))
    assert d[(1, 2)] == pytest.approx((20, 0, 30, 20, 0.7))
    assert (2, 5) not in d and len(out) == 6
    assert out.frames.tolist() == [0, 0, 1, 2, 3, 10]
    out9 = interpolate_tracks(t, max_gap=9)
    assert len(out9) == 6 + 9
    assert _as_dict(out9)[(2, 5)] == pytest.approx((100, 100, 110, 120, 0.8))


def test_hand_made_drop_and_order() -> None:
    t = _table(
        [
            (0, 5, [0, 0, 1, 1], 0.5),
            (0, 3, [0, 0, 1, 1], 0.5),
            (1, 5, [0, 0, 1, 1], 0.5),
            (2, 5, [0, 0, 1, 1], 0.5),
        ]
    )
    out = drop_short_tracks(t, min_length=2)
    assert out.ids.tolist() == [5, 5, 5] and out.frames.tolist() == [0, 1, 2]
    assert len(drop_short_tracks(t, min_length=4)) == 0


def test_filled_rows_follow_their_frame_in_id_order() -> None:
    t = _table(
        [
            (0, 9, [0, 0, 2, 2], 1.0),
            (0, 4, [0, 0, 2, 2], 1.0),
            (1, 7, [5, 5, 6, 6], 1.0),
            (2, 9, [2, 0, 4, 2], 1.0),
            (2, 4, [2, 0, 4, 2], 1.0),
        ]
    )
    out = interpolate_tracks(t, max_gap=1)
    assert out.frames.tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert out.ids.tolist() == [9, 4, 7, 4, 9, 9, 4]


def test_defaults_off_return_the_input_unchanged() -> None:
    t = _table([(0, 1, [0, 0, 1, 1], 0.5), (4, 1, [0, 0, 1, 1], 0.5), (2, 2, [0, 0, 1, 1], 1)])
    assert interpolate_tracks(t, max_gap=0) is t
    assert drop_short_tracks(t, min_length=1) is t
    assert postprocess_tracks(t) is t
    ordered = _table([(0, 1, [0, 0, 1, 1], 0.5), (2, 2, [0, 0, 1, 1], 1), (3, 1, [0, 0, 1, 1], 1)])
    assert interpolate_tracks(ordered, max_gap=5) is not ordered  # frames 1-2 of track 1 filled
    no_gap = _table([(0, 1, [0, 0, 1, 1], 0.5), (1, 1, [0, 0, 1, 1], 1)])
    assert interpolate_tracks(no_gap, max_gap=5) is no_gap


def test_empty_input() -> None:
    empty = SequenceTracks.empty()
    assert len(interpolate_tracks(empty, max_gap=5)) == 0
    assert len(drop_short_tracks(empty, min_length=3)) == 0
    assert len(SequenceTracks.from_frames([])) == 0
    assert len(SequenceTracks.from_frames([assoc.Tracks.empty()] * 3)) == 0


def test_from_frames_stacks_tracker_output() -> None:
    tracker = assoc.SortTracker(assoc.SortConfig(min_hits=1))
    outs = []
    for t in range(5):
        box = np.array([[10.0 + 2 * t, 10, 30 + 2 * t, 50]])
        seen = t != 2
        outs.append(tracker.update(box if seen else np.zeros((0, 4)), np.ones(int(seen))))
    seq = SequenceTracks.from_frames(outs, start=1)
    assert seq.frames.tolist() == [f + 1 for f, o in enumerate(outs) for _ in range(len(o))]
    filled = interpolate_tracks(seq, max_gap=1)
    assert len(filled) == len(seq) + (0 if 3 in seq.frames.tolist() else 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: interpolate_tracks(t, max_gap=-1), "max_gap must be an integer >= 0"),
        (lambda t: interpolate_tracks(t, max_gap=1.5), "max_gap must be an integer"),
        (lambda t: interpolate_tracks(t, max_gap=True), "max_gap must be an integer"),
        (lambda t: drop_short_tracks(t, min_length=0), "min_length must be an integer >= 1"),
        (lambda t: drop_short_tracks(t, min_length=None), "min_length must be an integer"),
    ],
)
def test_bad_arguments(call: object, message: str) -> None:
    t = _table([(0, 1, [0, 0, 1, 1], 0.5)])
    with pytest.raises(ValueError, match=message):
        call(t)  # type: ignore[operator]


def test_bad_tracks_type() -> None:
    with pytest.raises(TypeError, match=r"tracks must be assoc\.SequenceTracks"):
        interpolate_tracks(np.zeros((3, 7)), max_gap=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"tracks must be assoc\.SequenceTracks"):
        drop_short_tracks([], min_length=2)  # type: ignore[arg-type]


def test_bad_columns() -> None:
    ok = dict(frames=[0, 1], ids=[1, 1], boxes_xyxy=np.zeros((2, 4)), scores=[0.5, 0.5])
    with pytest.raises(ValueError, match="boxes_xyxy must be finite"):
        SequenceTracks(**{**ok, "boxes_xyxy": [[0, 0, 1, 1], [0, np.nan, 1, 1]]})
    with pytest.raises(ValueError, match=r"boxes_xyxy must have shape \(N, 4\)"):
        SequenceTracks(**{**ok, "boxes_xyxy": np.zeros((2, 5))})
    with pytest.raises(ValueError, match=r"duplicate \(id, frame\) row: id 1 .* frame 0"):
        SequenceTracks(**{**ok, "frames": [0, 0]})
    with pytest.raises(ValueError, match="equal length"):
        SequenceTracks(**{**ok, "scores": [0.5]})
    with pytest.raises(ValueError, match="frames must hold integers"):
        SequenceTracks(**{**ok, "frames": [0, 1.5]})
    with pytest.raises(ValueError, match="scores must be finite"):
        SequenceTracks(**{**ok, "scores": [0.5, np.nan]})
    with pytest.raises(ValueError, match="ids must be a 1-D integer array"):
        SequenceTracks(**{**ok, "ids": 3})
    with pytest.raises(TypeError, match=r"outputs\[0\] must be assoc.Tracks"):
        SequenceTracks.from_frames([np.zeros((1, 4))])  # type: ignore[list-item]


def test_caller_arrays_are_not_frozen() -> None:
    boxes = np.zeros((1, 4))
    t = SequenceTracks(np.zeros(1, np.int64), np.ones(1, np.int64), boxes, np.ones(1))
    assert boxes.flags.writeable and not t.boxes_xyxy.flags.writeable
