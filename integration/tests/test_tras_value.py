"""Value-head refit of TRAS for TRASFUST: windows and their targets against slow loops, the
ridge fit against numpy, the ranking accuracy against a pair loop, the candidates' LSTM
inputs against single steps, the whole fit raising the ranking accuracy, and the replay of
cached teacher runs against a tracker built by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqrl
from trackkit.eval import overlaps_xywh
from trackkit.sot.tras import StudentConfig, TRASStudent
from trackkit.train import (
    TeacherRuns,
    TRASValueFitConfig,
    build_value_windows,
    fit_tras_value,
    synthetic_training_sequences,
    tras_replay_auc,
    tras_replay_run,
    value_head_inputs,
    value_set_features,
)

SMALL = StudentConfig(crop_size=32, neck_channels=8, hidden=32)


def _runs(seqs: list, seed: int = 0) -> dict[str, TeacherRuns]:
    """A good teacher (ground truth + small noise) and one that drifts away, then a failure."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in seqs:
        gt = s.boxes_xywh
        good = gt + rng.normal(0, 1.0, gt.shape) * np.array([1, 1, 0.2, 0.2])
        drift = gt.copy()
        drift[:, :2] += np.linspace(0, 60, len(gt))[:, None]
        good[0] = drift[0] = gt[0]
        success = np.ones((2, len(gt)), dtype=bool)
        boxes = np.stack([good, drift])
        boxes[1, 5] = np.nan  # a reported failure: carried forward
        success[1, 5] = False
        out[s.name] = TeacherRuns(s.name, ("good", "drift"), boxes, success, np.ones(2))
    return out


@pytest.fixture(scope="module")
def seqs() -> list:
    return synthetic_training_sequences(4, length=30, seed=500)


def test_windows_and_their_targets(seqs: list) -> None:
    runs = _runs(seqs)
    vs = build_value_windows(
        seqs,
        runs,
        teachers=("drift", "good"),
        window=4,
        windows_per_frame=0.2,
        gamma=0.8,
        holdout=[seqs[1].name],
    )
    assert vs.prev_xywh.shape == (len(vs), 2, 4, 4) and vs.teachers == ("drift", "good")
    assert vs.holdout.tolist() == [int(i) == 1 for i in vs.sequence]
    for w in range(len(vs)):
        s = seqs[int(vs.sequence[w])]
        r = runs[s.name]
        f = vs.frames[w].numpy()
        for k, col in enumerate((1, 0)):  # the teachers in the asked order
            boxes = r.boxes_xywh[col].copy()
            boxes[5] = boxes[4] if col == 1 else boxes[5]  # carried forward
            np.testing.assert_allclose(vs.prev_xywh[w, k].numpy(), boxes[f[:-1]])
            iou = overlaps_xywh(boxes, s.boxes_xywh)
            np.testing.assert_allclose(vs.next_iou[w, k].numpy(), iou[f[1:]], atol=1e-6)
            reward = seqrl.quantised_iou_reward(torch.from_numpy(iou)).numpy()
            for j, t in enumerate(f[1:]):  # slow discounted return to the sequence's end
                ret = sum(0.8**i * reward[u] for i, u in enumerate(range(t, len(s))))
                assert vs.returns[w, k, j].item() == pytest.approx(ret, abs=1e-4)
    with pytest.raises(ValueError, match="window"):
        build_value_windows(seqs, runs, teachers=("good",), window=0)


def test_candidate_states_step_from_the_best_candidates_context(seqs: list) -> None:
    torch.manual_seed(0)
    model = TRASStudent(SMALL, pretrained=False).eval()
    vs = build_value_windows(seqs[:2], _runs(seqs[:2]), teachers=("good", "drift"), window=3)
    maps = value_set_features(model, seqs[:2], vs, progress=False)
    h = value_head_inputs(model, maps, vs.next_iou)
    g = 0
    with torch.no_grad():
        feats = model.encode_trunk(maps[g].float().reshape(-1, *maps.shape[4:])).reshape(2, 3, -1)
        state = None
        for t in range(3):
            for k in range(2):
                _, _, (hk, _) = model.step(feats[k, t][None], state)
                torch.testing.assert_close(h[g, k, t][None], hk, atol=1e-5, rtol=0)
            best = int(vs.next_iou[g, :, t].argmax())
            _, _, state = model.step(feats[best, t][None], state)


