"""`trackkit mot`: association-only tracking from det.txt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trackkit.cli import main
from trackkit.data import read_mot_rows


@pytest.mark.parametrize(
    "tracker", ["sort", "retinatrack-iou", "motion", "bytetrack", "ocsort", "botsort"]
)
def test_mot_tracks_and_scores(
    tmp_path: Path, tracker: str, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    pytest.importorskip("assoc")
    write_mot_folder(tmp_path / "data", length=12, num_objects=3, seed=5)
    code = main(
        [
            "mot",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "out"),
            "--tracker",
            tracker,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and f"| {tracker} |" in out
    rows = read_mot_rows(tmp_path / "out" / tracker / "SYN-01.txt")
    assert len(rows) > 10 and np.unique(rows.ids).size >= 3
    # A single sequence folder works too.
    assert (
        main(["mot", "--data", str(tmp_path / "data" / "SYN-01"), "--out", str(tmp_path / "o2")])
        == 0
    )


def test_mot_data_no_progress_hides_the_sequence_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    pytest.importorskip("assoc")
    write_mot_folder(tmp_path / "data", length=12, num_objects=3, seed=5)
    argv = ["mot", "--data", str(tmp_path / "data"), "--tracker", "sort"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "seq" in capsys.readouterr().err  # tqdm's bar over sequences ("1/1 [..., seq/s]")
    assert main([*argv, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "| sort |" in captured.out


def test_mot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mot", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["mot", "--data", str(tmp_path / "empty"), "--out", str(tmp_path)]) == 2
    assert "not a MOTChallenge folder" in capsys.readouterr().err
