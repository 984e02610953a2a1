"""The MOT runner and det-file association runs, with a hand-made tracker and assoc's."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from trackkit.data import MOTRows, read_mot_rows, synthetic_mot_sequence
from trackkit.eval import evaluate_mot, mot_results_table, run_mot_benchmark
from trackkit.mot import DetectionTracker, associate


class EveryBoxNewId:
    """Reports each detection as a new track: no association at all."""

    def reset(self) -> None:
        self.next = 1

    def update(self, boxes_xyxy, scores, embeddings=None):  # type: ignore[no-untyped-def]
        ids = np.arange(self.next, self.next + len(boxes_xyxy))
        self.next += len(boxes_xyxy)
        return SimpleNamespace(ids=ids, boxes_xyxy=boxes_xyxy, scores=scores)


def test_associate_passes_frames_and_boxes_through() -> None:
    seq = synthetic_mot_sequence(length=20, num_objects=3, seed=4, render=False)
    assert seq.det is not None and seq.gt is not None
    tracks, seconds = associate(EveryBoxNewId(), seq.det, 20, min_score=0.5)
    kept = seq.det.select(seq.det.confidences >= 0.5)
    assert len(tracks) == len(kept) and seconds >= 0
    order = np.lexsort((kept.boxes_xywh[:, 0], kept.frames))
    order_t = np.lexsort((tracks.boxes_xywh[:, 0], tracks.frames))
    np.testing.assert_allclose(tracks.boxes_xywh[order_t], kept.boxes_xywh[order], atol=1e-9)
    np.testing.assert_array_equal(tracks.frames[order_t], kept.frames[order])
    # Identity is never kept, so every continued match is a switch: MOTA < MODA.
    s = evaluate_mot(seq.gt, tracks, 20)
    assert s.clear.idsw > 0 and s.clear.mota < s.clear.moda


def test_assoc_sort_tracks_a_clean_scene(tmp_path: Path) -> None:
    assoc = pytest.importorskip("assoc")
    seqs = [
        synthetic_mot_sequence(
            length=40,
            num_objects=4,
            seed=s,
            miss_rate=0.0,
            false_positives=0.0,
            box_noise=0.01,
            render=False,
        )
        for s in (1, 2)
    ]
    sort = run_mot_benchmark(
        DetectionTracker(assoc.SortTracker()),
        seqs,
        name="sort",
        results_dir=tmp_path,
        progress=False,
        repeats=2,
    )
    naive = run_mot_benchmark(DetectionTracker(EveryBoxNewId()), seqs, name="naive", progress=False)
    assert sort.combined.clear.mota > 0.8 and sort.combined.identity.idf1 > 0.8
    assert sort.combined.identity.idf1 > naive.combined.identity.idf1 + 0.3
    back = read_mot_rows(tmp_path / "sort" / f"{seqs[0].name}.txt")
    direct = evaluate_mot(seqs[0].gt, back, 40)  # type: ignore[arg-type]
    assert direct.clear.mota == pytest.approx(sort.scores[seqs[0].name].clear.mota, abs=1e-3)
    table = mot_results_table([sort, naive])
    assert "| sort |" in table and "IDF1" in table and sort.fps > 0


def test_mot_runner_errors() -> None:
    with pytest.raises(TypeError, match="reset"):
        associate(object(), MOTRows.empty(), 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reset"):
        DetectionTracker(object())
    with pytest.raises(TypeError, match="DetectionTracker"):
        run_mot_benchmark(EveryBoxNewId(), [], name="x")  # type: ignore[arg-type]
    seq = synthetic_mot_sequence(length=5, num_objects=1, seed=0, render=False)
    no_det = type(seq)(seq.name, seq.num_frames, None, seq.gt, None)
    with pytest.raises(ValueError, match=r"det\.txt"):
        run_mot_benchmark(DetectionTracker(EveryBoxNewId()), [no_det], name="x", progress=False)
    no_gt = type(seq)(seq.name, seq.num_frames, None, None, seq.det)
    with pytest.raises(ValueError, match="gt"):
        run_mot_benchmark(DetectionTracker(EveryBoxNewId()), [no_gt], name="x", progress=False)
