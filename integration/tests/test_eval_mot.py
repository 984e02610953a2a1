"""MOT metrics: equal to TrackEval (1e-6) on TUD-Campus/Stadtmitte and random cases."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trackkit.data import MOTRows, read_mot_rows
from trackkit.eval import (
    HOTA_ALPHAS,
    MOTScores,
    clear_mot,
    evaluate_mot,
    identity_metrics,
    iou_matrix_xywh,
    prepare_mot_eval,
)

with contextlib.redirect_stdout(io.StringIO()):  # trackeval prints optional-import notes
    trackeval = pytest.importorskip("trackeval", reason="trackeval (test extra) not installed")


def _motmetrics_data() -> Path | None:
    spec = importlib.util.find_spec("motmetrics")  # locating only: motmetrics is not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    return path if path.is_dir() else None


def _trackeval(
    tmp: Path, gt_file: Path, tr_file: Path, num_frames: int, benchmark: str
) -> tuple[dict[str, Any], Any]:
    """TrackEval's per-sequence CLEAR, Identity and HOTA results (and the data it used)."""
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "gt" / "SEQ" / "gt").mkdir(parents=True)
    (tmp / "tr" / "T" / "data").mkdir(parents=True)
    shutil.copy(gt_file, tmp / "gt" / "SEQ" / "gt" / "gt.txt")
    shutil.copy(tr_file, tmp / "tr" / "T" / "data" / "SEQ.txt")
    config = {
        "GT_FOLDER": str(tmp / "gt"),
        "TRACKERS_FOLDER": str(tmp / "tr"),
        "BENCHMARK": benchmark,
        "SKIP_SPLIT_FOL": True,
        "SEQ_INFO": {"SEQ": num_frames},
        "TRACKERS_TO_EVAL": ["T"],
        "PRINT_CONFIG": False,
    }
    out: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = trackeval.datasets.MotChallenge2DBox(config)
        raw = dataset.get_raw_seq_data("T", "SEQ")
        data = dataset.get_preprocessed_seq_data(raw, "pedestrian")
        metrics = [
            trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
            trackeval.metrics.Identity({"PRINT_CONFIG": False}),
            trackeval.metrics.HOTA(),
        ]
        for metric in metrics:
            out.update(metric.eval_sequence(data))
    return out, metrics


def _assert_equal(mine: MOTScores, ref: dict[str, Any]) -> None:
    c, i, h = mine.clear, mine.identity, mine.hota
    pairs = {
        "MOTA": c.mota,
        "MOTP": c.motp,
        "MODA": c.moda,
        "CLR_Re": c.recall,
        "CLR_Pr": c.precision,
        "CLR_TP": c.tp,
        "CLR_FN": c.fn,
        "CLR_FP": c.fp,
        "IDSW": c.idsw,
        "Frag": c.frag,
        "MT": c.mt,
        "PT": c.pt,
        "ML": c.ml,
        "IDF1": i.idf1,
        "IDP": i.idp,
        "IDR": i.idr,
        "IDTP": i.idtp,
        "IDFN": i.idfn,
        "IDFP": i.idfp,
    }
    for key, value in pairs.items():
        assert value == pytest.approx(float(ref[key]), abs=1e-6), key
    curves = {
        "HOTA": h.hota_curve,
        "DetA": h.det_a_curve,
        "AssA": h.ass_a,
        "AssRe": h.ass_re,
        "AssPr": h.ass_pr,
        "DetRe": h.det_re_curve,
        "DetPr": h.det_pr_curve,
        "LocA": h.loc_a,
        "HOTA_TP": h.tp,
        "HOTA_FN": h.fn,
        "HOTA_FP": h.fp,
    }
    for key, curve in curves.items():
        np.testing.assert_allclose(curve, ref[key], atol=1e-6, rtol=0, err_msg=key)
    assert h.hota == pytest.approx(float(np.mean(ref["HOTA"])), abs=1e-6)


@pytest.mark.parametrize("seq,num_frames", [("TUD-Campus", 71), ("TUD-Stadtmitte", 179)])
def test_equals_trackeval_on_motmetrics_sample(tmp_path: Path, seq: str, num_frames: int) -> None:
    data = _motmetrics_data()
    if data is None:
        pytest.skip("motmetrics 1.4.0 (test extra) not installed: no TUD sample files")
    gt_file, tr_file = data / seq / "gt.txt", data / seq / "test.txt"
    ref, _ = _trackeval(tmp_path, gt_file, tr_file, num_frames, "MOT15")
    mine = evaluate_mot(read_mot_rows(gt_file), read_mot_rows(tr_file), num_frames)
    _assert_equal(mine, ref)
    assert mine.clear.tp > 100 and 0 < mine.clear.mota < 1  # a real, non-trivial case


