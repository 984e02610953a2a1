"""Batched single-object runs: B sequences in lock step give the boxes of one-by-one runs."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from trackkit.data import Sequence, synthetic_sot_sequence
from trackkit.eval import BatchSOTTracker, read_otb_results, run_sot_batch, run_sot_benchmark
from trackkit.registry import make_tracker

pytestmark = pytest.mark.usefixtures("one_thread")


def _seqs(lengths: tuple[int, ...]) -> list[Sequence]:
    return [
        synthetic_sot_sequence(
            length=n, seed=10 + i, image_size=(200, 150), target_size=(30, 24), distractors=1
        )
        for i, n in enumerate(lengths)
    ]


class Recorder:
    """A batched tracker that moves every box by its row index each frame and records calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def init_batch(self, frames: list[np.ndarray], boxes_xywh: np.ndarray) -> None:
        self.boxes = np.asarray(boxes_xywh, dtype=np.float64).copy()
        self.calls.append(len(frames))

    def update_batch(self, frames: list[np.ndarray]) -> np.ndarray:
        self.calls.append(len(frames))
        self.boxes[:, 0] += np.arange(len(self.boxes))
        return self.boxes.copy()


def test_sequences_of_different_lengths_are_cut_at_their_end() -> None:
    seqs = _seqs((5, 9, 3))
    tracker = Recorder()
    runs = run_sot_batch(tracker, seqs)
    assert isinstance(tracker, BatchSOTTracker)
    assert tracker.calls == [3] * 9  # one init, 8 updates of all three rows
    for i, (s, r) in enumerate(zip(seqs, runs)):
        assert r.sequence == s.name and r.boxes_xywh.shape == (len(s), 4)
        expected = s.boxes_xywh[0, 0] + i * np.arange(len(s))
        np.testing.assert_allclose(r.boxes_xywh[:, 0], expected)
        assert np.all(r.seconds >= 0)


def test_batch_errors() -> None:
    seqs = _seqs((4, 4))
    with pytest.raises(TypeError, match="init_batch"):
        run_sot_batch(object(), seqs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        run_sot_batch(Recorder(), [])
    with pytest.raises(ValueError, match="batch"):
        run_sot_benchmark(Recorder, seqs, name="x", batch=0, progress=False)

    class Short(Recorder):
        def update_batch(self, frames: list[np.ndarray]) -> np.ndarray:
            return super().update_batch(frames)[:1]

    with pytest.raises(ValueError, match=r"\[2, 4\]"):
        run_sot_batch(Short(), seqs)


@pytest.mark.parametrize("name", ["fcos-maml", "retina-maml"])
def test_batched_shipped_model_matches_one_by_one_per_forward(name: str) -> None:
    """The shipped detectors through the registry: the first update of 3 sequences tracked
    together equals tracking each alone up to float rounding (the batched head forward)."""
    seqs = _seqs((3, 3, 3))
    tracker = make_tracker(name)
    alone = []
    for s in seqs:
        tracker.init(s[0], s.boxes_xywh[0])
        alone.append(tracker.update(s[1]))
    tracker.init_batch([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
    together = tracker.update_batch([s[1] for s in seqs])
    np.testing.assert_allclose(together, np.stack(alone), atol=1e-3, rtol=0)


@pytest.mark.xfail(
    strict=True,
    reason="InstanceDetector.detect runs the head as a plain call for B = 1 and through vmap "
    "for B > 1; the two differ by float rounding (~3e-5 px; vmap rows are bit-identical for "
    "every B >= 2), which tracking amplifies through the quantised search-region crops "
    "(measured: up to 10.8 px after 12 frames here; 70 px and AUC 0.531 vs 0.537 for "
    "FCOS-MAML, 0.646 vs 0.606 for Retina-MAML with --batch 4 on the 7 held-out sequences)",
)
@pytest.mark.parametrize("name", ["fcos-maml"])
def test_batched_boxes_identical_to_one_by_one_shipped_model(name: str, tmp_path: Path) -> None:
    """--batch 3 over 5 sequences of different lengths (two groups, rows ending early) against
    one sequence at a time: boxes within 1e-3 px over whole sequences."""
    seqs = _seqs((12, 7, 10, 5, 9))
    make = partial(make_tracker, name)
    one = run_sot_benchmark(make, seqs, name=name, progress=False)
    many = run_sot_benchmark(make, seqs, name=name, progress=False, batch=3, results_dir=tmp_path)
    assert list(many.runs) == [s.name for s in seqs]  # results in the order given
    back = read_otb_results(tmp_path / name / f"{seqs[1].name}.txt")
    np.testing.assert_allclose(back, many.runs[seqs[1].name].boxes_xywh, atol=1e-2)
    diff = max(
        float(np.abs(one.runs[s.name].boxes_xywh - many.runs[s.name].boxes_xywh).max())
        for s in seqs
    )
    assert diff < 1e-3, diff
