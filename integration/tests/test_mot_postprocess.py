"""Offline track post-processing in trackkit: ``postprocess_rows``, the registry's wrapper,
``RetinaTrackMOT``'s options and ``--interpolate`` / ``--min-track-length`` / ``--smooth`` of
``trackkit mot`` and ``trackkit eval mot`` (off by default: today's output bit for bit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import assoc
from trackkit.cli import main
from trackkit.data import MOTRows, read_mot_rows, synthetic_mot_sequence, write_mot_rows
from trackkit.mot import (
    PostProcessedFrameTracker,
    PostProcessedTracker,
    postprocess_rows,
    postprocessed,
)
from trackkit.registry import make_tracker, tracker_options


def _rows() -> MOTRows:
    # track 1: frames 0, 1, 4 (gap of 2); track 2: frame 2 only; track 3: frames 0-2
    return MOTRows(
        np.array([0, 1, 4, 2, 0, 1, 2]),
        np.array([1, 1, 1, 2, 3, 3, 3]),
        np.array([[0, 0, 10, 20], [2, 0, 10, 20], [8, 0, 10, 20], [50, 50, 5, 5]]
                 + [[100, 0, 10, 20]] * 3, dtype=np.float64),
        np.array([0.9, 0.8, 0.5, 0.7, 0.6, 0.6, 0.6]),
    )  # fmt: skip


def test_postprocess_rows_matches_assoc() -> None:
    rows = _rows()
    out = postprocess_rows(rows, interpolate=2, min_track_length=2)
    assert 2 not in out.ids.tolist()
    track1 = out.select(out.ids == 1)
    assert track1.frames.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(track1.boxes_xywh[2], [4, 0, 10, 20])
    np.testing.assert_allclose(track1.boxes_xywh[3], [6, 0, 10, 20])
    seq = assoc.SequenceTracks(rows.frames, rows.ids, rows.boxes_xyxy, rows.confidences)
    want = assoc.postprocess_tracks(seq, max_gap=2, min_length=2)
    np.testing.assert_allclose(out.boxes_xyxy, want.boxes_xyxy)
    np.testing.assert_array_equal(out.frames, want.frames)


def test_off_is_the_same_object() -> None:
    rows = _rows()
    assert postprocess_rows(rows) is rows
    assert postprocess_rows(rows, interpolate=0, min_track_length=1) is rows
    assert postprocess_rows(rows, interpolate=1) is rows  # no gap of one frame
    tracker = make_tracker("sort")
    assert postprocessed(tracker) is tracker
    assert postprocessed(tracker, interpolate=0, min_track_length=1) is tracker
    assert type(make_tracker("sort", interpolate=0, min_track_length=None)) is type(tracker)
    assert postprocess_rows(rows, smooth=0) is rows
    assert postprocess_rows(rows, interpolate=0, smooth=None) is rows
    assert postprocessed(tracker, smooth=0.0) is tracker
    assert type(make_tracker("sort", smooth=0)) is type(tracker)


def test_smooth_matches_assoc_after_interpolation() -> None:
    rng = np.random.default_rng(5)
    f = np.arange(30)
    boxes = np.stack([10 + 2.0 * f, 5 + 0 * f, 0 * f + 20, 0 * f + 60], axis=1)
    boxes = boxes + rng.normal(0, 1.5, boxes.shape)
    keep = (f < 10) | (f > 13)  # a gap of 4 frames
    rows = MOTRows(f[keep], np.full(keep.sum(), 4), boxes[keep], np.full(keep.sum(), 0.8))
    out = postprocess_rows(rows, interpolate=5, smooth=10)
    seq = assoc.SequenceTracks(rows.frames, rows.ids, rows.boxes_xyxy, rows.confidences)
    want = assoc.smooth_tracks(assoc.interpolate_tracks(seq, max_gap=5), tau0=10)
    np.testing.assert_array_equal(out.frames, want.frames)
    np.testing.assert_allclose(out.boxes_xyxy, want.boxes_xyxy, atol=1e-9)
    assert not np.allclose(out.boxes_xyxy, postprocess_rows(rows, interpolate=5).boxes_xyxy)
    only = postprocess_rows(rows, smooth=10)  # smoothing alone keeps the rows and their order
    np.testing.assert_array_equal(only.frames, rows.frames)
    np.testing.assert_array_equal(only.confidences, rows.confidences)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interpolate": -1}, "interpolate must be an integer >= 0"),
        ({"interpolate": 2.5}, "interpolate must be an integer >= 0"),
        ({"min_track_length": 0}, "min_track_length must be an integer >= 1"),
        ({"min_track_length": True}, "min_track_length must be an integer >= 1"),
        ({"smooth": -1.0}, r"smooth must be a number >= 0 \(tau0; 0 = off\), got -1.0"),
        ({"smooth": float("nan")}, "smooth must be a number >= 0"),
        ({"smooth": "10"}, "smooth must be a number >= 0"),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        postprocess_rows(_rows(), **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        make_tracker("sort", **options)


def test_duplicate_rows_and_nan_boxes_are_rejected() -> None:
    rows = _rows()
    dup = MOTRows.concatenate([rows, rows.select([0])])
    with pytest.raises(ValueError, match=r"duplicate \(id, frame\) row: id 1"):
        postprocess_rows(dup, interpolate=2)
    boxes = rows.boxes_xywh.copy()
    boxes[3, 2] = np.nan
    bad = MOTRows(rows.frames, rows.ids, boxes, rows.confidences)
    with pytest.raises(ValueError, match="boxes_xyxy must be finite"):
        postprocess_rows(bad, min_track_length=2)
    empty = MOTRows.empty()
    assert len(postprocess_rows(empty, interpolate=5, min_track_length=3)) == 0


def test_registry_wraps_every_mot_tracker() -> None:
    assert {"interpolate", "min_track_length", "smooth"} <= set(tracker_options("sort"))
    assert {"interpolate", "min_track_length", "smooth"} <= set(tracker_options("retinatrack"))
    assert "interpolate" not in tracker_options("opencv-kcf")
    with pytest.raises(TypeError, match="takes no option 'interpolate'"):
        make_tracker("opencv-kcf", interpolate=3)
    seq = synthetic_mot_sequence(length=30, num_objects=3, seed=4, render=False)
    plain = make_tracker("sort", min_score=0.0)
    wrapped = make_tracker("sort", min_score=0.0, interpolate=5, min_track_length=4, smooth=10)
    assert isinstance(wrapped, PostProcessedTracker)
    assert not isinstance(wrapped, PostProcessedFrameTracker)  # det.txt trackers: no frames
    assert not hasattr(wrapped, "track_frames")
    assert wrapped.min_score == 0.0  # other attributes are the wrapped tracker's
    raw, _ = plain.track(seq)
    got, _ = wrapped.track(seq)
    want = postprocess_rows(raw, interpolate=5, min_track_length=4, smooth=10)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.boxes_xywh, want.boxes_xywh)
    assert "smooth=10" in repr(wrapped)


def _gappy_folder(write_mot_folder: Any, root: Path) -> Path:
    # drop a few detections so that SORT's tracks have gaps to fill
    write_mot_folder(
        root, length=40, num_objects=4, seed=7, keep_det=lambda n: np.arange(n) % 7 != 3
    )
    return root


def test_cli_default_is_bit_exact_and_flags_post_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    data = _gappy_folder(write_mot_folder, tmp_path / "data")
    base = ["mot", "--data", str(data), "--tracker", "sort"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--interpolate", "0"]) == 0
    assert main([*base, "--out", str(tmp_path / "c"), "--min-track-length", "1"]) == 0
    assert main([*base, "--out", str(tmp_path / "d"), "--interpolate", "3",
                 "--min-track-length", "5"]) == 0  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "s0"), "--smooth", "0"]) == 0
    assert main([*base, "--out", str(tmp_path / "s"), "--interpolate", "3", "--smooth", "10"]) == 0
    text = {k: (tmp_path / k / "sort" / "SYN-01.txt").read_bytes() for k in "abcd"}
    text["s0"] = (tmp_path / "s0" / "sort" / "SYN-01.txt").read_bytes()
    assert text["a"] == text["b"] == text["c"] == text["s0"]
    # today's output: the registry's tracker written directly
    from trackkit.data import read_motchallenge

    seq = read_motchallenge(data)["SYN-01"]
    raw, _ = make_tracker("sort").track(seq)
    write_mot_rows(tmp_path / "direct.txt", raw)
    assert (tmp_path / "direct.txt").read_bytes() == text["a"]
    post = read_mot_rows(tmp_path / "d" / "sort" / "SYN-01.txt")
    want = postprocess_rows(raw, interpolate=3, min_track_length=5)
    assert len(post) == len(want) != len(raw)
    order_p, order_w = np.lexsort((post.ids, post.frames)), np.lexsort((want.ids, want.frames))
    np.testing.assert_array_equal(post.ids[order_p], want.ids[order_w])
    np.testing.assert_allclose(post.boxes_xywh[order_p], want.boxes_xywh[order_w], atol=1e-2)
    smoothed = read_mot_rows(tmp_path / "s" / "sort" / "SYN-01.txt")
    want = postprocess_rows(raw, interpolate=3, smooth=10.0)
    order_s, order_w = (
        np.lexsort((smoothed.ids, smoothed.frames)),
        np.lexsort((want.ids, want.frames)),
    )
    np.testing.assert_array_equal(smoothed.ids[order_s], want.ids[order_w])
    np.testing.assert_allclose(smoothed.boxes_xywh[order_s], want.boxes_xywh[order_w], atol=1e-2)
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "e"), "--interpolate", "-2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "trackkit: error: interpolate must be an integer >= 0 (max gap in frames), got -2"
    assert main([*base, "--out", str(tmp_path / "f"), "--smooth", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "trackkit: error: smooth must be a number >= 0 (tau0; 0 = off), got -1.0"


def test_eval_mot_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    data = _gappy_folder(write_mot_folder, tmp_path / "data")
    argv = ["eval", "mot", "--data", str(data), "--tracker", "sort"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b"), "--interpolate", "3"]) == 0
    a = read_mot_rows(tmp_path / "a" / "sort" / "SYN-01.txt")
    b = read_mot_rows(tmp_path / "b" / "sort" / "SYN-01.txt")
    assert len(b) > len(a)
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "c"), "--min-track-length", "0"]) == 2
    assert "min_track_length must be an integer >= 1" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "d"), "--interpolate", "3", "--smooth", "10"]) == 0
    d = read_mot_rows(tmp_path / "d" / "sort" / "SYN-01.txt")
    assert len(d) == len(b) and not np.allclose(d.boxes_xywh, b.boxes_xywh, atol=1e-2)
    assert main([*argv, "--out", str(tmp_path / "e"), "--smooth", "nan"]) == 2
    assert "smooth must be a number >= 0" in capsys.readouterr().err
