"""Fitting the TRAS value head to rank teachers' states (TRAST / TRASFUST).

TRASFUST (Dunnhofer et al. 2020, eq. 8) outputs the box of the teacher whose state
``s_t^(k) = rho(F_{t-1}, F_t, b^(k)_{t-1})`` has the highest value ``s_v(s_t^(k))``, so its
accuracy rests on one property of the value head: ranking teachers' states by how well
following that teacher goes on. The warm start (``pretrain_tras``) fits the value on replayed
windows whose boxes are jittered copies of the ground truth or of teachers kept at
``IoU > beta`` on the whole chunk, so the critic never sees a teacher that lost its target,
the very case TRASFUST must recognise; the A3C critic sees only the student's own states.

This module measures and fixes that, keeping the policy (hence TRAS) unchanged:

- ``build_value_windows``: ``L``-step windows of the training sequences in which every
  teacher of the pool follows its own cached, unfiltered trajectory (failures included);
  windows where the teachers' IoUs differ (where a choice matters) are preferred. Each
  candidate state's target is the discounted eq. 2 return of following that teacher from the
  step on, to the end of the sequence (``seqrl.quantised_iou_reward``, the Monte Carlo return
  the critic's eq. 7 estimates), and its IoU at the step;
- ``value_set_features``: the frozen trunk's maps of every candidate state (cached);
- ``value_head_inputs``: the LSTM output ``h`` of every candidate state as the tracker forms
  it: every candidate takes one LSTM step from a shared context state, which follows the
  step's best candidate (the tracker continues from the chosen candidate);
- ``fit_tras_value``: the value head (a linear layer on ``h``) refitted by ridge regression
  on those returns (``seqrl.fit_linear_value``); the policy, the LSTM and the trunk are
  untouched. The ridge strength is chosen by ``distill.value_ranking_accuracy`` (the share of
  candidate pairs whose IoUs differ by more than 0.1 that the values order correctly, and the
  mean IoU of the candidate the values pick) on held-out training sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

import distill
import seqrl
from trackkit.data import Sequence as SotSequence
from trackkit.eval import SOTRun, overlaps_xywh
from trackkit.sot.tras import TRASStudent, student_crops

__all__ = [
    "TRASValueFitConfig",
    "TRASValueSet",
    "build_value_windows",
    "fit_tras_value",
    "tras_replay_auc",
    "tras_replay_run",
    "value_head_inputs",
    "value_set_features",
    "with_student_runs",
]


@dataclass(frozen=True)
class TRASValueSet:
    """``G`` windows of ``L`` steps, each with the ``K`` teachers of the pool as candidates.

    Attributes:
        sequence: ``[G]`` index of the window's sequence.
        frames: ``[G, L + 1]`` frame indices (step ``t`` goes from frame ``t`` to ``t + 1``).
        prev_xywh: ``[G, K, L, 4]`` teacher ``k``'s box ``b^(k)_{t-1}`` (the state's box).
        next_iou: ``[G, K, L]`` IoU of teacher ``k``'s box ``b^(k)_t`` with ``g_t``.
        returns: ``[G, K, L]`` discounted eq. 2 return of following teacher ``k`` from step
            ``t`` to the end of the sequence.
        holdout: ``[G]`` True for windows of the held-out sequences.
        teachers: the ``K`` teacher names.
    """

    sequence: Tensor
    frames: Tensor
    prev_xywh: Tensor
    next_iou: Tensor
    returns: Tensor
    holdout: Tensor
    teachers: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.sequence.shape[0])


def _carry_forward(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Replace non-finite boxes by the last finite one (a failed teacher keeps its box)."""
    out = boxes.copy()
    for t in range(1, len(out)):
        if not (np.isfinite(out[t]).all() and (out[t, 2:] > 0).all()):
            out[t] = out[t - 1]
    return out


