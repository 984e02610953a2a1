"""MOTChallenge rows, seqinfo.ini and the folder reader."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.data import MOTRows, read_mot_rows, read_motchallenge, read_seqinfo, write_mot_rows

DATA = Path(os.environ.get("TRACKKIT_DATA", Path(__file__).resolve().parents[2] / "../shared/data"))

SEQINFO = (
    "[Sequence]\nname={name}\nimDir=img1\nframeRate=25\nseqLength={n}\n"
    "imWidth=16\nimHeight=12\nimExt=.jpg\n"
)


def _make_seq(root: Path, name: str, n: int, gt: str, det: str | None, images: bool) -> None:
    folder = root / name
    (folder / "gt").mkdir(parents=True)
    (folder / "seqinfo.ini").write_text(SEQINFO.format(name=name, n=n))
    (folder / "gt" / "gt.txt").write_text(gt)
    if det is not None:
        (folder / "det").mkdir()
        (folder / "det" / "det.txt").write_text(det)
    if images:
        (folder / "img1").mkdir()
        for i in range(1, n + 1):
            cv2.imwrite(str(folder / "img1" / f"{i:06d}.jpg"), np.full((12, 16, 3), i, np.uint8))


def test_mot15_and_mot17_columns(tmp_path: Path) -> None:
    mot15 = tmp_path / "a.txt"
    mot15.write_text("1,1,11,21,5,6,1,-1,-1,-1\n2,1,12,22,5,6,0,-1,-1,-1\n")
    rows = read_mot_rows(mot15)
    np.testing.assert_array_equal(rows.frames, [0, 1])  # 0-based frame index
    np.testing.assert_array_equal(rows.boxes_xywh[0], [10, 20, 5, 6])  # 0-based pixels
    np.testing.assert_array_equal(rows.confidences, [1, 0])
    np.testing.assert_array_equal(rows.classes, [1, 1])  # no class column in MOT15
    mot17 = tmp_path / "b.txt"
    mot17.write_text("1,1,912,484,97,109,0,7,1.0\n1,2,10,10,5,5,1,1,0.25\n")
    rows17 = read_mot_rows(mot17)
    np.testing.assert_array_equal(rows17.classes, [7, 1])
    np.testing.assert_array_equal(rows17.visibility, [1.0, 0.25])
    det = tmp_path / "det.txt"
    det.write_text("2,-1,915.8,481.4,93.5,113.6,0.9\n")
    d = read_mot_rows(det)
    assert d.frames[0] == 1 and d.confidences[0] == pytest.approx(0.9)


def test_write_read_round_trip(tmp_path: Path) -> None:
    rows = MOTRows(
        np.array([1, 0, 0]),
        np.array([3, 2, 1]),
        np.array([[0.5, 1, 2, 3], [4, 5, 6, 7], [-1, 0, 2, 2]]),
        np.array([0.5, 1.0, 0.25]),
    )
    write_mot_rows(tmp_path / "out" / "r.txt", rows)
    text = (tmp_path / "out" / "r.txt").read_text().splitlines()
    assert text[0].startswith("1,1,0.000,1.000,2.000,2.000")  # sorted, 1-based
    back = read_mot_rows(tmp_path / "out" / "r.txt")
    order = np.lexsort((rows.ids, rows.frames))
    np.testing.assert_allclose(back.boxes_xywh, rows.boxes_xywh[order], atol=1e-3)
    np.testing.assert_array_equal(back.frames, rows.frames[order])


def test_split_by_frame_and_select() -> None:
    rows = MOTRows(np.array([2, 0, 2, 1]), np.arange(4), np.zeros((4, 4)), np.ones(4))
    split = rows.split_by_frame(4)
    assert [s.tolist() for s in split] == [[1], [3], [0, 2], []]
    assert len(rows.at_frame(2)) == 2 and len(MOTRows.concatenate([rows, rows])) == 8
    with pytest.raises(ValueError, match="outside"):
        rows.split_by_frame(2)
    with pytest.raises(ValueError, match="rows"):
        MOTRows(np.zeros(2), np.zeros(3), np.zeros((2, 4)), np.zeros(2))


def test_read_motchallenge_folder(tmp_path: Path) -> None:
    _make_seq(
        tmp_path,
        "S1",
        3,
        "1,1,1,1,4,4,1,-1,-1,-1\n3,1,2,2,4,4,1,-1,-1,-1\n",
        "1,-1,1,1,4,4,0.9\n",
        True,
    )
    _make_seq(tmp_path, "S2", 2, "1,1,1,1,4,4,1,1,1.0\n", None, False)
    ds = read_motchallenge(tmp_path)
    assert ds.names == ["S1", "S2"]
    s1 = ds["S1"]
    assert s1.num_frames == 3 and s1.frame_rate == 25 and s1.image_size == (16, 12)
    assert s1.frames is not None and s1.frames[2][0, 0, 0] in (2, 3, 4)  # jpeg: approximately 3
    assert s1.det is not None and len(s1.det) == 1
    s2 = ds["S2"]
    assert s2.frames is None and s2.det is None and s2.gt is not None
    assert s2.gt.classes[0] == 1


def test_motchallenge_errors(tmp_path: Path) -> None:
    _make_seq(tmp_path, "S", 2, "5,1,1,1,4,4,1,-1,-1,-1\n", None, False)
    with pytest.raises(ValueError, match="seqLength"):
        read_motchallenge(tmp_path)["S"]
    (tmp_path / "bad.ini").write_text("[Other]\nx=1\n")
    with pytest.raises(ValueError, match="Sequence"):
        read_seqinfo(tmp_path / "bad.ini")
    with pytest.raises(NotADirectoryError):
        read_motchallenge(tmp_path / "nope")
    (tmp_path / "short.txt").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="6 columns"):
        read_mot_rows(tmp_path / "short.txt")


@pytest.mark.skipif(not (DATA / "mot15").is_dir(), reason="../shared/data/mot15 not available")
def test_shared_mot_data() -> None:
    ds = read_motchallenge(DATA / "mot15")
    campus = ds["TUD-Campus"]
    assert campus.num_frames == 71 and campus.gt is not None and len(campus.gt) == 359
    assert campus.det is not None and len(campus.det) == 321
    mot = read_motchallenge(DATA / "mot")
    mini = mot["MOT17-02-FRCNN-mini"]
    assert mini.gt is not None and set(np.unique(mini.gt.classes)) <= set(range(1, 13))
    assert mini.frames is not None and mini.frames[0].shape == (1080, 1920, 3)
