"""The single-object benchmark runner, result files, tables and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.data import Sequence, synthetic_sot_sequence
from trackkit.eval import (
    evaluate_sot,
    plot_sot_results,
    read_otb_results,
    run_sot_benchmark,
    run_sot_sequence,
    sot_results_table,
    write_otb_results,
)


class Oracle:
    """Reads the answer off the sequence: a perfect tracker (checks frame/box alignment)."""

    def __init__(self, seqs: list[Sequence]) -> None:
        self.seqs = seqs
        self.t = 0

    def init(self, frame: np.ndarray, box_xywh: np.ndarray) -> None:
        found = [s for s in self.seqs if np.array_equal(frame, s[0])]
        assert len(found) == 1
        self.seq = found[0]
        np.testing.assert_array_equal(box_xywh, self.seq.boxes_xywh[0])
        self.t = 0

    def update(self, frame: np.ndarray) -> np.ndarray:
        self.t += 1
        assert np.array_equal(frame, self.seq[self.t])
        return self.seq.boxes_xywh[self.t]


class Still:
    """Never moves; reports failure every other frame as ``(box, ok)``."""

    def init(self, frame: np.ndarray, box_xywh: np.ndarray) -> None:
        self.box = np.asarray(box_xywh, float)
        self.k = 0

    def update(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        self.k += 1
        if self.k % 2:
            return np.array([-50.0, -50, 1, 1]), False  # ignored: previous box reported
        return self.box, True


@pytest.fixture(scope="module")
def seqs() -> list[Sequence]:
    return [
        synthetic_sot_sequence(length=15, seed=s, image_size=(160, 120), target_size=(24, 20))
        for s in (0, 1)
    ]


def test_oracle_is_perfect_and_still_matches_direct_scoring(seqs: list[Sequence]) -> None:
    run = run_sot_sequence(Oracle(seqs), seqs[0])
    assert run.scores.auc == pytest.approx(20 / 21) and run.scores.precision == 1.0
    np.testing.assert_array_equal(run.boxes_xywh, seqs[0].boxes_xywh)
    still = run_sot_sequence(Still(), seqs[1])
    const = np.tile(seqs[1].boxes_xywh[0], (15, 1))
    direct = evaluate_sot(const, seqs[1].boxes_xywh)
    assert still.scores.auc == direct.auc and still.scores.ao == direct.ao
    np.testing.assert_array_equal(still.boxes_xywh, const)
    assert still.seconds.shape == (15,) and still.fps > 0


def test_benchmark_files_table_and_plot(tmp_path: Path, seqs: list[Sequence]) -> None:
    oracle = run_sot_benchmark(
        lambda: Oracle(seqs), seqs, name="oracle", results_dir=tmp_path, progress=False
    )
    still = run_sot_benchmark(Still, seqs, name="still", results_dir=tmp_path, progress=False)
    assert oracle.mean.auc == pytest.approx(20 / 21) and still.mean.auc < oracle.mean.auc
    back = read_otb_results(tmp_path / "still" / f"{seqs[0].name}.txt", coordinate_base=0)
    np.testing.assert_allclose(back, still.runs[seqs[0].name].boxes_xywh, atol=1e-4)
    table = sot_results_table([oracle, still])
    assert table.splitlines()[2].startswith("| oracle | 0.952 | 1.000")
    png = plot_sot_results([oracle, still], tmp_path / "plots" / "success.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    # no suffix: the returned path is the file written (it named a file that did not exist)
    assert plot_sot_results([still], tmp_path / "plots" / "bare") == tmp_path / "plots" / "bare.png"
    assert (tmp_path / "plots" / "bare.png").is_file()
    with pytest.raises(ValueError, match="is a folder"):
        plot_sot_results([still], tmp_path / "plots")


def test_otb_result_files_are_one_based(tmp_path: Path) -> None:
    write_otb_results(tmp_path / "r.txt", [[0.0, 1, 2, 3]])
    lines = (tmp_path / "r.txt").read_text().splitlines()
    assert lines == ["# trackkit x,y,w,h coordinate_base=1", "1.0000,2.0000,2.0000,3.0000"]
    np.testing.assert_allclose(read_otb_results(tmp_path / "r.txt"), [[0, 1, 2, 3]])
    np.testing.assert_allclose(np.loadtxt(tmp_path / "r.txt", delimiter=","), [1, 2, 2, 3])


def test_runner_rejects_bad_trackers(seqs: list[Sequence]) -> None:
    with pytest.raises(TypeError, match="init"):
        run_sot_sequence(object(), seqs[0])  # type: ignore[arg-type]

    class Bad(Still):
        def update(self, frame: np.ndarray) -> np.ndarray:  # type: ignore[override]
            return np.zeros(3)

    with pytest.raises(ValueError, match="4 numbers"):
        run_sot_sequence(Bad(), seqs[0])


def test_tre_segments_restart_on_usable_frames() -> None:
    from trackkit.eval import tre_segments

    n = 50
    frames = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    boxes = np.tile([1.0, 1.0, 2.0, 2.0], (n, 1))
    absent = np.zeros(n, bool)
    absent[15:18] = True  # the wanted start 15 moves to 18
    seq = Sequence("s", frames, boxes, absent)
    segs = tre_segments(seq, 3, min_length=20)  # wanted starts 0, 15, 30
    assert [g.name for g in segs] == ["s@0", "s@18", "s@30"]
    for g in segs:
        start = g.meta["tre_start"]
        assert len(g) == n - start and g[0][0, 0, 0] == start  # runs to the end
        np.testing.assert_array_equal(g.absent, absent[start:])
    assert tre_segments(seq, 1)[0].name == "s@0"
    assert [g.name for g in tre_segments(seq[:10], 5, min_length=20)] == ["s"]  # too short
    # the oracle is perfect on every segment
    result = run_sot_benchmark(lambda: Oracle(segs), segs, name="oracle", progress=False)
    assert result.mean.auc == pytest.approx(evaluate_sot(boxes, boxes).auc)
    with pytest.raises(ValueError, match="segments"):
        tre_segments(seq, 0)
    bad = Sequence("b", frames, boxes, np.r_[True, np.zeros(n - 1, bool)])
    with pytest.raises(ValueError, match="frame 0"):
        tre_segments(bad)