def build_value_windows(
    sequences: Sequence[SotSequence],
    runs: dict[str, Any],
    *,
    teachers: Sequence[str],
    window: int = 8,
    windows_per_frame: float = 1 / 32,
    min_spread: float = 0.2,
    gamma: float = 0.9,
    holdout: Sequence[str] = (),
    seed: int = 0,
) -> TRASValueSet:
    """Draw the windows (see the module note) from the teachers' cached runs.

    ``runs[name]`` is a ``TeacherRuns`` of the sequence (``run_teachers``) holding every name in
    ``teachers``. Each sequence of ``T`` frames gives ``ceil(windows_per_frame * T)`` windows,
    drawn among the starts whose teachers' IoUs differ by more than ``min_spread`` on some
    step (all starts when none does); windows with an absent target are skipped. Sequences
    named in ``holdout`` are marked.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not windows_per_frame > 0:
        raise ValueError(f"windows_per_frame must be > 0, got {windows_per_frame}")
    if not teachers:
        raise ValueError("teachers: give at least one teacher")
    rng = np.random.default_rng(seed)
    held = set(holdout)
    rows: dict[str, list[Any]] = {k: [] for k in ("seq", "frames", "prev", "iou", "ret")}
    for i, seq in enumerate(sequences):
        r = runs[seq.name]
        cols = [r.teachers.index(t) for t in teachers]
        boxes = np.stack([_carry_forward(r.boxes_xywh[c]) for c in cols])  # [K, T, 4]
        n = len(seq)
        if n < window + 1:
            continue
        gt = seq.boxes_xywh
        iou = np.stack([overlaps_xywh(b, gt) for b in boxes])  # [K, T], NaN where gt absent
        present: NDArray[np.bool_] = np.asarray(np.isfinite(iou).all(axis=0))
        reward = seqrl.quantised_iou_reward(torch.from_numpy(np.nan_to_num(iou, nan=0.0)))
        ret = seqrl.discounted_returns(reward.double(), 0.0, gamma=gamma).numpy()  # [K, T]
        starts = [
            s
            for s in range(n - window)
            if present[s + 1 : s + window + 1].all() and np.isfinite(gt[s]).all()
        ]
        if not starts:
            continue
        spread = np.array([np.ptp(iou[:, s + 1 : s + window + 1], axis=0).max() for s in starts])
        pool = [s for s, d in zip(starts, spread) if d > min_spread] or starts
        count = min(len(pool), int(np.ceil(windows_per_frame * n)))
        for s in sorted(rng.choice(pool, size=count, replace=False).tolist()):
            rows["seq"].append(i)
            rows["frames"].append(np.arange(s, s + window + 1))
            rows["prev"].append(boxes[:, s : s + window])
            rows["iou"].append(iou[:, s + 1 : s + window + 1])
            rows["ret"].append(ret[:, s + 1 : s + window + 1])
    if not rows["seq"]:
        raise ValueError("no window: sequences too short or the target always absent")
    seq_idx = torch.as_tensor(rows["seq"], dtype=torch.int64)
    return TRASValueSet(
        sequence=seq_idx,
        frames=torch.as_tensor(np.stack(rows["frames"]), dtype=torch.int64),
        prev_xywh=torch.as_tensor(np.stack(rows["prev"]), dtype=torch.float64),
        next_iou=torch.as_tensor(np.stack(rows["iou"]), dtype=torch.float32),
        returns=torch.as_tensor(np.stack(rows["ret"]), dtype=torch.float32),
        holdout=torch.tensor([sequences[i].name in held for i in rows["seq"]]),
        teachers=tuple(teachers),
    )


@torch.no_grad()
def value_set_features(
    model: TRASStudent,
    sequences: Sequence[SotSequence],
    vset: TRASValueSet,
    *,
    progress: bool = True,
) -> Tensor:
    """The frozen trunk's maps of every candidate state: ``float16 [G, K, L, 2, C, h, w]``."""
    from tqdm.auto import tqdm

    cfg = model.config
    g, k, length = vset.prev_xywh.shape[:3]
    out: Tensor | None = None
    for w in tqdm(range(g), desc="value features", disable=not progress):
        seq = sequences[int(vset.sequence[w])]
        frames = [np.asarray(seq.frames[int(f)]) for f in vset.frames[w]]
        prev = [frames[t] for _ in range(k) for t in range(length)]
        cur = [frames[t + 1] for _ in range(k) for t in range(length)]
        crops = student_crops(
            prev,
            cur,
            vset.prev_xywh[w].reshape(-1, 4).numpy(),
            crop_size=cfg.crop_size,
            context=cfg.context,
        )
        maps = model.trunk_features(torch.from_numpy(crops))
        maps = maps.reshape(k, length, 2, *maps.shape[1:]).to(torch.float16).cpu()
        if out is None:
            out = torch.empty((g, *maps.shape), dtype=torch.float16)
        out[w] = maps
    assert out is not None
    return out


