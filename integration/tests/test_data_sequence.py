"""The Sequence type, lazy frame sources, Dataset and the simple-layout reader."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.data import (
    ArrayFrames,
    Dataset,
    ImageFiles,
    Sequence,
    read_image,
    read_numeric_rows,
    read_simple_sot,
)

DATA = Path(os.environ.get("TRACKKIT_DATA", Path(__file__).resolve().parents[2] / "../shared/data"))


def _write_frames(folder: Path, n: int, *, start: int = 1, digits: int = 6) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(n):
        img = np.full((12, 16, 3), 10 * i, dtype=np.uint8)
        img[0, 0] = (i, 255 - i, 7)
        cv2.imwrite(str(folder / f"{start + i:0{digits}d}.png"), img)
        frames.append(img)
    return frames


def test_image_files_are_lazy_and_exact(tmp_path: Path) -> None:
    frames = _write_frames(tmp_path / "img", 4)
    src = ImageFiles(sorted((tmp_path / "img").iterdir()))
    assert len(src) == 4
    np.testing.assert_array_equal(src[2], frames[2])
    np.testing.assert_array_equal(src[-1], frames[3])
    sub = src[1:3]
    assert isinstance(sub, ImageFiles) and len(sub) == 2
    (tmp_path / "img" / "000004.png").unlink()  # nothing was cached: deleting shows laziness
    with pytest.raises(FileNotFoundError):
        src[3]
    with pytest.raises(IndexError):
        src[4]


def test_read_image_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="decode"):
        read_image(bad)


def test_sequence_indexing_slicing_and_absent() -> None:
    frames = np.arange(5 * 4 * 6 * 3, dtype=np.uint8).reshape(5, 4, 6, 3)
    boxes = np.arange(20, dtype=np.float64).reshape(5, 4) + 1
    absent = np.array([0, 0, 1, 0, 0], dtype=bool)
    seq = Sequence("s", frames, boxes, absent)
    assert len(seq) == 5
    np.testing.assert_array_equal(seq[4], frames[4])
    assert np.isnan(seq.boxes_xywh[2]).all() and not np.isnan(seq.boxes_xywh[3]).any()
    sub = seq[1:4]
    assert isinstance(sub, Sequence) and len(sub) == 3
    np.testing.assert_array_equal(sub[0], frames[1])
    np.testing.assert_array_equal(sub.absent, [False, True, False])
    picked = seq.subsequence([4, 0, 3])
    np.testing.assert_array_equal(picked[0], frames[4])
    np.testing.assert_array_equal(picked.boxes_xywh[1], boxes[0])
    np.testing.assert_array_equal(seq.boxes_xyxy[0], [1, 2, 1 + 3, 2 + 4])
    assert [f[0, 0, 0] for f in seq] == [f[0, 0, 0] for f in frames]
    with pytest.raises(ValueError, match="read-only"):
        seq.boxes_xywh[0, 0] = 3.0


def test_sequence_rejects_bad_input() -> None:
    frames = np.zeros((3, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="3 frames but 2 boxes"):
        Sequence("s", frames, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\[T, 4\]"):
        Sequence("s", frames, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="absent"):
        Sequence("s", frames, np.zeros((3, 4)), absent=[True])
    with pytest.raises(ValueError, match="uint8"):
        ArrayFrames(np.zeros((3, 4, 4, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="frames"):
        Sequence("s", 42, np.zeros((3, 4)))  # type: ignore[arg-type]


def test_read_numeric_rows_mixed_delimiters(tmp_path: Path) -> None:
    path = tmp_path / "gt.txt"
    path.write_text("1,2,3,4\n5\t6\t7\t8\n9 10  11 12\n\nNaN,nan,NaN,NaN\n")
    rows = read_numeric_rows(path)
    np.testing.assert_array_equal(rows[:3], np.arange(1, 13).reshape(3, 4))
    assert np.isnan(rows[3]).all()
    path.write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(ValueError, match=r"gt\.txt:2"):
        read_numeric_rows(path)


def _simple_layout(root: Path, base: int) -> None:
    _write_frames(root / "a" / "img", 3)
    (root / "a" / "groundtruth.txt").write_text("11,21,5,6\nNaN,NaN,NaN,NaN\n13,23,5,6\n")
    _write_frames(root / "b" / "img", 2)
    (root / "b" / "groundtruth.txt").write_text("1,1,2,2\n2,2,2,2\n")
    manifest = [{"name": "a", "coordinate_base": base}, {"name": "b", "coordinate_base": 0}]
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_read_simple_sot_uses_manifest_base(tmp_path: Path) -> None:
    _simple_layout(tmp_path, base=1)
    ds = read_simple_sot(tmp_path)
    assert isinstance(ds, Dataset) and ds.names == ["a", "b"] and len(ds) == 2
    a = ds["a"]
    np.testing.assert_array_equal(a.boxes_xywh[0], [10, 20, 5, 6])  # 1-based -> 0-based
    np.testing.assert_array_equal(a.absent, [False, True, False])
    np.testing.assert_array_equal(ds["b"].boxes_xywh[0], [1, 1, 2, 2])  # 0-based kept
    assert [s.name for s in ds] == ["a", "b"]
    forced = read_simple_sot(tmp_path, coordinate_base=0)
    np.testing.assert_array_equal(forced["a"].boxes_xywh[0], [11, 21, 5, 6])
    with pytest.raises(KeyError):
        ds["zzz"]


def test_read_simple_sot_errors(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        read_simple_sot(tmp_path / "missing")
    _simple_layout(tmp_path, base=1)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ValueError, match="coordinate_base"):
        read_simple_sot(tmp_path)["a"]
    (tmp_path / "a" / "img" / "000003.png").unlink()
    with pytest.raises(ValueError, match="2 images but 3 boxes"):
        read_simple_sot(tmp_path, coordinate_base=1)["a"]


@pytest.mark.skipif(not (DATA / "sot").is_dir(), reason="../shared/data/sot not available")
def test_shared_sot_data() -> None:
    ds = read_simple_sot(DATA / "sot")
    assert len(ds) == 26
    crossing = ds["Crossing"]
    assert len(crossing) == 120 and crossing[0].shape == (240, 360, 3)
    np.testing.assert_array_equal(crossing.boxes_xywh[0], [204, 150, 17, 50])  # file: 205,151
    np.testing.assert_array_equal(ds["ball1"].boxes_xywh[0], [246, 208.5, 23.5, 23])  # 0-based
    group = ds["uav_group3_2"]
    assert group.absent.sum() == 47 and group.absent[90] and not group.absent[89]