def _random_case(
    rng: np.random.Generator, num_frames: int, *, mot17: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth and tracker rows in MOTChallenge file layout (1-based)."""
    gt_rows, tr_rows = [], []
    n_obj = int(rng.integers(1, 9))
    next_track = 1
    for obj in range(1, n_obj + 1):
        start = int(rng.integers(1, num_frames + 1))
        stop = int(rng.integers(start, num_frames + 1))
        xy = rng.uniform(0, 200, size=2)
        wh = rng.uniform(10, 60, size=2)
        vel = rng.normal(0, 3, size=2)
        cls = int(rng.choice([1, 1, 1, 2, 7, 8, 12, 3])) if mot17 else -1
        track_id = next_track
        for f in range(start, stop + 1):
            box = np.concatenate([xy + vel * (f - start), wh])
            if rng.random() < 0.9:  # gaps in the ground truth
                consider = float(rng.random() < 0.9) if mot17 else float(rng.random() < 0.95)
                extra = [consider, cls, rng.uniform(0, 1)] if mot17 else [consider, -1, -1, -1]
                gt_rows.append([f, obj, *box, *extra])
            if rng.random() < 0.8:  # misses
                if rng.random() < 0.06:  # identity switch of the tracker
                    next_track += 1
                    track_id = next_track
                noisy = box + rng.normal(0, 4, size=4) * [1, 1, 0.5, 0.5]
                noisy[2:] = np.maximum(noisy[2:], 1)
                tr_rows.append([f, track_id, *noisy, 1.0, -1, -1, -1])
        next_track += 1
    for _ in range(int(rng.integers(0, 12))):  # false positives
        f = int(rng.integers(1, num_frames + 1))
        box = np.concatenate([rng.uniform(0, 250, 2), rng.uniform(5, 50, 2)])
        tr_rows.append([f, 1000 + int(rng.integers(0, 4)), *box, 0.5, -1, -1, -1])
    tr = np.array(tr_rows) if tr_rows else np.zeros((0, 10))
    # one row per (frame, id) in tracker output: drop duplicates of random false positives
    if len(tr):
        _, keep = np.unique(tr[:, :2], axis=0, return_index=True)
        tr = tr[np.sort(keep)]
    return np.array(gt_rows).reshape(-1, 9 if mot17 else 10), tr


def _write(path: Path, rows: np.ndarray) -> None:
    path.write_text("".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mot17", [False, True])
def test_equals_trackeval_on_random_cases(tmp_path: Path, seed: int, mot17: bool) -> None:
    rng = np.random.default_rng(seed + 100 * mot17)
    num_frames = int(rng.integers(3, 30))
    gt, tr = _random_case(rng, num_frames, mot17=mot17)
    if len(gt) == 0 or len(tr) == 0:
        pytest.skip("degenerate random case")  # covered by test_empty_sides
    _write(tmp_path / "gt.txt", gt)
    _write(tmp_path / "tr.txt", tr)
    ref, _ = _trackeval(
        tmp_path / "te",
        tmp_path / "gt.txt",
        tmp_path / "tr.txt",
        num_frames,
        "MOT17" if mot17 else "MOT15",
    )
    mine = evaluate_mot(
        read_mot_rows(tmp_path / "gt.txt"),
        read_mot_rows(tmp_path / "tr.txt"),
        num_frames,
        mot17_preprocessing=mot17,
    )
    _assert_equal(mine, ref)


def test_combined_sequences_equal_trackeval(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    mine, refs = [], {}
    metrics: Any = None
    for k in range(3):
        gt, tr = _random_case(rng, 15, mot17=False)
        _write(tmp_path / f"gt{k}.txt", gt)
        _write(tmp_path / f"tr{k}.txt", tr)
        refs[f"s{k}"], metrics = _trackeval(
            tmp_path / f"te{k}", tmp_path / f"gt{k}.txt", tmp_path / f"tr{k}.txt", 15, "MOT15"
        )
        mine.append(
            evaluate_mot(
                read_mot_rows(tmp_path / f"gt{k}.txt"), read_mot_rows(tmp_path / f"tr{k}.txt"), 15
            )
        )
    combined_ref: dict[str, Any] = {}
    for metric in metrics:
        fields = set(metric.fields)
        combined_ref.update(
            metric.combine_sequences(
                {s: {f: r[f] for f in r if f in fields} for s, r in refs.items()}
            )
        )
    _assert_equal(MOTScores.combine(mine), combined_ref)


def _rows(frames: list[int], ids: list[int], boxes: list[list[float]]) -> MOTRows:
    return MOTRows(np.array(frames), np.array(ids), np.array(boxes, float), np.ones(len(frames)))


def test_hand_computed_switch_and_fragment() -> None:
    box = [0.0, 0, 10, 10]
    gt = _rows([0, 1, 2, 3], [1, 1, 1, 1], [box] * 4)
    far = [100.0, 100, 10, 10]
    # frame 0: id 5; frame 1: missed (a false box elsewhere); frame 2: id 5; frame 3: id 6
    tr = _rows([0, 1, 2, 3], [5, 9, 5, 6], [box, far, box, box])
    data = prepare_mot_eval(gt, tr, 4)
    c = clear_mot(data)
    assert (c.tp, c.fn, c.fp, c.idsw, c.frag) == (3, 1, 1, 1, 1)
    assert c.mota == pytest.approx((3 - 1 - 1) / 4) and c.motp == pytest.approx(1.0)
    assert (c.mt, c.pt, c.ml) == (0, 1, 0)  # tracked 3 of 4 frames = 75 %
    i = identity_metrics(data)
    assert (i.idtp, i.idfn, i.idfp) == (2, 2, 2)  # gt 1 <-> track 5 share 2 frames
    assert i.idf1 == pytest.approx(2 * 2 / (2 * 2 + 2 + 2))
    # TrackEval's convention: a frame with no tracker box at all does not break a stretch.
    gap = prepare_mot_eval(gt, _rows([0, 2, 3], [5, 5, 6], [box] * 3), 4)
    assert clear_mot(gap).frag == 0


def test_perfect_tracking_scores_one() -> None:
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(0, 100, (12, 2)), rng.uniform(10, 30, (12, 2))], axis=1)
    frames = np.repeat(np.arange(4), 3)
    ids = np.tile([1, 2, 3], 4)
    gt = MOTRows(frames, ids, boxes, np.ones(12))
    s = evaluate_mot(gt, MOTRows(frames, ids + 10, boxes, np.ones(12)), 4)
    assert s.clear.mota == 1.0 and s.identity.idf1 == 1.0
    np.testing.assert_allclose(s.hota.hota_curve, 1.0)
    assert len(HOTA_ALPHAS) == 19 and s.hota.loc_a_mean == pytest.approx(1.0)


def test_empty_sides() -> None:
    gt = _rows([0, 1], [1, 1], [[0, 0, 5, 5]] * 2)
    s = evaluate_mot(gt, MOTRows.empty(), 2)
    assert (s.clear.fn, s.clear.ml, s.identity.idfn) == (2, 1, 2)
    assert s.hota.hota == 0.0
    s = evaluate_mot(MOTRows.empty(), gt, 2)
    assert s.clear.fp == 2 and s.identity.idfp == 2 and s.hota.fp[0] == 2


def test_input_errors() -> None:
    gt = _rows([0, 0], [1, 1], [[0, 0, 5, 5]] * 2)
    with pytest.raises(ValueError, match="repeated id"):
        evaluate_mot(gt, MOTRows.empty(), 1)
    with pytest.raises(ValueError, match="outside"):
        evaluate_mot(_rows([3], [1], [[0, 0, 5, 5]]), MOTRows.empty(), 2)


def test_iou_matrix_degenerate_boxes() -> None:
    m = iou_matrix_xywh([[0, 0, 10, 10], [0, 0, 0, 10]], [[5, 0, 10, 10], [0, 0, 0, 10]])
    np.testing.assert_allclose(m, [[50 / 150, 0], [0, 0]])


DATA = Path(__file__).resolve().parents[2] / "../shared/data"


@pytest.mark.skipif(not (DATA / "mot").is_dir(), reason="../shared/data/mot not available")
@pytest.mark.parametrize("seq,num_frames", [("MOT17-04-FRCNN-mini", 8), ("MOT17-02-FRCNN-mini", 4)])
def test_equals_trackeval_on_real_mot17_gt(tmp_path: Path, seq: str, num_frames: int) -> None:
    """Real MOT17 ground truth (classes, consider flags, distractors); detections as tracks."""
    from trackkit.data import write_mot_rows

    folder = DATA / "mot" / seq
    det = read_mot_rows(folder / "det" / "det.txt")
    tracks = MOTRows(det.frames, np.arange(1, len(det) + 1), det.boxes_xywh, det.confidences)
    write_mot_rows(tmp_path / "tracks.txt", tracks)
    ref, _ = _trackeval(
        tmp_path / "te", folder / "gt" / "gt.txt", tmp_path / "tracks.txt", num_frames, "MOT17"
    )
    mine = evaluate_mot(
        read_mot_rows(folder / "gt" / "gt.txt"),
        read_mot_rows(tmp_path / "tracks.txt"),
        num_frames,
        mot17_preprocessing=True,
    )
    _assert_equal(mine, ref)
    assert mine.clear.tp > 20