@torch.no_grad()
def value_head_inputs(model: TRASStudent, maps: Tensor, next_iou: Tensor) -> Tensor:
    """LSTM outputs ``h [G, K, L, hidden]`` of every candidate state, as the tracker forms them.

    At step ``t`` every candidate takes one LSTM step from the shared context state; the
    context then continues from the candidate with the highest ``next_iou`` (the candidate a
    perfect fusion would choose; the tracker continues from its chosen one).
    """
    g, k, length = maps.shape[:3]
    device = next(model.parameters()).device
    flat = maps.to(device).float().reshape(g * k * length * 2, *maps.shape[4:])
    feats = model.encode_trunk(flat).reshape(g, k, length, -1)
    best = next_iou.to(device).argmax(dim=1)  # [G, L]
    state: tuple[Tensor, Tensor] | None = None
    hs = []
    rows = torch.arange(g, device=device)
    for t in range(length):
        x = feats[:, :, t].reshape(g * k, -1)
        cand = None
        if state is not None:
            cand = (
                state[0][:, None].expand(g, k, -1).reshape(g * k, -1),
                state[1][:, None].expand(g, k, -1).reshape(g * k, -1),
            )
        _, _, (h, c) = model.step(x, cand)
        h, c = h.reshape(g, k, -1), c.reshape(g, k, -1)
        hs.append(h)
        state = (h[rows, best[:, t]], c[rows, best[:, t]])
    return torch.stack(hs, dim=2)


@dataclass(frozen=True)
class TRASValueFitConfig:
    """Options of :func:`fit_tras_value`.

    Attributes:
        window: steps ``L`` per window.
        windows_per_frame: windows drawn per frame of a sequence.
        min_spread: IoU spread between teachers that makes a window informative.
        target: ``"iou"`` (IoU of the teacher's box at the step) or ``"return"`` (its
            discounted eq. 2 return to the end of the sequence) as the regression target.
        ridges: ridge strengths tried; the one with the best pairwise ranking accuracy on the
            held-out windows is kept.
        margins: hysteresis margins of TRASFUST tried on the held-out sequences (the tracking
            loop with the teachers' cached runs replayed); the best mean AUC is stored as the
            student's ``fusion_margin``. Empty: keep 0 (the paper's rule).
        pools: further TRASFUST pools (tuples of teacher names, each within the fit's
            ``teachers``) tried with every margin on the held-out sequences next to the full
            ``teachers`` pool; the (pool, margin) with the best mean AUC (ties: fewer teachers,
            then the smaller margin) is stored as the student's ``fusion_pool`` and
            ``fusion_margin`` (TRASFUST's defaults).
        holdout_fraction: share of the training sequences held out for both selections.
        gamma: discount of the ``"return"`` target.
        include_student: add the student's own TRAS run as a candidate of every window, so
            that the head rates the student's states too (TRAST); without it the head, fitted
            on teachers' states only, overrates the student's drifting states.
        seed: seed of the held-out sequences and of the windows.
    """

    window: int = 8
    windows_per_frame: float = 1 / 16
    min_spread: float = 0.2
    target: str = "iou"
    ridges: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    margins: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)
    pools: tuple[tuple[str, ...], ...] = ()
    holdout_fraction: float = 0.25
    gamma: float = 0.9
    include_student: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.target not in ("iou", "return"):
            raise ValueError(f"target must be 'iou' or 'return', got {self.target!r}")
        if not self.ridges or any(not r >= 0 for r in self.ridges):
            raise ValueError(f"ridges must be numbers >= 0, got {self.ridges!r}")
        if any(not (np.isfinite(m) and m >= 0) for m in self.margins):
            raise ValueError(f"margins must be finite numbers >= 0, got {self.margins!r}")
        if any(not p or not all(isinstance(t, str) for t in p) for p in self.pools):
            raise ValueError(f"pools must be non-empty tuples of teacher names, got {self.pools}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")


def _replayed(boxes: NDArray[np.float64], success: NDArray[np.bool_], name: str) -> Any:
    from distill import ReplayTeacher

    b = boxes.copy()
    b[1:][~success[1:]] = np.nan  # a reported failure is replayed as one
    return ReplayTeacher(b, name=name)


