"""``trackkit train retinatrack``: joint detection + embedding training (Lu et al. 2020).

Loss (Lu et al. 2020, Sec. 3.4): sigmoid focal loss and Huber box loss over anchors assigned at
IoU >= 0.5, plus the soft-margin BatchHard triplet loss (eq. 7) over 64 anchors that carry an
identity (IoU >= 0.7), triplets only within a clip, all from ``detheads.retinatrack_loss``.
Batches are short clips (:class:`MOTClipSampler`) of the training sequences of
``../shared/data/mot``; the validation sequence is never seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import detheads
from trackkit._torchutil import resolve_device
from trackkit.data import MOTSequence, read_motchallenge
from trackkit.mot.retinatrack import (
    RetinaTrackNet,
    RetinaTrackNetConfig,
    load_retinatrack_checkpoint,
    save_retinatrack_checkpoint,
)
from trackkit.train._loop import TrainResult, TrainState, load_train_state, run_training
from trackkit.train._retinatrack_data import ClipBatch, ClipConfig, MOTClipSampler

__all__ = [
    "RETINATRACK_TRAIN_SEQUENCES",
    "RETINATRACK_VALIDATION_SEQUENCES",
    "RetinaTrackTrainConfig",
    "export_retinatrack",
    "load_retinatrack_sequences",
    "retinatrack_losses",
    "train_retinatrack",
]

#: Sequences of ``../shared/data/mot`` used for training (see docs/mot.md).
RETINATRACK_TRAIN_SEQUENCES: tuple[str, ...] = (
    "TUD-Stadtmitte",
    "PETS09-S3MF1",
    "MOT17-02-FRCNN-mini",
    "MOT17-04-FRCNN-mini",
)
#: Never used for training: the evaluation sequence of ``benchmarks/retinatrack.py``.
RETINATRACK_VALIDATION_SEQUENCES: tuple[str, ...] = ("TUD-Campus",)


@dataclass(frozen=True)
class RetinaTrackTrainConfig:
    """One training run of :func:`train_retinatrack`.

    Attributes:
        steps: optimiser steps.
        clips_per_step: clips per batch (each ``clip.frames_per_clip`` frames).
        lr: AdamW learning rate (linear warm-up over ``warmup`` steps, cosine decay to 5 %).
        weight_decay: AdamW weight decay.
        grad_clip: gradient-norm clip.
        num_triplets: sampled triplet anchors per batch (Lu et al. 2020: 64).
        triplet_margin: soft margin m of eq. 7 (Lu et al. 2020: 0.1).
        embedding_weight: weight of the triplet term (Lu et al. 2020: 1).
        seed: seed of the head initialisation and of the clip stream.
        init_checkpoint: a RetinaTrack checkpoint (same ``net`` architecture) whose weights
            start the run instead of the random head (fine-tuning); ``None``: ImageNet trunk and
            a fresh head.
        sequences: training sequence names under the data root.
        net: network architecture.
        clip: clip sampling and augmentation.
    """

    steps: int = 1200
    clips_per_step: int = 2
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    grad_clip: float = 10.0
    num_triplets: int = 64
    triplet_margin: float = 0.1
    embedding_weight: float = 0.25
    seed: int = 0
    init_checkpoint: str | None = None
    sequences: tuple[str, ...] = RETINATRACK_TRAIN_SEQUENCES
    net: RetinaTrackNetConfig = field(default_factory=RetinaTrackNetConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (the run log's header, the checkpoint's ``meta``)."""
        d = asdict(self)
        d["net"] = self.net.to_dict()
        d["sequences"] = list(self.sequences)
        d["clip"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["clip"].items()}
        return d


