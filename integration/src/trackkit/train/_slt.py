"""Sequence-level training (SLT, Kim et al. 2022) of the instance trackers, composed from seqrl.

Each iteration samples ``episodes`` (k) episodes of ``length`` (T) tracked frames plus an initial
frame from the training sequences with a random frame interval in ``[1, max_interval]``
(frame-interval augmentation, Sec. 3.3; ``seqrl.sample_episode``, which skips frames where the
target is absent). The episode starts with the tracker's own initialisation on ``v_0``: for
FCOS-MAML / Retina-MAML the augmented first-frame support set and the 5-step adaptation
(Wang et al. 2020, Algorithm 1). The k episodes are then played in lock step twice with shared
weights (``seqrl.run_scst_episode``): by the sampling tracker (``n_t ~ p``, eq. 5 over the
post-processed scores) and by the argmax tracker (the test-time tracker,
:class:`trackkit.sot.InstanceStep`). The reward is the episode's average overlap
(``seqrl.average_overlap``) and the loss is eq. 7: the SCST loss of eq. 6 (``seqrl.scst_loss``,
the argmax tracker's AO as the baseline) plus the head's box-regression loss on the search
regions the sampling tracker visited, with the ground-truth box as target.

What trains: the meta-learned head initialisation ``theta_0`` and its learned kernel-wise inner
rates ``alpha`` (Adam, separate rates); the trunk stays frozen. The gradient reaches them through
the first-frame adaptation to first order (``metalearn.gradient_descent(first_order=True)``):
``d theta_5 / d theta_0 = I`` and ``d theta_5 / d alpha = -sum_k g_k``; online updates inside
the episode are added as constants (straight-through). See ``docs/sot.md`` for why.

Ablations of Kim et al. 2022 are options: ``objective="frame"`` is "+SS" (sequence-level
sampling with the frame-level detection loss on the visited regions, no SCST, and only the
sampling tracker plays), ``max_interval=1``
removes frame-interval augmentation (SA), ``length`` is T (Table 7).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from seqrl import average_overlap, box_iou_xywh, run_scst_episode, sample_episode, scst_loss
from trackkit.data import Sequence as SotSequence
from trackkit.sot.instance import (
    InstanceDetector,
    InstanceStep,
    InstanceStepOutput,
    image_to_crop,
    save_detector,
    tracker_config_for,
)
from trackkit.train._cache import _visible_frames
from trackkit.train._loop import TrainState, run_training

__all__ = ["SLTTrainConfig", "train_slt"]


@dataclass(frozen=True)
class SLTTrainConfig:
    """One SLT fine-tuning run (Kim et al. 2022, Sec. 4.1 defaults where they apply).

    Attributes:
        steps: iterations.
        episodes: k episodes per iteration (paper: 8).
        length: T tracked frames per episode (paper: 24).
        max_interval: largest frame interval of an episode (paper: 7 for SiamRPN++); 1 turns
            frame-interval augmentation off.
        objective: ``"scst"`` (eq. 6 + box regression, eq. 7) or ``"frame"`` (the "+SS"
            ablation: the frame-level detection loss on the sampling tracker's search regions).
        bbox_weight: weight of the box-regression loss in eq. 7 (paper: 1).
        temperature: of the candidate distribution. The paper's 1 suits SiamRPN++'s peaky
            scores; the instance trackers' smooth centerness maps plus the cosine window give
            a nearly flat eq. 5 over 33x33 cells (measured on training episodes, FCOS-MAML:
            sampling AO 0.001 at 1, 0.38 at 0.3, 0.50 at 0.1, argmax 0.49), so 0.1.
        head_lr: Adam learning rate of the head (fine-tuning: 1e-4, a tenth of MAML's).
        rate_lr: Adam learning rate of the learned inner rates (1e-5; the shipped rates
            average 0.015-0.025).
        online_update: whether the trackers update online inside the episodes (as at test time).
        checkpoint_every: iterations between resumable checkpoints.
        probe_episodes: fixed training episodes (drawn once, from a generator of their own, so
            they never change the training episodes) that the argmax tracker plays every
            ``probe_every`` iterations, before the first and after the last one; their mean AO
            is logged as ``{"eval": {"probe_ao": ...}}``. A monitor of the training objective
            on the same episodes each time (the per-iteration AO varies mostly with the
            episodes drawn); 0 turns it off. Training data only: never a validation signal.
        probe_every: iterations between probes.
        seed: episode sampling and candidate sampling.
        source: the checkpoint fine-tuned (recorded in the outputs; checked on resume).
    """

    steps: int = 100
    episodes: int = 8
    length: int = 24
    max_interval: int = 7
    objective: Literal["scst", "frame"] = "scst"
    bbox_weight: float = 1.0
    temperature: float = 0.1
    head_lr: float = 1e-4
    rate_lr: float = 1e-5
    online_update: bool = True
    checkpoint_every: int = 10
    probe_episodes: int = 0
    probe_every: int = 10
    seed: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "episodes",
            "length",
            "max_interval",
            "checkpoint_every",
            "probe_every",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        v = self.probe_episodes
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"probe_episodes must be an integer >= 0, got {v!r}")
        if self.objective not in ("scst", "frame"):
            raise ValueError(f"objective must be 'scst' or 'frame', got {self.objective!r}")
        for name in ("bbox_weight", "temperature", "head_lr", "rate_lr"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def _visibility(seq: SotSequence) -> np.ndarray:
    vis = np.zeros(len(seq), dtype=bool)
    vis[_visible_frames(seq)] = True
    return vis


def _frame_loss(
    detector: InstanceDetector,
    choices: list[InstanceStepOutput],
    gt_xywh: Tensor,
    search_size: int,
    part: str,
) -> Tensor:
    """Mean head loss ``part`` over the visited search regions, ground truth as targets."""
    losses = []
    for t, c in enumerate(choices):
        g = gt_xywh[:, t]
        g_xyxy = torch.cat([g[:, :2], g[:, :2] + g[:, 2:]], dim=1)
        box_c = image_to_crop(g_xyxy, c.crop_center, c.crop_scale, search_size)
        targets = detector.ops.targets(box_c, torch.ones_like(box_c[:, 0]), c.score_hw)
        losses.append(detector.ops.losses(c.outputs, targets, part=part))
    return torch.stack(losses, dim=1).mean()


def _norm(grads: Sequence[Tensor | None]) -> float:
    """L2 norm over a list of gradients (None: no gradient)."""
    sq = [g.detach().float().pow(2).sum() for g in grads if g is not None]
    return float(torch.stack(sq).sum().sqrt()) if sq else 0.0


def train_slt(
    detector: InstanceDetector,
    sequences: Sequence[SotSequence],
    out_dir: str | Path,
    *,
    config: SLTTrainConfig | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
    stop_after: int | None = None,
) -> InstanceDetector:
    """Fine-tune ``detector`` (in place) with sequence-level training on ``sequences``.

    Writes into ``out_dir``: ``train_state.pt`` (resumable), ``log.jsonl`` (per logged step:
    ``ao_sample`` / ``ao_argmax`` the episodes' AO of both trackers (``ao_argmax`` is None
    for ``objective="frame"``, which plays only the sampling tracker), ``loss``, ``pg`` the SCST
    term, ``bbox`` the regression term, ``lost`` the share of lost frames, ``interval``,
    ``grad_pg`` / ``grad_bbox`` the L2 norms of the two terms' gradients with respect to the head
    (the second weighted by ``bbox_weight``); the probe's ``{"eval": {"probe_ao": ...}}``) and,
    when all steps ran, ``detector.pt`` (with the trunk; its ``meta`` keeps the source's
    validated lost threshold).

    Args:
        detector: a trained instance detector, e.g. ``load_detector(shipped_checkpoint(...))``.
        sequences: training sequences (never the validation or evaluation ones); frames where
            the target is absent (NaN boxes) are never part of an episode.
        out_dir: output folder.
        config: :class:`SLTTrainConfig`; on resume it must equal the saved one.
        resume: a ``train_state.pt`` to continue from.
        progress: tqdm bar with the running AO of both trackers.
        meta: extra facts stored in ``detector.pt``.
        stop_after: stop once this many iterations are done (after a resumable checkpoint).
    """
    cfg = config if config is not None else SLTTrainConfig()
    if not isinstance(detector, InstanceDetector):
        raise TypeError(f"detector must be an InstanceDetector, got {type(detector).__name__}")
    if len(sequences) == 0:
        raise ValueError("sequences is empty")
    out = Path(out_dir)
    vis = [_visibility(s) for s in sequences]
    if max(int(v.sum()) for v in vis) < cfg.length + 1:
        raise ValueError(
            f"no training sequence has length + 1 = {cfg.length + 1} frames with a visible target"
        )
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    detector.train()
    for p in detector.head.parameters():
        p.requires_grad_(True)
    for p in detector.lr.parameters():
        p.requires_grad_(True)
    groups: list[dict[str, Any]] = [{"params": list(detector.head.parameters()), "lr": cfg.head_lr}]
    rates = list(detector.lr.parameters())
    if rates:
        groups.append({"params": rates, "lr": cfg.rate_lr})
    optimizer = torch.optim.Adam(groups)
    tracker_cfg = tracker_config_for(detector, online_update=cfg.online_update)
    step = InstanceStep(
        detector, config=tracker_cfg, temperature=cfg.temperature, differentiable=True
    )
    search_size = tracker_cfg.search.search_size
    modules: dict[str, Any] = {"head": detector.head}
    if rates:
        modules["lr"] = detector.lr
    state = TrainState(modules=modules, optimizers={"adam": optimizer}, rng=rng, config=asdict(cfg))

    def load(eps: list[Any]) -> tuple[list[Any], np.ndarray, list[list[Any]], Tensor]:
        seqs = [sequences[e.sequence] for e in eps]
        first = [s[int(e.frames[0])] for s, e in zip(seqs, eps)]
        boxes0 = np.stack([s.boxes_xywh[int(e.frames[0])] for s, e in zip(seqs, eps)])
        frames = [
            [s[int(e.frames[t])] for s, e in zip(seqs, eps)] for t in range(1, cfg.length + 1)
        ]
        gt = torch.as_tensor(
            np.stack([s.boxes_xywh[e.frames[1:]] for s, e in zip(seqs, eps)]),
            dtype=torch.float32,
            device=detector.device,
        )  # [k, T, 4], finite: episodes only hold frames with a visible target
        if not bool(torch.isfinite(gt).all()):
            raise AssertionError("an episode holds a frame without a ground-truth box")
        return first, boxes0, frames, gt

    def step_fn(it: int) -> dict[str, Any]:
        eps = [
            sample_episode(vis, length=cfg.length, max_interval=cfg.max_interval, rng=rng)
            for _ in range(cfg.episodes)
        ]
        first, boxes0, frames, gt = load(eps)

        def reward(choices: list[InstanceStepOutput]) -> Tensor:
            boxes = torch.stack([c.boxes_xywh for c in choices], dim=1)
            return average_overlap(box_iou_xywh(boxes.detach(), gt))

        initial = step.init(first, boxes0)
        ao_argmax: Tensor | None = None
        if cfg.objective == "scst":
            roll = run_scst_episode(step, initial, frames, reward)
            choices: list[InstanceStepOutput] = roll.choices_sample
            ao_sample, ao_argmax = roll.reward_sample, roll.reward_greedy
            pg = scst_loss(roll.log_probs, ao_sample, ao_argmax)
            bbox = _frame_loss(detector, choices, gt, search_size, "loss_reg")
            loss = pg.float() + cfg.bbox_weight * bbox
        else:
            # "+SS" needs no baseline: only the sampling tracker plays (the argmax pass would
            # cost as much again and feed nothing into the loss).
            state, choices = initial, []
            for frame in frames:
                state, choice, _ = step(state, frame, "sample")
                choices.append(choice)
            ao_sample = reward(choices)
            pg = torch.zeros(())
            bbox = _frame_loss(detector, choices, gt, search_size, "loss")
            loss = bbox
        optimizer.zero_grad(set_to_none=True)
        # The two terms' gradients separately (their norms are logged: with Adam, the larger
        # one sets the step size of both), then summed into .grad as loss.backward() would.
        trained = [p for g in groups for p in g["params"]]
        g_pg: Sequence[Tensor | None] = (
            torch.autograd.grad(pg.float(), trained, retain_graph=True, allow_unused=True)
            if pg.requires_grad
            else [None] * len(trained)
        )
        g_bbox = torch.autograd.grad(cfg.bbox_weight * bbox, trained, allow_unused=True)
        for p, a, b in zip(trained, g_pg, g_bbox):
            if a is not None or b is not None:
                p.grad = (torch.zeros_like(p) if a is None else a) + (0.0 if b is None else b)
        n_head = len(groups[0]["params"])
        optimizer.step()
        lost = torch.stack([~c.found for c in choices]).float().mean()
        info: dict[str, Any] = {
            "ao_sample": round(float(ao_sample.mean()), 4),
            "ao_argmax": None if ao_argmax is None else round(float(ao_argmax.mean()), 4),
            "loss": round(float(loss.detach()), 5),
            "pg": round(float(pg.detach()), 5),
            "bbox": round(float(bbox.detach()), 5),
            "lost": round(float(lost), 4),
            "interval": round(float(np.mean([e.interval for e in eps])), 2),
            "grad_pg": round(_norm(g_pg[:n_head]), 5),
            "grad_bbox": round(_norm(g_bbox[:n_head]), 5),
        }
        if rates:
            info["inner_lr_mean"] = float(torch.cat([r.detach().reshape(-1) for r in rates]).mean())
        return info

    probe_rng = np.random.default_rng([cfg.seed, 7919])
    probe = [
        sample_episode(vis, length=cfg.length, max_interval=cfg.max_interval, rng=probe_rng)
        for _ in range(cfg.probe_episodes)
    ]
    probe_step = InstanceStep(detector, config=tracker_cfg, temperature=cfg.temperature)

    def probe_fn(done: int) -> dict[str, Any]:
        first, boxes0, frames, gt = load(probe)
        with torch.no_grad():
            st = probe_step.init(first, boxes0)
            boxes = []
            for frame in frames:
                st, choice, _ = probe_step(st, frame, "argmax")
                boxes.append(choice.boxes_xywh)
            ao = average_overlap(box_iou_xywh(torch.stack(boxes, dim=1), gt))
        return {"probe_ao": round(float(ao.mean()), 4), "probe_episodes": len(probe)}

    if probe and resume is None:
        # the starting point of the monitor (a resumed run has it in its log already)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "log.jsonl").open("a") as log:
            log.write(json.dumps({"step": 0, "eval": probe_fn(0)}) + "\n")
    result = run_training(
        step_fn,
        state,
        out,
        steps=cfg.steps,
        resume=resume,
        may_change=("steps", "checkpoint_every"),
        checkpoint_every=cfg.checkpoint_every,
        log_every=1,
        stop_after=stop_after,
        eval_fn=probe_fn if probe else None,
        eval_every=cfg.probe_every,
        progress=progress,
        desc=f"SLT {detector.config.head} ({cfg.objective})",
    )
    detector.eval()
    if result.finished:
        save_detector(
            out / "detector.pt",
            detector,
            meta={
                **detector.meta,
                **(meta or {}),
                "slt_config": asdict(cfg),
                "slt_wall_time_s": round(result.elapsed_s, 1),
                "slt_steps": cfg.steps,
            },
        )
    return detector
