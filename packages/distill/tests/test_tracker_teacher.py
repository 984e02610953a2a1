"""TrackerTeacher: any tracker factory as a teacher, checked against the tracker called directly."""

from __future__ import annotations

import pickle
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import ArrayLike, NDArray

from distill import Teacher, TeacherPool, TrackerTeacher


def make_frames(count: int = 8, seed: int = 0) -> list[NDArray[np.uint8]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(count)]


class DriftTracker:
    """Box-only tracker: moves right by ``step`` per frame, its box derived from frame pixels.

    ``bad`` maps a frame index to what ``update`` returns there instead (NaN box, empty box,
    wrong shape, or ``(box, False)``); ``raise_at`` raises at that frame.
    """

    def __init__(self, step: float = 1.5, bad: dict[int, Any] | None = None, raise_at: int = 0):
        self.step, self.bad, self.raise_at = step, bad or {}, raise_at
        self.box = np.zeros(4)
        self.t = 0

    def init(self, frame: NDArray[np.uint8], box_xywh: ArrayLike) -> None:
        self.box = np.asarray(box_xywh, dtype=np.float64).copy()
        self.t = 0

    def update(self, frame: NDArray[np.uint8]) -> Any:
        self.t += 1
        if self.t == self.raise_at:
            raise RuntimeError("tracker crashed")
        if self.t in self.bad:
            return self.bad[self.t]
        self.box = self.box + np.array([self.step, float(frame[0, 0, 0] % 3) - 1.0, 0.0, 0.0])
        return self.box.copy()


class PairTracker(DriftTracker):
    """Same tracker, reporting ``(box, ok)`` with ok False on every third frame."""

    def update(self, frame: NDArray[np.uint8]) -> Any:
        box = super().update(frame)
        return box, self.t % 3 != 0


def _reference(tracker: Any, frames: list[NDArray[np.uint8]], box: NDArray[np.float64]) -> Any:
    """Slow obvious reference: call the tracker directly and apply the success rule by hand."""
    tracker.init(frames[0], box)
    last, out = box.copy(), [(box.copy(), True)]
    for frame in frames[1:]:
        res = tracker.update(frame)
        ok = True
        if isinstance(res, tuple):
            res, ok = res
        b = np.asarray(res, dtype=np.float64).reshape(-1)
        good = ok and b.size == 4 and bool(np.isfinite(b).all()) and b[2] > 0 and b[3] > 0
        if good:
            last = b.copy()
        out.append((last.copy(), bool(good)))
    return out


@pytest.mark.parametrize("kind", [DriftTracker, PairTracker])
def test_matches_direct_tracker(kind: type) -> None:
    frames = make_frames()
    box = np.array([4.0, 5.0, 8.0, 6.0])
    bad = {2: np.array([np.nan, 1.0, 2.0, 3.0]), 4: np.array([1.0, 1.0, 0.0, 3.0]), 6: [1.0]}
    teacher = TrackerTeacher(partial(kind, bad=bad), name="drift")
    assert isinstance(teacher, Teacher)
    teacher.init(frames[0], box)
    got = [(box.copy(), True)] + [teacher.update(f) for f in frames[1:]]
    want = _reference(kind(bad=bad), frames, box)
    for (gb, gok), (wb, wok) in zip(got, want):
        np.testing.assert_array_equal(gb, wb)
        assert gok == wok
    assert [ok for _, ok in got] != [True] * len(got)  # the bad frames were flagged


def test_each_init_builds_a_fresh_tracker() -> None:
    calls: list[DriftTracker] = []

    def factory() -> DriftTracker:
        calls.append(DriftTracker())
        return calls[-1]

    frames = make_frames(4)
    teacher = TrackerTeacher(factory, name="fresh")
    for _ in range(2):
        teacher.init(frames[0], [2.0, 2.0, 5.0, 5.0])
        box, ok = teacher.update(frames[1])
    assert len(calls) == 2 and calls[0] is not calls[1]
    assert ok and box[0] == pytest.approx(3.5)


def test_pool_caches_and_runs_in_processes(tmp_path: Path) -> None:
    frames = make_frames(6)
    box = np.array([3.0, 4.0, 6.0, 5.0])
    teachers = [
        TrackerTeacher(partial(DriftTracker, 1.0), name="a"),
        TrackerTeacher(partial(PairTracker, 2.0), name="b"),
    ]
    pickle.loads(pickle.dumps(teachers[0]))  # picklable before init
    serial = TeacherPool(teachers, cache_dir=None).run(frames, box, sequence="s")
    parallel = TeacherPool(teachers, cache_dir=tmp_path, processes=2).run(frames, box, sequence="s")
    cached = TeacherPool(teachers, cache_dir=tmp_path).run(frames, box, sequence="s")
    for name in ("a", "b"):
        np.testing.assert_array_equal(serial[name].boxes_xywh, parallel[name].boxes_xywh)
        np.testing.assert_array_equal(serial[name].success, cached[name].success)
        assert cached[name].from_cache
    assert not serial["b"].success[3] and serial["a"].success.all()


def test_started_teacher_pickles_without_its_tracker() -> None:
    frames = make_frames(3)
    teacher = TrackerTeacher(partial(DriftTracker), name="p")
    teacher.init(frames[0], [1.0, 1.0, 4.0, 4.0])
    clone = pickle.loads(pickle.dumps(teacher))
    with pytest.raises(RuntimeError, match="call init"):
        clone.update(frames[1])


def test_bad_input() -> None:
    frames = make_frames(3)
    with pytest.raises(TypeError, match="factory must be callable"):
        TrackerTeacher(42, name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        TrackerTeacher(DriftTracker, name="")
    teacher = TrackerTeacher(DriftTracker, name="x")
    with pytest.raises(RuntimeError, match="call init"):
        teacher.update(frames[0])
    with pytest.raises(ValueError, match="outside"):
        teacher.init(frames[0], [100.0, 100.0, 4.0, 4.0])
    with pytest.raises(TypeError, match="no init"):
        TrackerTeacher(object, name="o").init(frames[0], [1.0, 1.0, 4.0, 4.0])
    crashing = TrackerTeacher(partial(DriftTracker, raise_at=1), name="c")
    crashing.init(frames[0], [1.0, 1.0, 4.0, 4.0])
    with pytest.raises(RuntimeError, match="crashed"):
        crashing.update(frames[1])
