"""Benchmark readers on small layouts written by the tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.data import (
    polygons_to_xywh,
    read_got10k,
    read_lasot,
    read_otb,
    read_trackingnet,
    read_uav123,
    read_vot,
)


def _images(folder: Path, numbers: list[int], fmt: str = "{:04d}.png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        img = np.zeros((8, 8, 3), np.uint8)
        img[:, :, 2] = n % 200  # frame number in red + 200 green (png is lossless)
        img[:, :, 1] = n // 200
        cv2.imwrite(str(folder / fmt.format(n)), img)


def _frame_number(frame: np.ndarray) -> int:
    return round(float(frame[..., 2].mean())) + 200 * round(float(frame[..., 1].mean()))


def test_otb_delimiters_offsets_and_two_targets(tmp_path: Path) -> None:
    _images(tmp_path / "David" / "img", list(range(298, 306)))
    (tmp_path / "David" / "groundtruth_rect.txt").write_text("1,2,3,4\n2\t3\t4\t5\n3 4 5 6\n")
    _images(tmp_path / "Jogging" / "img", [1, 2])
    (tmp_path / "Jogging" / "groundtruth_rect.1.txt").write_text("11,11,5,5\n12,12,5,5\n")
    (tmp_path / "Jogging" / "groundtruth_rect.2.txt").write_text("21 21 5 5\n22 22 5 5\n")
    ds = read_otb(tmp_path)
    assert ds.names == ["David", "Jogging.1", "Jogging.2"]
    david = ds["David"]
    assert len(david) == 3 and [_frame_number(f) for f in david] == [300, 301, 302]
    np.testing.assert_array_equal(david.boxes_xywh, [[0, 1, 3, 4], [1, 2, 4, 5], [2, 3, 5, 6]])
    np.testing.assert_array_equal(ds["Jogging.2"].boxes_xywh[0], [20, 20, 5, 5])
    other = read_otb(tmp_path, start_frames={"David": 303}, names=["David"])
    assert [_frame_number(f) for f in other["David"]] == [303, 304, 305]
    with pytest.raises(ValueError, match="missing"):
        read_otb(tmp_path, start_frames={"David": 305})["David"]


def test_uav123_subsequences_share_a_frame(tmp_path: Path) -> None:
    anno = tmp_path / "anno" / "UAV123"
    anno.mkdir(parents=True)
    _images(tmp_path / "data_seq" / "UAV123" / "truck4", list(range(1, 9)), "{:06d}.png")
    _images(tmp_path / "data_seq" / "UAV123" / "bike1", [1, 2], "{:06d}.png")
    (anno / "truck4_1.txt").write_text("1,1,2,2\n1,1,2,2\n1,1,2,2\n")
    (anno / "truck4_2.txt").write_text("NaN,NaN,NaN,NaN\n5,5,2,2\n")
    (anno / "truck4_3.txt").write_text("6,6,2,2\n6,6,2,2\n")
    (anno / "bike1.txt").write_text("3,3,4,4\n3,3,4,4\n")
    ds = read_uav123(tmp_path)
    assert ds.names == ["bike1", "truck4_1", "truck4_2", "truck4_3"]
    assert [_frame_number(f) for f in ds["truck4_2"]] == [3, 4]  # starts on _1's last frame
    assert [_frame_number(f) for f in ds["truck4_3"]] == [4, 5]
    part2 = ds["truck4_2"]
    assert part2.absent.tolist() == [True, False]
    np.testing.assert_array_equal(part2.boxes_xywh[1], [4, 4, 2, 2])
    given = read_uav123(tmp_path, frame_ranges={"truck4_3": (7, 8)})
    assert [_frame_number(f) for f in given["truck4_3"]] == [7, 8]


def test_vot_polygons(tmp_path: Path) -> None:
    _images(tmp_path / "ball" / "color", [1, 2], "{:08d}.png")
    (tmp_path / "ball" / "groundtruth.txt").write_text(
        "246,231.5,269.5,231.5,269.5,208.5,246,208.5\nnan,nan,nan,nan,nan,nan,nan,nan\n"
    )
    _images(tmp_path / "car", [1], "{:08d}.png")
    (tmp_path / "car" / "groundtruth.txt").write_text("1,2,3,4\n")
    (tmp_path / "list.txt").write_text("car\nball\n")
    ds = read_vot(tmp_path)
    assert ds.names == ["car", "ball"]
    ball = ds["ball"]
    np.testing.assert_allclose(ball.boxes_xywh[0], [246, 208.5, 23.5, 23])  # 0-based kept
    assert ball.absent.tolist() == [False, True]
    assert ball.meta["polygons"].shape == (2, 8)
    np.testing.assert_array_equal(ds["car"].boxes_xywh[0], [1, 2, 3, 4])


def test_polygons_to_xywh_rotated_square() -> None:
    poly = np.array([[5.0, 0, 10, 5, 5, 10, 0, 5]])  # a diamond
    np.testing.assert_array_equal(polygons_to_xywh(poly), [[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="polygons"):
        polygons_to_xywh(np.zeros((2, 5)))


def test_got10k_absence_and_test_split(tmp_path: Path) -> None:
    seq = tmp_path / "GOT-10k_Val_000001"
    _images(seq, [1, 2, 3], "{:08d}.png")
    (seq / "groundtruth.txt").write_text("1,2,3,4\n2,3,4,5\n3,4,5,6\n")
    (seq / "absence.label").write_text("0\n1\n0\n")
    (seq / "cover.label").write_text("8\n0\n7\n")
    test = tmp_path / "GOT-10k_Test_000001"
    _images(test, [1, 2], "{:08d}.png")
    (test / "groundtruth.txt").write_text("1,2,3,4\n")
    ds = read_got10k(tmp_path)
    val = ds["GOT-10k_Val_000001"]
    assert val.absent.tolist() == [False, True, False] and np.isnan(val.boxes_xywh[1]).all()
    np.testing.assert_array_equal(val.meta["cover"], [8, 0, 7])
    t = ds["GOT-10k_Test_000001"]
    assert len(t) == 2 and np.isnan(t.boxes_xywh[1]).all() and not t.absent.any()


def test_lasot_occlusion_flags(tmp_path: Path) -> None:
    seq = tmp_path / "airplane" / "airplane-1"
    _images(seq / "img", [1, 2, 3], "{:08d}.png")
    (seq / "groundtruth.txt").write_text("11,11,5,5\n12,12,5,5\n13,13,5,5\n")
    (seq / "full_occlusion.txt").write_text("0,1,0")
    (seq / "out_of_view.txt").write_text("0,0,1")
    ds = read_lasot(tmp_path)
    s = ds["airplane-1"]
    assert s.absent.tolist() == [False, True, True] and s.meta["class"] == "airplane"
    np.testing.assert_array_equal(s.boxes_xywh[0], [10, 10, 5, 5])
    np.testing.assert_array_equal(s.meta["boxes_in_file"][2], [12, 12, 5, 5])


def test_trackingnet_numeric_frame_order(tmp_path: Path) -> None:
    chunk = tmp_path / "TRAIN_0"
    (chunk / "anno").mkdir(parents=True)
    _images(chunk / "frames" / "abc_1", list(range(12)), "{}.png")  # 0.jpg .. 11.jpg
    (chunk / "anno" / "abc_1.txt").write_text("".join(f"{i},0,4,4\n" for i in range(12)))
    test = tmp_path / "TEST"
    (test / "anno").mkdir(parents=True)
    _images(test / "frames" / "xyz", [0, 1, 2], "{}.png")
    (test / "anno" / "xyz.txt").write_text("1,1,4,4\n")
    ds = read_trackingnet(tmp_path)
    s = ds["abc_1"]
    assert [_frame_number(s[i]) for i in (2, 10, 11)] == [2, 10, 11]
    np.testing.assert_array_equal(s.boxes_xywh[10], [10, 0, 4, 4])
    assert np.isnan(ds["xyz"].boxes_xywh[1]).all()
    assert read_trackingnet(tmp_path, chunks=["TEST"]).names == ["xyz"]
    with pytest.raises(FileNotFoundError, match="chunks"):
        read_trackingnet(tmp_path, chunks=["TRAIN_9"])


def test_reader_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        read_otb(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no OTB sequences"):
        read_otb(tmp_path)
    with pytest.raises(ValueError, match="coordinate_base"):
        read_vot(tmp_path, coordinate_base=2)
