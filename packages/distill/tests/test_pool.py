"""TeacherPool: running teachers, the on-disk cache and parallel workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import ArrayLike, NDArray

from distill import ReplayTeacher, TeacherPool, TeacherTrajectory, sequence_digest


def make_frames(count: int = 6, seed: int = 0) -> list[NDArray[np.uint8]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(count)]


class CountingTeacher:
    """Moves the box one pixel right per frame and counts its calls."""

    def __init__(self, name: str = "counting", fail_every: int = 0) -> None:
        self.name = name
        self.fail_every = fail_every
        self.calls = 0
        self._box = np.zeros(4)
        self._t = 0

    def init(self, frame: NDArray[np.uint8], box_xywh: ArrayLike) -> None:
        self.calls += 1
        self._box = np.asarray(box_xywh, dtype=np.float64).copy()
        self._t = 0

    def update(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.float64], bool]:
        self.calls += 1
        self._t += 1
        if self.fail_every and self._t % self.fail_every == 0:
            return self._box.copy(), False
        self._box[0] += 1.0
        return self._box.copy(), True


BOX = [2.0, 3.0, 10.0, 8.0]


def test_runs_every_teacher_in_order() -> None:
    frames = make_frames()
    a, b = CountingTeacher("a"), CountingTeacher("b", fail_every=2)
    result = TeacherPool([a, b]).run(frames, BOX, sequence="seq")
    assert list(result) == ["a", "b"]
    np.testing.assert_array_equal(result["a"].boxes_xywh[:, 0], [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(result["b"].boxes_xywh[:, 0], [2, 3, 3, 4, 4, 5])
    np.testing.assert_array_equal(result["b"].success, [True, True, False, True, False, True])
    assert a.calls == len(frames)
    assert result["a"].seconds > 0 and result["a"].fps > 0
    assert not result["a"].from_cache


def test_second_run_hits_the_cache_without_rerunning(tmp_path: Path) -> None:
    frames = make_frames()
    first_teacher = CountingTeacher(fail_every=3)
    first = TeacherPool([first_teacher], cache_dir=tmp_path).run(frames, BOX, sequence="s/1")
    assert first_teacher.calls == len(frames)
    # a fresh pool and a fresh teacher object: only the cache can supply the trajectory
    second_teacher = CountingTeacher(fail_every=3)
    pool = TeacherPool([second_teacher], cache_dir=tmp_path)
    second = pool.run(frames, BOX, sequence="s/1")
    assert second_teacher.calls == 0
    assert second["counting"].from_cache
    np.testing.assert_array_equal(second["counting"].boxes_xywh, first["counting"].boxes_xywh)
    np.testing.assert_array_equal(second["counting"].success, first["counting"].success)
    assert second["counting"].seconds == first["counting"].seconds
    digest = sequence_digest(frames, BOX)
    assert pool.cache_path("s/1", "counting", digest).is_file()


def test_cache_misses_when_frames_or_box_change(tmp_path: Path) -> None:
    frames = make_frames()
    TeacherPool([CountingTeacher()], cache_dir=tmp_path).run(frames, BOX, sequence="s")
    changed = [f.copy() for f in frames]
    changed[4][0, 0, 0] ^= 1
    for new_frames, box in ((changed, BOX), (frames, [2.0, 3.0, 10.0, 9.0])):
        teacher = CountingTeacher()
        out = TeacherPool([teacher], cache_dir=tmp_path).run(new_frames, box, sequence="s")
        assert teacher.calls == len(frames)
        assert not out["counting"].from_cache


def test_digest_hashes_content_not_paths(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    frames = make_frames(3)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i, frame in enumerate(frames):
            cv2.imwrite(str(tmp_path / folder / f"{i:06d}.png"), frame)
    paths_a = sorted((tmp_path / "a").iterdir())
    paths_b = sorted((tmp_path / "b").iterdir())
    assert sequence_digest(paths_a, BOX) == sequence_digest(paths_b, BOX)
    assert sequence_digest(paths_a, BOX) != sequence_digest(paths_a[:2], BOX)
    cv2.imwrite(str(paths_b[1]), 255 - frames[1])
    assert sequence_digest(paths_a, BOX) != sequence_digest(paths_b, BOX)
    # paths are decoded one by one for the teacher
    teacher = CountingTeacher()
    out = TeacherPool([teacher]).run(paths_a, BOX, sequence="p")
    assert teacher.calls == 3 and out["counting"].boxes_xywh.shape == (3, 4)


def test_parallel_processes_match_serial(tmp_path: Path) -> None:
    frames = make_frames(5)
    rng = np.random.default_rng(1)
    teachers = [
        ReplayTeacher(np.column_stack([rng.uniform(0, 9, (5, 2)), np.full((5, 2), 5.0)]), name=n)
        for n in ("r1", "r2", "r3")
    ]
    serial = TeacherPool(teachers).run(frames, BOX, sequence="s")
    parallel = TeacherPool(teachers, processes=2, cache_dir=tmp_path).run(frames, BOX, sequence="s")
    assert list(parallel) == ["r1", "r2", "r3"]
    for name in serial:
        np.testing.assert_array_equal(parallel[name].boxes_xywh, serial[name].boxes_xywh)
        assert isinstance(parallel[name], TeacherTrajectory)
    assert len(list(tmp_path.rglob("*.npz"))) == 3


def test_bad_arguments() -> None:
    frames = make_frames(2)
    with pytest.raises(ValueError, match="at least one teacher"):
        TeacherPool([])
    with pytest.raises(ValueError, match="unique"):
        TeacherPool([CountingTeacher("x"), CountingTeacher("x")])
    with pytest.raises(TypeError, match="Teacher protocol"):
        TeacherPool([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="processes"):
        TeacherPool([CountingTeacher()], processes=0)
    pool = TeacherPool([CountingTeacher()])
    with pytest.raises(ValueError, match="sequence"):
        pool.run(frames, BOX, sequence="")
    with pytest.raises(ValueError, match="positive width"):
        pool.run(frames, [0, 0, 0, 5], sequence="s")
    with pytest.raises(TypeError, match=r"frames\[1\]"):
        sequence_digest([frames[0], 3], BOX)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no cache_dir"):
        pool.cache_path("s", "t", "d")