@pytest.mark.usefixtures("one_thread")
def test_the_fit_raises_the_ranking_accuracy(seqs: list) -> None:
    torch.manual_seed(0)
    model = TRASStudent(SMALL, pretrained=False).eval()
    runs = _runs(seqs)
    cfg = TRASValueFitConfig(
        windows_per_frame=0.3, margins=(0.0, 0.1), ridges=(1.0, 10.0), pools=(("good",),)
    )
    out = fit_tras_value(model, seqs, runs, cfg, teachers=("good", "drift"), progress=False)
    before, after = out["ranking_before"]["pairwise"], out["ranking_after"]["pairwise"]
    assert after > 0.6 and after > before + 0.2  # measured: 0.26 -> 0.67
    assert model.meta["fusion_margin"] == out["fusion_margin"] in (0.0, 0.1)
    assert set(out["margin_auc"]) == {"0.0", "0.1"}
    # the stored (pool, margin) is the best held-out AUC, ties to fewer teachers, lower margin
    table = out["pool_margin_auc"]
    assert set(table) == {"good+drift", "good"} and table["good+drift"] == out["margin_auc"]
    best = max(
        (a, -len(p.split("+")), -float(m), p, float(m))
        for p, d in table.items()
        for m, a in d.items()
    )
    assert (best[3], best[4]) == ("+".join(out["fusion_pool"]), out["fusion_margin"])
    assert model.meta["fusion_pool"] == out["fusion_pool"]
    with pytest.raises(ValueError, match="outside"):
        fit_tras_value(model, seqs, runs, TRASValueFitConfig(pools=(("bad",),)), teachers=("good",))
    with pytest.raises(ValueError, match="pools"):
        TRASValueFitConfig(pools=((),))
    assert out["candidates"] == ["good", "drift", "student"]
    assert {"trast_good_auc_before", "trast_good_auc_after"} <= set(out)
    with pytest.raises(ValueError, match="target"):
        TRASValueFitConfig(target="q")


@pytest.mark.usefixtures("one_thread")
def test_replay_run_is_the_tracker_on_the_cached_boxes(seqs: list) -> None:
    """``tras_replay_run`` is TRASFUST / TRAST with ``distill.ReplayTeacher``s built by hand
    (a reported failure replayed as one); its ``None`` options are the student's stored
    choices; ``tras_replay_auc`` is the runs' AUC, by default at the paper's rule."""
    from distill import ReplayTeacher
    from trackkit.eval import run_sot_sequence
    from trackkit.sot.tras import TRASTracker

    torch.manual_seed(0)
    student = TRASStudent(SMALL, pretrained=False).eval()
    with torch.no_grad():  # an untrained head's values differ by 1e-7; make them differ
        student.value.weight.mul_(1e5)
    student.meta = {"fusion_margin": 0.3, "fusion_average_iou": 0.5}
    runs, pool = _runs(seqs[:2]), ("drift", "good")
    seq = seqs[0]

    def by_hand(mode: str, names: tuple[str, ...], **kw: float) -> np.ndarray:
        r = runs[seq.name]
        teachers = []
        for name in names:
            boxes = r.boxes_xywh[r.teachers.index(name)].copy()
            boxes[1:][~r.success[r.teachers.index(name)][1:]] = np.nan
            teachers.append(lambda b=boxes, n=name: ReplayTeacher(b, name=n))
        trk = TRASTracker(student, mode=mode, teachers=teachers, parallel=False, **kw)
        return run_sot_sequence(trk, seq).boxes_xywh

    stored = tras_replay_run(student, seq, runs, pool)
    np.testing.assert_array_equal(stored.boxes_xywh, by_hand("trasfust", pool))
    paper = tras_replay_run(student, seq, runs, pool, margin=0.0, average_iou=0.0)
    np.testing.assert_array_equal(
        paper.boxes_xywh, by_hand("trasfust", pool, margin=0.0, average_iou=0.0)
    )
    assert not np.array_equal(stored.boxes_xywh, paper.boxes_xywh)  # the stored choices act
    trast = tras_replay_run(student, seq, runs, ["drift"], mode="trast")
    np.testing.assert_array_equal(trast.boxes_xywh, by_hand("trast", ("drift",)))
    aucs = tras_replay_auc(student, seqs[:2], runs, pool)
    expected = [
        tras_replay_run(student, s, runs, pool, margin=0.0, average_iou=0.0).scores.auc
        for s in seqs[:2]
    ]
    assert aucs == pytest.approx(expected, abs=0)
