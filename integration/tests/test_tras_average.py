"""TRASFUST with the boxes of agreeing teachers averaged (``average_iou``, round 11 of
docs/history/tras.md): off is today's tracker, the mean follows a plain per-frame reference, and
disagreeing teachers leave the pick and its box unchanged."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from distill import ReplayTeacher, box_iou_xywh
from trackkit.sot.tras import StudentConfig, TRASStudent, TRASTracker, load_student, save_student
from trackkit.train import synthetic_training_sequences

SMALL = StudentConfig(crop_size=32, neck_channels=8, hidden=32)


def _student(seed: int = 3) -> TRASStudent:
    torch.manual_seed(seed)
    model = TRASStudent(SMALL, pretrained=False).eval()
    with torch.no_grad():  # an untrained head's values differ by 1e-7; make them differ
        model.value.weight.mul_(1e5)
    return model


def _runs(seq: Any, offsets: list[float], seed: int) -> list[np.ndarray]:
    """One replayed run per offset: the ground truth with noise, shifted right by the offset."""
    rng = np.random.default_rng(seed)
    gt = np.asarray(seq.boxes_xywh, dtype=np.float64)
    return [gt + rng.normal(0, 2.0, gt.shape) * [1, 1, 0.3, 0.3] + [d, 0, 0, 0] for d in offsets]


def _track(seq: Any, runs: list[np.ndarray], **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    pool = [lambda b=b, i=i: ReplayTeacher(b, name=f"r{i}") for i, b in enumerate(runs)]
    trk = TRASTracker(_student(), mode="trasfust", teachers=pool, parallel=False, **kw)
    trk.init(seq[0], seq.boxes_xywh[0])
    boxes, choices = [], []
    for t in range(1, len(seq)):
        boxes.append(trk.update(seq[t]))
        choices.append(int(trk.last_choice[0]))
    return np.stack(boxes), np.asarray(choices)


@pytest.fixture(scope="module")
def seq() -> Any:
    return synthetic_training_sequences(1, length=24, seed=79)[0]


def test_off_is_todays_tracker(seq: Any) -> None:
    runs = _runs(seq, [0.0, 1.0, 30.0], seed=1)
    today, c_today = _track(seq, runs)
    for kw in ({"average_iou": None}, {"average_iou": 0.0}, {"average_temperature": 0.1}):
        boxes, choices = _track(seq, runs, **kw)
        np.testing.assert_array_equal(boxes, today)
        np.testing.assert_array_equal(choices, c_today)


@pytest.mark.parametrize("temperature", [None, 0.1])
def test_two_teachers_at_the_same_box_give_that_box(seq: Any, temperature: float | None) -> None:
    run = _runs(seq, [0.0], seed=2)[0]
    boxes, _ = _track(seq, [run, run.copy()], average_iou=0.5, average_temperature=temperature)
    np.testing.assert_allclose(boxes, run[1:], rtol=0, atol=1e-9)


def test_disagreeing_teachers_keep_the_pick_and_its_box(seq: Any) -> None:
    runs = _runs(seq, [0.0, 80.0, -80.0], seed=3)  # never overlapping
    today, c_today = _track(seq, runs)
    boxes, choices = _track(seq, runs, average_iou=0.3, average_temperature=0.1)
    np.testing.assert_array_equal(choices, c_today)
    np.testing.assert_array_equal(boxes, today)


@pytest.mark.parametrize("tau", [0.5, 0.8])
def test_agreeing_teachers_are_averaged_frame_by_frame(seq: Any, tau: float) -> None:
    """Output = the mean of the chosen teacher's box and the teacher boxes with IoU >= tau
    with it (a plain per-frame reference); the choices are today's (in TRASFUST the LSTM
    state follows the chosen teacher, whose own box is its next state)."""
    runs = _runs(seq, [0.0, 2.0, 4.0, 60.0], seed=4)
    _, c_today = _track(seq, runs)
    boxes, choices = _track(seq, runs, average_iou=tau)
    np.testing.assert_array_equal(choices, c_today)
    averaged = 0
    for t, c in enumerate(choices):
        teacher = np.stack([r[t + 1] for r in runs])  # frame t + 1
        chosen = teacher[c - 1]
        agree = [k for k in range(len(runs)) if box_iou_xywh(teacher[k], chosen) >= tau]
        np.testing.assert_allclose(boxes[t], teacher[agree].mean(axis=0), rtol=0, atol=1e-9)
        averaged += len(agree) > 1
    assert averaged > 0  # the test exercised averaging


def test_option_defaults_from_the_student_and_bad_values(tmp_path: Path) -> None:
    student = _student()
    trk = TRASTracker(student, mode="trasfust", teachers=["kcf"])
    assert trk.average_iou == 0.0 and trk.average_temperature == math.inf
    student.meta = {"fusion_average_iou": 0.7, "fusion_average_temperature": 0.1}
    trk = TRASTracker(student, mode="trasfust", teachers=["kcf"])
    assert (trk.average_iou, trk.average_temperature) == (0.7, 0.1)
    assert TRASTracker(student, mode="trast", teachers=["kcf"]).average_iou == 0.0  # TRASFUST's
    off = TRASTracker(student, mode="trasfust", teachers=["kcf"], average_iou=0.0)
    assert off.average_iou == 0.0  # 0 turns the stored setting off
    # the fields survive a save / load (weights_only=True)
    path = save_student(student, tmp_path / "s.pt", meta=student.meta)
    loaded = load_student(path)
    assert loaded.meta["fusion_average_iou"] == 0.7
    assert TRASTracker(loaded, mode="trasfust", teachers=["kcf"]).average_temperature == 0.1
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"average_iou must lie in \[0, 1\]"):
            TRASTracker(student, mode="trasfust", teachers=["kcf"], average_iou=bad)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="average_temperature must be > 0"):
            TRASTracker(student, mode="trasfust", teachers=["kcf"], average_temperature=bad)
    with pytest.raises(TypeError, match="average_iou must be a number"):
        TRASTracker(student, mode="trasfust", teachers=["kcf"], average_iou="0.5")  # type: ignore[arg-type]


def test_make_tracker_passes_the_option() -> None:
    from trackkit.registry import make_tracker, tracker_options

    assert {"average_iou", "average_temperature"} <= set(tracker_options("trasfust"))
    trk = make_tracker("trasfust", teachers="kcf", average_iou=0.6, average_temperature=0.1)
    assert (trk.average_iou, trk.average_temperature) == (0.6, 0.1)
    shipped = make_tracker("trasfust", teachers="kcf")
    assert shipped.average_iou == (load_student().meta.get("fusion_average_iou") or 0.0)