def tras_replay_run(
    student: TRASStudent,
    sequence: SotSequence,
    runs: dict[str, Any],
    pool: Sequence[str],
    *,
    mode: str = "trasfust",
    margin: float | None = None,
    value_ema: float | None = None,
    average_iou: float | None = None,
    average_temperature: float | None = None,
) -> SOTRun:
    """The ``trackkit.eval.SOTRun`` of ``mode`` (``"trasfust"``, ``"trast"`` with one teacher,
    or ``"tras"`` with none) on ``sequence`` with ``pool``'s cached runs (``runs[sequence.name]``,
    a ``TeacherRuns`` of ``run_teachers``) replayed (``distill.ReplayTeacher``; a reported failure
    is replayed as one), one thread. ``margin``, ``value_ema``, ``average_iou`` and
    ``average_temperature`` as in ``TRASTracker``: ``None`` is its default (for TRASFUST the
    student's stored choice)."""
    from functools import partial

    from trackkit.eval import run_sot_sequence
    from trackkit.sot.tras import TRASTracker

    r = runs[sequence.name]
    specs = [
        partial(_replayed, r.boxes_xywh[r.teachers.index(t)], r.success[r.teachers.index(t)], t)
        for t in pool
    ]
    trk = TRASTracker(
        student,
        mode=mode,
        teachers=specs or None,
        parallel=False,
        margin=margin,
        value_ema=value_ema,
        average_iou=average_iou,
        average_temperature=average_temperature,
    )
    return run_sot_sequence(trk, sequence)


def tras_replay_auc(
    student: TRASStudent,
    sequences: Sequence[SotSequence],
    runs: dict[str, Any],
    pool: Sequence[str],
    *,
    mode: str = "trasfust",
    margin: float = 0.0,
    value_ema: float = 0.0,
    average_iou: float = 0.0,
    average_temperature: float = float("inf"),
) -> list[float]:
    """Success AUC per sequence of ``mode`` (``"trasfust"``, ``"trast"`` with one teacher, or
    ``"tras"`` with none) with ``pool``'s cached runs replayed (``tras_replay_run``); ``margin``,
    ``value_ema``, ``average_iou`` (0: off) and ``average_temperature`` as in ``TRASTracker``
    (the defaults here: the paper's rule, not the student's stored choice)."""
    replayed = [
        tras_replay_run(
            student,
            seq,
            runs,
            pool,
            mode=mode,
            margin=margin,
            value_ema=value_ema,
            average_iou=average_iou,
            average_temperature=average_temperature,
        )
        for seq in sequences
    ]
    return [float(r.scores.auc) for r in replayed]


def with_student_runs(
    student: TRASStudent, sequences: Sequence[SotSequence], runs: dict[str, Any]
) -> dict[str, Any]:
    """``runs`` with the student alone (TRAS) added as a candidate named ``"student"``, so
    that the value head also learns to rate the student's own states (TRAST compares them
    with a teacher's)."""
    from trackkit.eval import run_sot_sequence
    from trackkit.sot.tras import TRASTracker
    from trackkit.train._tras_data import TeacherRuns

    out = {}
    for seq in sequences:
        r = runs[seq.name]
        boxes = run_sot_sequence(TRASTracker(student, mode="tras"), seq).boxes_xywh
        out[seq.name] = TeacherRuns(
            seq.name,
            (*r.teachers, "student"),
            np.concatenate((r.boxes_xywh, np.asarray(boxes, dtype=np.float64)[None])),
            np.concatenate((r.success, np.ones((1, len(seq)), dtype=bool))),
            np.concatenate((r.fps, [0.0])),
        )
    return out


