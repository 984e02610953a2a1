"""Batched warm start of the TRAS student on replayed trajectories (before A3C).

Dunnhofer et al. 2020 train every part of the student inside A3C: each worker steps its own
episode and runs one trunk forward per frame. On a 2-core CPU this reaches a few environment
steps per second, far below the paper's scale (24 workers on 4 GPUs for 10 days). The
supervised parts of their objective do not need the student's own trajectory, though:

- the distillation loss (eq. 3, ``distill.masked_action_distillation_loss``) is an L1 to the
  best teacher's action ``phi(b^(t)_t, b_{t-1})`` (eq. 4, ``distill.select_best_teacher``),
  masked where that teacher's reward beats the student's (``distill.action_distillation_mask``);
- the ground-truth objective of the ablations (TRAS-GT) is an L1 to ``phi(g_t, b_{t-1})``;
- the critic's loss (eq. 7, ``seqrl.value_loss``) regresses discounted returns of eq. 2 rewards
  (``seqrl.discounted_returns``, ``seqrl.quantised_iou_reward``).

All three can be computed on *replayed* windows of the transfer set: ``L``-step windows of a
chunk whose previous boxes ``b_{t-1}`` follow the ground truth or one of the chunk's kept
teachers, each box randomly jittered (the errors a student makes). The frozen trunk's maps of
those states are computed once (``extract_replay_features``, cached on disk and shared by all
objectives), after which an epoch over thousands of steps costs a few seconds of the trainable
layers, run as minibatches of whole windows with the LSTM unrolled. The epoch whose student
moves the boxes best on windows of held-out *training* sequences is kept (the validation and
evaluation sequences are never seen). A3C (``train_tras``) then continues from it.

The value target is off-policy (the return of the replayed trajectory, not of the student's
policy); it teaches the critic how good a state's previous box is, which is what TRAST and
TRASFUST ask of it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

import seqrl
from distill import action_distillation_mask, masked_action_distillation_loss, select_best_teacher
from trackkit.data import read_image
from trackkit.sot.tras import TRASStudent, clamp_box_size, save_student, student_crops
from trackkit.train._loop import TrainState, run_training

__all__ = [
    "TRASPretrainConfig",
    "TRASReplaySet",
    "build_replay_windows",
    "extract_replay_features",
    "pretrain_loss",
    "pretrain_tras",
    "replay_window_iou",
]


@dataclass(frozen=True)
class TRASPretrainConfig:
    """Options of the batched warm start (``epochs = 0`` turns it off).

    Attributes:
        epochs: passes over the replayed windows.
        window: steps ``L`` per window (the LSTM is unrolled over them).
        windows_per_chunk: windows drawn from each chunk of the transfer set.
        batch_size: windows per minibatch.
        lr: RAdam learning rate.
        weight_decay: L2 on the trainable weights (paper: 1e-4).
        jitter_shift: std of the centre jitter of replayed boxes, in box sides.
        jitter_scale: std of the log side-scale jitter of replayed boxes.
        value_coef: weight of the value loss (eq. 7 on replayed returns) in ``kd-rl``; the
            objectives without an autonomous worker train no value head. With 1.0 the value
            loss slowed the policy's distillation (see ``docs/tras.md``).
        holdout_fraction: fraction of training sequences whose windows only select the epoch.
        seed: seed of the windows, the jitter and the minibatch order.
    """

    epochs: int = 0
    window: int = 8
    windows_per_chunk: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    jitter_shift: float = 0.1
    jitter_scale: float = 0.1
    value_coef: float = 0.1
    holdout_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        for name in ("window", "windows_per_chunk", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("lr", "weight_decay", "jitter_shift", "jitter_scale", "value_coef"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction!r}")


@dataclass(frozen=True)
class TRASReplaySet:
    """``N`` replayed windows of ``L`` steps (step ``t`` goes from frame ``t-1`` to ``t``).

    Attributes:
        sequence: ``[N]`` sequence index of each window.
        frames: ``[N, L + 1]`` frame indices.
        prev_xywh: ``[N, L, 4]`` the previous boxes ``b_{t-1}`` the states are cropped around.
        next_xywh: ``[N, L, 4]`` the boxes the replayed trajectory moves to (``b_t``).
        gt_xywh: ``[N, L, 4]`` ground truth ``g_t``.
        target_action: ``[N, L, 4]`` ``phi(g_t, b_{t-1})``.
        teacher_action: ``[N, L, 4]`` ``phi`` of the best teacher's box (eq. 4).
        teacher_reward: ``[N, L]`` eq. 2 reward of the box the teacher's action reaches.
        holdout: ``[N]`` True for windows of the held-out training sequences.
    """

    sequence: Tensor
    frames: Tensor
    prev_xywh: Tensor
    next_xywh: Tensor
    gt_xywh: Tensor
    target_action: Tensor
    teacher_action: Tensor
    teacher_reward: Tensor
    holdout: Tensor

    def __len__(self) -> int:
        return int(self.sequence.shape[0])

    def subset(self, index: Tensor) -> TRASReplaySet:
        """The windows ``index`` (a long or bool tensor)."""
        return TRASReplaySet(**{k: v[index] for k, v in self.__dict__.items()})

    def to(self, device: torch.device | str) -> TRASReplaySet:
        """The same windows with every tensor on ``device``."""
        return TRASReplaySet(**{k: v.to(device) for k, v in self.__dict__.items()})


def _jitter(boxes: NDArray[np.float64], rng: np.random.Generator, shift: float, scale: float):  # type: ignore[no-untyped-def]
    wh = boxes[:, 2:]
    centre = boxes[:, :2] + 0.5 * wh + rng.normal(0.0, shift, wh.shape) * wh
    new_wh = wh * np.exp(rng.normal(0.0, scale, wh.shape))
    return np.concatenate((centre - 0.5 * new_wh, new_wh), axis=1)


def build_replay_windows(
    data: Any,
    config: TRASPretrainConfig,
    *,
    actions: seqrl.BoxActionConfig,
    frame_wh: Sequence[tuple[int, int]],
) -> TRASReplaySet:
    """Draw the replayed windows of a ``TRASEpisodeData`` (see the module note).

    Each window takes ``L + 1`` consecutive frames of a chunk; its trajectory follows the
    ground truth or one of the chunk's kept teachers (uniformly), every box jittered by
    ``jitter_shift`` / ``jitter_scale`` and kept between 4 px and twice the frame
    (``clamp_box_size``, as in training and tracking). ``frame_wh[i]`` is the frame size of
    sequence ``i``. Windows of a seeded ``holdout_fraction`` of the sequences are marked.
    """
    rng = np.random.default_rng(config.seed)
    length = config.window
    chunks = [c for c in data.chunks if len(c.frames) > length]
    if not chunks:
        raise ValueError(f"no chunk has more than window={length} frames")
    used = sorted({c.sequence for c in chunks})
    n_hold = round(config.holdout_fraction * len(used))
    if config.holdout_fraction > 0 and len(used) > 1:
        n_hold = max(1, min(n_hold, len(used) - 1))
    else:
        n_hold = 0
    held = set(rng.choice(used, size=n_hold, replace=False).tolist()) if n_hold else set()
    rows: dict[str, list[Any]] = {k: [] for k in ("seq", "frames", "src", "gt", "teachers")}
    for chunk in chunks:
        for _ in range(config.windows_per_chunk):
            start = int(rng.integers(0, len(chunk.frames) - length))
            sl = slice(start, start + length + 1)
            k = int(rng.integers(0, chunk.teacher_xywh.shape[0] + 1))
            source = chunk.gt_xywh[sl] if k == 0 else chunk.teacher_xywh[k - 1, sl]
            rows["seq"].append(chunk.sequence)
            rows["frames"].append(chunk.frames[sl])
            wh = torch.tensor(frame_wh[chunk.sequence], dtype=torch.float64)
            jittered = _jitter(source, rng, config.jitter_shift, config.jitter_scale)
            rows["src"].append(clamp_box_size(torch.from_numpy(jittered), wh).numpy())
            rows["gt"].append(chunk.gt_xywh[sl])
            rows["teachers"].append(chunk.teacher_xywh[:, sl])
    boxes = torch.as_tensor(np.stack(rows["src"]), dtype=torch.float32)  # [N, L+1, 4]
    gt = torch.as_tensor(np.stack(rows["gt"]), dtype=torch.float32)[:, 1:]
    prev, nxt = boxes[:, :-1], boxes[:, 1:]
    best = torch.stack(
        [
            select_best_teacher(
                torch.as_tensor(t[:, 1:], dtype=torch.float32).transpose(0, 1), g
            ).boxes_xywh
            for t, g in zip(rows["teachers"], gt)
        ]
    )  # [N, L, 4]
    teacher_action = seqrl.box_action_to_target(prev, best, config=actions)
    teacher_iou = seqrl.box_action_iou(teacher_action, prev, gt, config=actions)
    seq = torch.as_tensor(rows["seq"], dtype=torch.int64)
    return TRASReplaySet(
        sequence=seq,
        frames=torch.as_tensor(np.stack(rows["frames"]), dtype=torch.int64),
        prev_xywh=prev,
        next_xywh=nxt,
        gt_xywh=gt,
        target_action=seqrl.box_action_to_target(prev, gt, config=actions),
        teacher_action=teacher_action,
        teacher_reward=seqrl.quantised_iou_reward(teacher_iou),
        holdout=torch.tensor([int(s) in held for s in seq.tolist()], dtype=torch.bool),
    )


def _frame_reader(data: Any):  # type: ignore[no-untyped-def]
    cache: dict[tuple[int, int], NDArray[np.uint8]] = {}

    def read(seq: int, index: int) -> NDArray[np.uint8]:
        key = (seq, index)
        frame = cache.get(key)
        if frame is None:
            source = data.frames[seq]
            frame = read_image(source[index]) if isinstance(source, tuple) else source[index]
            frame = np.asarray(frame)
            if len(cache) >= 64:
                cache.pop(next(iter(cache)))
            cache[key] = frame
        return frame

    return read


@torch.no_grad()
def extract_replay_features(
    model: TRASStudent,
    data: Any,
    replay: TRASReplaySet,
    *,
    batch_windows: int = 4,
    progress: bool = True,
) -> Tensor:
    """The frozen trunk's maps of every replayed state: ``float16 [N, L, 2, C, h, w]``.

    State ``t`` of a window is ``rho(F_{t-1}, F_t, b_{t-1}, c)`` (``student_crops``), exactly
    the state a worker would see with that previous box. The trunk is frozen, so these maps
    stay valid for the whole run.
    """
    from tqdm.auto import tqdm

    read = _frame_reader(data)
    cfg = model.config
    n, length = replay.prev_xywh.shape[:2]
    out: Tensor | None = None
    for lo in tqdm(range(0, n, batch_windows), desc="replay features", disable=not progress):
        idx = range(lo, min(n, lo + batch_windows))
        prev_f, cur_f, boxes = [], [], []
        for i in idx:
            s = int(replay.sequence[i])
            fr = [read(s, int(f)) for f in replay.frames[i]]
            prev_f += fr[:-1]
            cur_f += fr[1:]
            boxes.append(replay.prev_xywh[i].double().numpy())
        crops = student_crops(
            prev_f, cur_f, np.concatenate(boxes), crop_size=cfg.crop_size, context=cfg.context
        )
        maps = model.trunk_features(torch.from_numpy(crops))  # [b*L*2, C, h, w]
        maps = maps.reshape(len(idx), length, 2, *maps.shape[1:]).to(torch.float16).cpu()
        if out is None:
            out = torch.empty((n, *maps.shape[1:]), dtype=torch.float16)
        out[lo : lo + len(idx)] = maps
    assert out is not None
    return out


def _unroll(model: TRASStudent, maps: Tensor) -> tuple[Tensor, Tensor]:
    """``maps [B, L, 2, C, h, w]`` -> ``(mu [B, L, 4], v [B, L])`` with the LSTM from zeros."""
    b, length = maps.shape[:2]
    device = next(model.parameters()).device
    feats = model.encode_trunk(maps.to(device).float().reshape(b * length * 2, *maps.shape[3:]))
    feats = feats.reshape(b, length, -1)
    state = None
    mus, vs = [], []
    for t in range(length):
        mu, v, state = model.step(feats[:, t], state)
        mus.append(mu)
        vs.append(v)
    return torch.stack(mus, dim=1), torch.stack(vs, dim=1)


def replay_window_iou(
    mu: Tensor, replay: TRASReplaySet, *, actions: seqrl.BoxActionConfig
) -> Tensor:
    """Mean IoU of ``psi(mu, b_{t-1})`` with ``g_t`` per window: ``[N]`` (on ``mu``'s device)."""
    replay = replay.to(mu.device)
    mu = mu.detach().float()
    return seqrl.box_action_iou(mu, replay.prev_xywh, replay.gt_xywh, config=actions).mean(dim=1)


def pretrain_loss(
    model: TRASStudent,
    maps: Tensor,
    replay: TRASReplaySet,
    *,
    objective: str,
    actions: seqrl.BoxActionConfig,
    gamma: float,
    value_coef: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """The warm-start loss of a minibatch of windows for ``objective`` (``TRAS_OBJECTIVES``).

    - ``kd`` / ``kd-rl``: eq. 3 on every window (mask from the student's own action's
      reward, computed on the fly); ``kd-rl`` adds ``value_coef`` times eq. 7 on the replayed
      trajectory's returns (``seqrl.discounted_returns`` of its eq. 2 rewards over the first
      ``L - 1`` steps, bootstrapped from the detached value of the last state);
    - ``gt``: unmasked L1 to ``phi(g_t, b_{t-1})`` on every window;
    - ``kd-gt``: eq. 3 on even windows of the batch, ground-truth L1 on odd ones (the two
      halves of the A3C workers).

    Returns the loss and its parts (floats) for the log.
    """
    mu, v = _unroll(model, maps)
    replay = replay.to(mu.device)
    student_iou = seqrl.box_action_iou(
        mu.detach(), replay.prev_xywh, replay.gt_xywh, config=actions
    )
    student_r = seqrl.quantised_iou_reward(student_iou)
    kd_mask = action_distillation_mask(student_r, replay.teacher_reward.to(student_r.dtype))
    kd = masked_action_distillation_loss(mu, replay.teacher_action, kd_mask, reduction="none")
    ones = torch.ones_like(kd_mask)
    gt = masked_action_distillation_loss(mu, replay.target_action, ones, reduction="none")
    if objective in ("kd", "kd-rl"):
        loss = kd.mean()
    elif objective == "gt":
        loss = gt.mean()
    elif objective == "kd-gt":
        even = torch.arange(len(kd), device=kd.device) % 2 == 0
        loss = torch.where(even, kd, gt).mean()
    else:
        raise ValueError(f"objective must be kd-rl, kd, gt or kd-gt, got {objective!r}")
    parts = {
        "kd": float(kd.detach().mean()),
        "gt": float(gt.detach().mean()),
        "iou": float(student_iou.mean()),
    }
    if objective == "kd-rl" and value_coef > 0 and mu.shape[1] > 1:
        traj_iou = seqrl.box_iou_xywh(replay.next_xywh, replay.gt_xywh).clamp(0.0, 1.0)
        rewards = seqrl.quantised_iou_reward(traj_iou)[:, :-1]
        returns = seqrl.discounted_returns(rewards, v[:, -1].detach(), gamma=gamma)
        value = seqrl.value_loss(returns, v[:, :-1])
        loss = loss + value_coef * value
        parts["value"] = float(value.detach())
    return loss, parts


#: the options the replayed windows (hence their cached trunk maps) depend on
_WINDOW_OPTIONS = (
    "window",
    "windows_per_chunk",
    "jitter_shift",
    "jitter_scale",
    "holdout_fraction",
    "seed",
)


def replay_cache_key(payload: dict[str, Any]) -> str:
    """A short digest of what the replayed features depend on (for the cache file name)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pretrain_tras(
    model: TRASStudent,
    data: Any,
    config: TRASPretrainConfig,
    out_dir: str | Path,
    *,
    objective: str,
    gamma: float,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Warm-start ``model`` in place on replayed windows; returns a summary dict.

    ``OUT`` gets ``train_state.pt`` after every epoch (a stopped run continues from it when
    called again with the same options), ``log.jsonl`` (per epoch: training loss parts, the
    held-out windows' mean IoU of ``psi(mu, b_{t-1})``) and, when done, ``student_best.pt``
    (a float32 student file, ``load_student`` reads it, of the best held-out epoch), which is
    loaded into ``model``; calling again once it exists just loads it. The
    trunk maps are cached in ``cache_dir`` (default ``OUT``) under a digest of the windows'
    options, so runs with other objectives reuse them.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    best_path = out / "student_best.pt"
    actions = seqrl.BoxActionConfig(model.config.max_shift, model.config.max_scale)
    if best_path.exists():
        saved = torch.load(best_path, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() for k, v in saved["state"].items()}, strict=False)
        return dict(saved["meta"]["warm_start"])
    read = _frame_reader(data)
    frame_wh = []
    for s in range(len(data.frames)):
        f = read(s, 0)
        frame_wh.append((int(f.shape[1]), int(f.shape[0])))
    replay = build_replay_windows(data, config, actions=actions, frame_wh=frame_wh)
    key = replay_cache_key(
        {
            "windows": {k: v for k, v in asdict(config).items() if k in _WINDOW_OPTIONS},
            "frames": replay.frames.sum().item(),
            "boxes": round(float(replay.prev_xywh.double().sum()), 3),
            "n": len(replay),
            "student": {
                k: v
                for k, v in model.config.to_dict().items()
                if k in ("crop_size", "context", "backbone")
            },
        }
    )
    cache = Path(cache_dir) if cache_dir is not None else out
    cache.mkdir(parents=True, exist_ok=True)
    feat_path = cache / f"replay_{key}.pt"
    t0 = time.perf_counter()
    if feat_path.exists():
        maps = torch.load(feat_path, map_location="cpu", weights_only=True)
    else:
        maps = extract_replay_features(model, data, replay, progress=progress)
        tmp = feat_path.with_suffix(".tmp")
        torch.save(maps, tmp)
        tmp.replace(feat_path)
    features_s = time.perf_counter() - t0
    train_idx = torch.nonzero(~replay.holdout).flatten()
    hold_idx = torch.nonzero(replay.holdout).flatten()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.RAdam(params, lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed + 1)
    state = TrainState(
        modules={"student": model},
        optimizers={"pretrain": opt},
        rng=rng,
        config={"objective": objective, "gamma": gamma, **asdict(config)},
        extra={"best_iou": -1.0, "best_epoch": 0, "best": {}},
    )
    resume = out / "train_state.pt"

    @torch.no_grad()
    def held_out_iou() -> float:
        idx = hold_idx if len(hold_idx) else train_idx
        ious = []
        for lo in range(0, len(idx), 4 * config.batch_size):
            b = idx[lo : lo + 4 * config.batch_size]
            mu, _ = _unroll(model, maps[b])
            ious.append(replay_window_iou(mu, replay.subset(b), actions=actions))
        return float(torch.cat(ious).mean())

    def epoch(step: int) -> dict[str, Any]:
        t = time.perf_counter()
        model.train()
        order = train_idx[torch.from_numpy(rng.permutation(len(train_idx)))]
        sums: dict[str, float] = {}
        batches = 0
        for lo in range(0, len(order), config.batch_size):
            b = order[lo : lo + config.batch_size]
            loss, parts = pretrain_loss(
                model,
                maps[b],
                replay.subset(b),
                objective=objective,
                actions=actions,
                gamma=gamma,
                value_coef=config.value_coef,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, x in parts.items():
                sums[k] = sums.get(k, 0.0) + x
            batches += 1
        model.eval()
        iou = held_out_iou()
        if iou > state.extra["best_iou"]:
            state.extra["best_iou"] = iou
            state.extra["best_epoch"] = step + 1
            state.extra["best"] = copy.deepcopy(model.trainable_state_dict())
        metrics = {f"train_{k}": round(x / max(batches, 1), 4) for k, x in sums.items()}
        metrics.update(holdout_iou=round(iou, 4), epoch_s=round(time.perf_counter() - t, 1))
        return metrics

    result = run_training(
        epoch,
        state,
        out,
        steps=config.epochs,
        resume=resume if resume.exists() else None,
        may_change=("epochs",),
        checkpoint_every=1,
        log_every=1,
        progress=progress,
        desc=f"tras warm start {objective}",
    )
    model.load_state_dict(state.extra["best"], strict=False)
    summary = {
        "windows": len(train_idx),
        "holdout_windows": len(hold_idx),
        "steps_per_window": int(replay.prev_xywh.shape[1]),
        "features_s": round(features_s, 1),
        "train_s": round(result.elapsed_s, 1),
        "best_epoch": int(state.extra["best_epoch"]),
        "best_holdout_iou": round(float(state.extra["best_iou"]), 4),
    }
    save_student(model, best_path, meta={"objective": objective, "warm_start": summary}, half=False)
    return summary
