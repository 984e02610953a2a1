"""Result files and the replay teacher."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distill import ReplayTeacher, Teacher, read_result_file, write_result_file

FRAME = np.zeros((60, 80, 3), dtype=np.uint8)


def test_round_trip_through_a_result_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    boxes = np.column_stack([rng.uniform(0, 50, (7, 2)), rng.uniform(1, 20, (7, 2))])
    boxes[3] = np.nan
    for base in (0, 1):
        path = tmp_path / f"result{base}.txt"
        write_result_file(path, boxes, coordinate_base=base)
        back = read_result_file(path, coordinate_base=base)
        if base == 0:  # exact; the +1/-1 shift of base 1 may round the last bit
            np.testing.assert_array_equal(back, boxes)
        np.testing.assert_allclose(back, boxes, rtol=0, atol=1e-12)
    teacher = ReplayTeacher.from_file(tmp_path / "result1.txt", coordinate_base=1)
    assert isinstance(teacher, Teacher)
    assert teacher.name == "replay-result1"
    teacher.init(FRAME, boxes[0])
    for t in range(1, 7):
        box, ok = teacher.update(FRAME)
        if t == 3:  # NaN row: last good box, not successful
            assert not ok
            np.testing.assert_array_equal(box, boxes[2])
        else:
            assert ok
            np.testing.assert_allclose(box, boxes[t], rtol=0, atol=1e-12)
    with pytest.raises(RuntimeError, match="has 7 boxes"):
        teacher.update(FRAME)
    teacher.init(FRAME, boxes[0])  # restarts
    np.testing.assert_allclose(teacher.update(FRAME)[0], boxes[1], rtol=0, atol=1e-12)


def test_one_based_file_is_shifted(tmp_path: Path) -> None:
    path = tmp_path / "otb.txt"
    path.write_text("1,1,10,20\n5\t6\t7\t8\n\n3 4 5 6\nNaN,NaN,NaN,NaN\n")
    boxes = read_result_file(path, coordinate_base=1)
    expected = [[0, 0, 10, 20], [4, 5, 7, 8], [2, 3, 5, 6], [np.nan] * 4]
    np.testing.assert_array_equal(boxes, expected)
    np.testing.assert_array_equal(read_result_file(path, coordinate_base=0)[0], [1, 1, 10, 20])


@pytest.mark.parametrize(
    "line", ["1,2,3", "1,2,3,4,5", "1,2,abc,4", "1,2,inf,4", "x,y,w,h"], ids=repr
)
def test_corrupt_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"1,2,3,4\n5,6,7,8\n{line}\n9,9,9,9\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 3 is not 4 numbers"):
        read_result_file(path, coordinate_base=0)


def test_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(ValueError, match="holds no boxes"):
        read_result_file(path, coordinate_base=0)
    with pytest.raises(ValueError, match="coordinate_base"):
        read_result_file(path, coordinate_base=2)
    with pytest.raises(ValueError, match="coordinate_base"):
        write_result_file(path, np.zeros((1, 4)), coordinate_base=True)
    with pytest.raises(ValueError, match=r"\[T, 4\]"):
        ReplayTeacher(np.zeros((3, 5)), name="x")
    with pytest.raises(ValueError, match="positive width"):
        ReplayTeacher(np.zeros((3, 4)), name="x")
    teacher = ReplayTeacher(np.ones((3, 4)), name="x")
    with pytest.raises(RuntimeError, match="before update"):
        teacher.update(FRAME)
    with pytest.raises(ValueError, match="grayscale"):
        teacher.init(FRAME[..., 0], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="outside"):
        teacher.init(FRAME, [100, 1, 1, 1])