def fit_tras_value(
    student: TRASStudent,
    sequences: Sequence[SotSequence],
    runs: dict[str, Any],
    config: TRASValueFitConfig,
    *,
    teachers: Sequence[str],
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Refit ``student``'s value head in place (see the module note); returns a summary.

    A seeded ``holdout_fraction`` of ``sequences`` is held out: their windows select the ridge
    strength (pairwise ranking accuracy) and whole-sequence TRASFUST runs on them select the
    hysteresis margin (and, with ``config.pools``, the pool), stored in
    ``student.meta["fusion_margin"]`` / ``["fusion_pool"]`` (``TRASTracker``
    uses it by default). The head is fitted on the other sequences' windows. The trunk maps
    are cached in ``cache_dir`` under a digest of the windows.
    """
    import hashlib
    import json
    import time

    names = [s.name for s in sequences]
    for pool in config.pools:
        if not set(pool) <= set(teachers):
            raise ValueError(f"pools: {pool} has teachers outside the fit's {tuple(teachers)}")
    rng = np.random.default_rng(config.seed)
    n_hold = max(1, min(len(names) - 1, round(config.holdout_fraction * len(names))))
    held = sorted(rng.choice(names, size=n_hold, replace=False).tolist())
    student.eval()
    candidates = tuple(teachers)
    t0 = time.perf_counter()
    if config.include_student:
        runs = with_student_runs(student, sequences, runs)
        candidates += ("student",)
    student_s = time.perf_counter() - t0
    vset = build_value_windows(
        sequences,
        runs,
        teachers=candidates,
        window=config.window,
        windows_per_frame=config.windows_per_frame,
        min_spread=config.min_spread,
        gamma=config.gamma,
        holdout=held,
        seed=config.seed,
    )
    digest = hashlib.sha256(
        json.dumps(
            {
                "frames": vset.frames.tolist(),
                "seq": [names[i] for i in vset.sequence.tolist()],
                "boxes": round(float(vset.prev_xywh.sum()), 3),
                "student": {
                    k: v
                    for k, v in student.config.to_dict().items()
                    if k in ("crop_size", "context", "backbone")
                },
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    t0 = time.perf_counter()
    path = Path(cache_dir) / f"value_{digest}.pt" if cache_dir is not None else None
    if path is not None and path.exists():
        maps = torch.load(path, map_location="cpu", weights_only=True)
    else:
        maps = value_set_features(student, sequences, vset, progress=progress)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(maps, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
    features_s = time.perf_counter() - t0
    h = value_head_inputs(student, maps, vset.next_iou)
    hold = vset.holdout
    target = vset.next_iou if config.target == "iou" else vset.returns

    def accuracy(weight: Tensor, bias: Tensor) -> dict[str, float]:
        v = (h[hold] @ weight.T).squeeze(-1) + bias
        acc = distill.value_ranking_accuracy(v, vset.next_iou[hold])
        return {k.replace("quality", "iou"): x for k, x in acc.items()}

    with torch.no_grad():
        before = accuracy(student.value.weight.detach(), student.value.bias.detach())
    held_seqs = [s for s in sequences if s.name in held]
    trast_before = float(
        np.mean(tras_replay_auc(student, held_seqs, runs, teachers[:1], mode="trast"))
    )
    fits = []
    for ridge in config.ridges:
        w, b = seqrl.fit_linear_value(h[~hold], target[~hold], ridge=ridge)
        fits.append((accuracy(w, b)["pairwise"], -ridge, ridge, w, b))
    _, _, ridge, w, b = max(fits, key=lambda f: (f[0], f[1]))
    with torch.no_grad():
        student.value.weight.copy_(w)
        student.value.bias.copy_(b)
    after = accuracy(w, b)
    t1 = time.perf_counter()
    trast_after = float(
        np.mean(tras_replay_auc(student, held_seqs, runs, teachers[:1], mode="trast"))
    )
    pools = list(dict.fromkeys([tuple(teachers), *(tuple(p) for p in config.pools)]))
    pool_auc = {
        pool: {
            m: float(np.mean(tras_replay_auc(student, held_seqs, runs, pool, margin=m)))
            for m in config.margins
        }
        for pool in pools
    }
    margin_auc = pool_auc[tuple(teachers)]
    choices = [(a, -len(p), -m, p, m) for p, d in pool_auc.items() for m, a in d.items()]
    fusion_pool, margin = max(choices)[3:] if choices else (tuple(teachers), 0.0)
    student.meta = {
        **student.meta,
        "fusion_margin": float(margin),
        "fusion_pool": list(fusion_pool),
    }
    cols = {t: runs[held_seqs[0].name].teachers.index(t) for t in teachers}
    from trackkit.eval import evaluate_sot

    teacher_auc = {
        t: float(
            np.mean(
                [
                    evaluate_sot(runs[s.name].boxes_xywh[c], s.boxes_xywh, s.absent).auc
                    for s in held_seqs
                ]
            )
        )
        for t, c in cols.items()
    }

    def rounded(d: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 4) for k, v in d.items()}

    return {
        "teachers": list(teachers),
        "candidates": list(candidates),
        "holdout_sequences": held,
        "windows": int((~hold).sum()),
        "holdout_windows": int(hold.sum()),
        "target": config.target,
        "ridge": ridge,
        "ranking_before": rounded(before),
        "ranking_after": rounded(after),
        "ridge_pairwise": {str(f[2]): round(f[0], 4) for f in fits},
        "margin_auc": {str(m): round(a, 4) for m, a in margin_auc.items()},
        "fusion_margin": float(margin),
        "pool_margin_auc": {
            "+".join(p): {str(m): round(a, 4) for m, a in d.items()} for p, d in pool_auc.items()
        },
        "fusion_pool": list(fusion_pool),
        "holdout_teacher_auc": rounded(teacher_auc),
        f"trast_{teachers[0]}_auc_before": round(trast_before, 4),
        f"trast_{teachers[0]}_auc_after": round(trast_after, 4),
        "student_runs_s": round(student_s, 1),
        "features_s": round(features_s, 1),
        "margins_s": round(time.perf_counter() - t1, 1),
    }