def retinatrack_losses(
    net: RetinaTrackNet,
    batch: ClipBatch,
    *,
    num_triplets: int = 64,
    margin: float = 0.1,
    embedding_weight: float = 1.0,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Lu et al.'s (2020) loss of one :class:`ClipBatch` (``detheads.retinatrack_loss``)."""
    device = next(net.parameters()).device
    outputs = net.forward_from_frozen([f.to(device) for f in batch.frozen])
    sizes = net.feature_sizes(*batch.image_hw)
    anchors = net.anchors(sizes, device)
    return detheads.retinatrack_loss(
        outputs,
        anchors,
        batch.gt_boxes.to(device),
        None,
        batch.gt_ids.to(device),
        batch.gt_valid.to(device),
        batch.clip_ids.to(device),
        num_triplets=num_triplets,
        margin=margin,
        embedding_weight=embedding_weight,
        generator=generator,
    )


def _lr_factor(step: int, cfg: RetinaTrackTrainConfig, time_fraction: float = 0.0) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = max((step - cfg.warmup) / max(1, cfg.steps - cfg.warmup), time_fraction)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def load_retinatrack_sequences(
    root: str | Path, names: Sequence[str] = RETINATRACK_TRAIN_SEQUENCES
) -> list[MOTSequence]:
    """The named MOTChallenge sequences (with images and ground truth) under ``root``."""
    ds = read_motchallenge(root, names=list(names))
    seqs = [ds[n] for n in names]
    for s in seqs:
        if s.frames is None or s.gt is None:
            raise ValueError(f"{root}/{s.name}: needs img1/ and gt/gt.txt for training")
    return seqs


def train_retinatrack(
    config: RetinaTrackTrainConfig,
    out: str | Path,
    *,
    sequences: Sequence[MOTSequence],
    resume: str | Path | None = None,
    checkpoint_every: int = 25,
    time_budget_s: float | None = None,
    pretrained: bool = True,
    device: torch.device | str = "cpu",
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[RetinaTrackNet, TrainResult]:
    """Train RetinaTrack on the shared loop (:func:`trackkit.train.run_training`).

    Writes ``OUT/train_state.pt`` (resumable: network, optimiser, RNGs; every
    ``checkpoint_every`` steps), ``OUT/log.jsonl`` and, at the end, ``OUT/retinatrack.pt``
    (:func:`trackkit.mot.retinatrack.load_retinatrack_checkpoint`; also from an interrupted
    run with :func:`export_retinatrack`). With ``time_budget_s`` the run stops once that much
    training time has passed, and the learning-rate schedule follows whichever of steps and
    time is further along, so a slow machine still ends with a decayed rate. ``stop_after``
    ends the run after that many steps (with a resumable checkpoint), as if interrupted; a
    ``resume`` from it continues exactly where an uninterrupted run would be.

    Returns the network (eval mode) and the loop's :class:`TrainResult`.
    """
    cfg = config
    device = resolve_device(device)  # a device that is not there fails before any work
    out = Path(out)
    torch.manual_seed(cfg.seed)
    net = RetinaTrackNet(cfg.net, pretrained=pretrained).to(device)
    if cfg.init_checkpoint is not None:
        _load_init(net, cfg.init_checkpoint)
    net.train()

    def frozen_trunk(x: torch.Tensor) -> list[torch.Tensor]:
        return [f.cpu() for f in net.frozen_features(x.to(device))]

    sampler = MOTClipSampler(
        sequences, frozen_trunk, net.frozen_strides, cfg.net.input_width, cfg.clip, seed=cfg.seed
    )
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = TrainState(
        modules={"net": net}, optimizers={"adamw": opt}, rng=sampler.rng, config=cfg.to_dict()
    )

    def step_fn(step: int) -> dict[str, Any]:
        frac = 0.0 if time_budget_s is None else state.elapsed_s / time_budget_s
        lr = cfg.lr * _lr_factor(step, cfg, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = sampler.sample(cfg.clips_per_step)
        losses = retinatrack_losses(
            net,
            batch,
            num_triplets=cfg.num_triplets,
            margin=cfg.triplet_margin,
            embedding_weight=cfg.embedding_weight,
        )
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = float(nn.utils.clip_grad_norm_(params, cfg.grad_clip))
        opt.step()
        metrics: dict[str, Any] = {k: round(float(v.detach()), 5) for k, v in losses.items()}
        metrics.update(lr=lr, grad_norm=round(grad_norm, 3), cached=sampler.cached)
        return metrics

    result = run_training(
        step_fn,
        state,
        out,
        steps=cfg.steps,
        resume=resume,
        checkpoint_every=checkpoint_every,
        log_every=5,
        max_seconds=time_budget_s,
        progress=progress,
        desc="retinatrack",
        stop_after=stop_after,
    )
    net.eval()
    save_retinatrack_checkpoint(
        out / "retinatrack.pt", net, meta=_meta(cfg, result.steps_done, result.elapsed_s)
    )
    return net, result


#: Network settings that do not change what the weights mean (free to differ under ``init``).
_INFERENCE_ONLY = frozenset({"input_width", "score_threshold", "nms_threshold", "max_detections"})


def _load_init(net: RetinaTrackNet, path: str) -> list[str]:
    """Copy every weight of the checkpoint at ``path`` into ``net``; returns the keys left new.

    The architectures must agree, except that ``net`` may have more pyramid levels on top
    (``extra_levels``) when the checkpoint's anchor sizes are the first levels of ``net``'s:
    the head is shared across levels, so only the new levels' FPN convs are new, and they
    keep their initialisation (``detheads.FPN(extra_init="average")``: a 3x3 average pool of
    the level below, so the trained head first sees P5-like features at P6).
    """
    init, _ = load_retinatrack_checkpoint(path)
    have, want = init.config.to_dict(), net.config.to_dict()
    diff = sorted(k for k in want if k not in _INFERENCE_ONLY and have[k] != want[k])
    grown = (
        set(diff) <= {"extra_levels", "anchor_sizes"}
        and have["extra_levels"] < want["extra_levels"]
        and want["anchor_sizes"][: len(have["anchor_sizes"])] == have["anchor_sizes"]
    )
    if diff and not grown:
        raise ValueError(
            f"init_checkpoint: {path} has another network architecture ({', '.join(diff)})"
        )
    source = init.state_dict()
    target = net.state_dict()
    unexpected = sorted(set(source) - set(target))
    if unexpected:
        raise ValueError(f"init_checkpoint: {path} has weights the network lacks: {unexpected[:3]}")
    with torch.no_grad():
        for k, q in source.items():
            target[k].copy_(q.to(target[k].device))
    return sorted(set(target) - set(source))


def _meta(cfg: RetinaTrackTrainConfig, steps: int, seconds: float) -> dict[str, Any]:
    return {"steps": steps, "train_seconds": round(seconds, 1), "train": cfg.to_dict()}


def export_retinatrack(train_state: str | Path, out: str | Path) -> RetinaTrackNet:
    """Write the network of a (possibly unfinished) ``train_state.pt`` as a checkpoint."""
    state = load_train_state(train_state)
    cfg = state["config"]
    net = RetinaTrackNet(RetinaTrackNetConfig.from_dict(cfg["net"]))
    net.load_state_dict(state["modules"]["net"])
    meta = {"steps": state["step"], "train_seconds": round(state["elapsed_s"], 1), "train": cfg}
    save_retinatrack_checkpoint(out, net.eval(), meta=meta)
    return net
