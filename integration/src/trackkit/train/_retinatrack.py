"""``trackkit train retinatrack``: joint detection + embedding training (Lu et al. 2020).

Loss (paper 004, Sec. 3.4): sigmoid focal loss and Huber box loss over anchors assigned at
IoU >= 0.5, plus the soft-margin BatchHard triplet loss (eq. 7) over 64 anchors that carry an
identity (IoU >= 0.7), triplets only within a clip, all from ``detheads.retinatrack_loss``.
Batches are short clips (:class:`MOTClipSampler`) of the training sequences of
``../shared/data/mot``; the validation sequence is never seen.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

import detheads
from trackkit.data import MOTSequence, read_motchallenge
from trackkit.mot.retinatrack import (
    RetinaTrackNet,
    RetinaTrackNetConfig,
    save_retinatrack_checkpoint,
)
from trackkit.train._retinatrack_data import ClipBatch, ClipConfig, MOTClipSampler

__all__ = [
    "RETINATRACK_TRAIN_SEQUENCES",
    "RETINATRACK_VALIDATION_SEQUENCES",
    "RetinaTrackTrainConfig",
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
        num_triplets: sampled triplet anchors per batch (paper 004: 64).
        triplet_margin: soft margin m of eq. 7 (paper 004: 0.1).
        embedding_weight: weight of the triplet term (paper 004: 1).
        seed: seed of the head initialisation and of the clip stream.
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
    embedding_weight: float = 1.0
    seed: int = 0
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
    """Paper 004's loss of one :class:`ClipBatch` (``detheads.retinatrack_loss``)."""
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
    checkpoint_every_s: float = 180.0,
    time_budget_s: float | None = None,
    pretrained: bool = True,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> RetinaTrackNet:
    """Train RetinaTrack; write ``OUT/train_state.pt``, ``OUT/log.jsonl``, ``OUT/retinatrack.pt``.

    ``train_state.pt`` (network, optimiser, step, clip-sampler state) is rewritten every
    ``checkpoint_every_s`` seconds and at the end; ``resume`` continues from one, with the same
    configuration. With ``time_budget_s`` the run also stops once that many seconds of
    training have passed, and the learning-rate schedule follows whichever of steps and time
    is further along (so a slow machine still ends with a decayed rate). ``retinatrack.pt`` is
    the shipped-format network checkpoint
    (:func:`trackkit.mot.retinatrack.load_retinatrack_checkpoint`).
    """
    cfg = config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    net = RetinaTrackNet(cfg.net, pretrained=pretrained).to(device)
    net.train()

    def frozen_trunk(x: torch.Tensor) -> list[torch.Tensor]:
        return [f.cpu() for f in net.frozen_features(x.to(device))]

    sampler = MOTClipSampler(
        sequences, frozen_trunk, net.frozen_strides, cfg.net.input_width, cfg.clip, seed=cfg.seed
    )
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    step = 0
    elapsed = 0.0
    if resume is not None:
        state = torch.load(Path(resume), map_location="cpu", weights_only=True)
        saved = state["config"]
        mine = cfg.to_dict()
        if {k: v for k, v in saved.items() if k != "steps"} != {
            k: v for k, v in mine.items() if k != "steps"
        }:
            raise ValueError("--resume: the state was trained with other options; use the same")
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["optimizer"])
        sampler.set_state(json.loads(state["sampler"]))
        gen.set_state(state["generator"])
        step = int(state["step"])
        elapsed = float(state["elapsed_s"])
    log_path = out / "log.jsonl"
    with log_path.open("a") as log:
        log.write(json.dumps({"event": "start", "step": step, "config": cfg.to_dict()}) + "\n")

    def save_state() -> None:
        payload = {
            "config": cfg.to_dict(),
            "net": net.state_dict(),
            "optimizer": opt.state_dict(),
            "sampler": json.dumps(sampler.state()),
            "generator": gen.get_state(),
            "step": step,
            "elapsed_s": elapsed,
        }
        tmp = out / "train_state.pt.tmp"
        torch.save(payload, tmp)
        tmp.replace(out / "train_state.pt")
        save_retinatrack_checkpoint(
            out / "retinatrack.pt",
            net,
            meta={"steps": step, "train_seconds": round(elapsed, 1), "train": cfg.to_dict()},
        )

    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="retinatrack")
    last_save = time.monotonic()
    running: dict[str, float] = {}

    def time_fraction() -> float:
        return 0.0 if time_budget_s is None else elapsed / time_budget_s

    while step < cfg.steps and time_fraction() < 1.0:
        t0 = time.monotonic()
        for g in opt.param_groups:
            g["lr"] = cfg.lr * _lr_factor(step, cfg, time_fraction())
        batch = sampler.sample(cfg.clips_per_step)
        losses = retinatrack_losses(
            net,
            batch,
            num_triplets=cfg.num_triplets,
            margin=cfg.triplet_margin,
            embedding_weight=cfg.embedding_weight,
            generator=gen,
        )
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = float(nn.utils.clip_grad_norm_(params, cfg.grad_clip))
        opt.step()
        step += 1
        elapsed += time.monotonic() - t0
        vals = {k: float(v.detach()) for k, v in losses.items()}
        for k, v in vals.items():
            running[k] = v if k not in running else 0.9 * running[k] + 0.1 * v
        with log_path.open("a") as log:
            rec = {"step": step, "elapsed_s": round(elapsed, 2), "lr": opt.param_groups[0]["lr"]}
            rec["cached"] = sampler.cached
            rec.update({k: round(v, 5) for k, v in vals.items()})
            rec["grad_norm"] = round(grad_norm, 3)
            log.write(json.dumps(rec) + "\n")
        bar.update(1)
        bar.set_postfix(
            cls=f"{running['loss_cls']:.3f}",
            reg=f"{running['loss_reg']:.3f}",
            emb=f"{running['loss_emb']:.3f}",
        )
        done = step == cfg.steps or time_fraction() >= 1.0
        if time.monotonic() - last_save >= checkpoint_every_s or done:
            save_state()
            last_save = time.monotonic()
    bar.close()
    if step == 0 or not (out / "retinatrack.pt").is_file():
        save_state()
    with log_path.open("a") as log:
        log.write(json.dumps({"event": "end", "step": step, "elapsed_s": round(elapsed, 1)}) + "\n")
    return net.eval()
