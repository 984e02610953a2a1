"""Offline training of the instance detectors: MAML (paper 000) or plain GD (the ablation).

MAML (paper 000, Sec. 3 and 4.2): each task is a pair of images; the first, zoomed in and out by
1.08, is a 3-image support set, the second (same sequence, or another sequence as a background
image) is the target set. 4 inner GD steps with kernel-wise learnable rates (KLLR, init 0.001;
or one scalar rate for the KLLR ablation), the multi-step loss over theta_0..theta_4 with weights
annealed from uniform to (0.05, 0.10, 0.20, 0.30, 0.35), first-order for the first 3/4 of
training (paper: 15 of 20 epochs) and second-order afterwards, Adam outer optimiser.

Baseline (paper 000, Sec. 5.1.1, "offline train the FCOS detector with standard GD"): the same
head, data and number of iterations, trained with Adam on every crop of the same pairs, each
labelled with its own target.

Training runs on cached frozen-trunk features (:mod:`trackkit.train._cache`), writes a
resumable state every ``checkpoint_every`` steps and a JSON-lines run log through the shared
loop (:func:`trackkit.train.run_training`) and, at the end, a detector checkpoint that
:func:`trackkit.sot.load_detector` reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from metalearn import (
    FixedLR,
    KernelwiseLR,
    MAMLConfig,
    MetaLearner,
    MultiStepSchedule,
    ScalarLR,
    Task,
)
from trackkit.sot.instance import (
    DetectorConfig,
    InstanceDetector,
    save_detector,
)
from trackkit.train._cache import FeatureCache, sample_cache_pairs
from trackkit.train._loop import TrainState, run_training

__all__ = ["MAMLTrainConfig", "train_instance_detector"]

#: Paper 000's schedule is 20 epochs, the first 15 first-order; progress maps onto it.
PAPER_EPOCHS = 20.0


@dataclass(frozen=True)
class MAMLTrainConfig:
    """One offline training run.

    Attributes:
        head: ``"fcos"`` or ``"retina"``.
        method: ``"maml"`` or ``"baseline"`` (plain GD, the paper's Table 1 ablation).
        lr_kind: inner rates, ``"kernelwise"`` (KLLR) or ``"scalar"`` (Table 2 ablation).
        steps: outer iterations.
        pairs_per_step: image pairs per iteration (paper: 32).
        inner_steps: inner GD steps (paper: 4).
        outer_lr: Adam learning rate of the head (paper: 1e-4 for 200k iterations; we run
            about 1000 and use 1e-3).
        rate_outer_lr: Adam learning rate of the learned inner rates (1e-4, the paper's value:
            a step of 1e-3 would flip the 1e-3 rates' sign).
        inner_lr_init: initial inner rate (paper: 0.001).
        first_order_fraction: share of training with the first-order approximation (15/20).
        negative_prob: probability that a pair's target image is from another sequence.
        max_gap: largest frame distance within a positive pair.
        checkpoint_every: iterations between resumable checkpoints.
        seed: seed of pair sampling and head initialisation.
        head_channels, num_convs: head size (see :class:`trackkit.sot.DetectorConfig`).
        backbone: the trunk kind recorded in the checkpoint; must match the ``trunk`` passed to
            :func:`train_instance_detector`.
    """

    head: Literal["fcos", "retina"] = "fcos"
    method: Literal["maml", "baseline"] = "maml"
    lr_kind: Literal["kernelwise", "scalar"] = "kernelwise"
    steps: int = 1000
    pairs_per_step: int = 8
    inner_steps: int = 4
    outer_lr: float = 1e-3
    rate_outer_lr: float = 1e-4
    inner_lr_init: float = 1e-3
    first_order_fraction: float = 0.75
    negative_prob: float = 0.2
    max_gap: int = 100
    checkpoint_every: int = 50
    seed: int = 0
    head_channels: int = 32
    num_convs: int = 1
    backbone: Literal["mobilenet_v2", "resnet18"] = "mobilenet_v2"

    def __post_init__(self) -> None:
        if self.head not in ("fcos", "retina"):
            raise ValueError(f"head must be 'fcos' or 'retina', got {self.head!r}")
        if self.method not in ("maml", "baseline"):
            raise ValueError(f"method must be 'maml' or 'baseline', got {self.method!r}")
        if self.lr_kind not in ("kernelwise", "scalar"):
            raise ValueError(f"lr_kind must be 'kernelwise' or 'scalar', got {self.lr_kind!r}")
        if self.steps < 1 or self.pairs_per_step < 1 or self.checkpoint_every < 1:
            raise ValueError("steps, pairs_per_step and checkpoint_every must be >= 1")
        if not 0.0 <= self.first_order_fraction <= 1.0:
            raise ValueError(
                f"first_order_fraction must be in [0, 1], got {self.first_order_fraction}"
            )


def _targets(
    detector: InstanceDetector, boxes: Tensor, present: Tensor, hw: torch.Size
) -> dict[str, Tensor]:
    return detector.ops.targets(boxes, present, (int(hw[0]), int(hw[1])))


def _split(t: dict[str, Tensor], sizes: list[int]) -> list[dict[str, Tensor]]:
    parts = {k: torch.split(v, sizes) for k, v in t.items()}
    return [{k: parts[k][i] for k in t} for i in range(len(sizes))]


def _make_tasks(
    detector: InstanceDetector,
    cache: FeatureCache,
    support: np.ndarray,
    target: np.ndarray,
    present: np.ndarray,
) -> list[Task]:
    feats_s = cache.support_features[support].float()  # [P, 3, C, h, w]
    feats_t = cache.target_features[target].float()  # [P, C, h, w]
    hw = feats_s.shape[-2:]
    p = len(support)
    boxes_s = cache.support_boxes[support].reshape(-1, 4)
    t_s = _targets(detector, boxes_s, torch.ones(p * 3), hw)
    t_t = _targets(
        detector, cache.target_boxes[target], torch.as_tensor(present, dtype=torch.float32), hw
    )
    sup = _split(t_s, [3] * p)
    qry = _split(t_t, [1] * p)
    return [Task((feats_s[i], sup[i]), (feats_t[i : i + 1], qry[i])) for i in range(p)]


class _Trainer:
    def __init__(self, detector: InstanceDetector, config: MAMLTrainConfig) -> None:
        self.detector = detector
        self.config = config
        ops = detector.ops

        def loss_fn(outputs: Any, targets: Any) -> Tensor:
            return ops.losses(outputs, targets).mean()

        self.loss_fn = loss_fn
        head: nn.Module = detector.head
        if config.method == "maml":
            schedule = MultiStepSchedule(
                first_order_epochs=PAPER_EPOCHS * config.first_order_fraction,
                anneal_epochs=PAPER_EPOCHS * 0.75,
            )
            self.learner: MetaLearner | None = MetaLearner(
                head,
                loss_fn,
                lr=detector.lr,  # type: ignore[arg-type]
                config=MAMLConfig(
                    inner_steps=config.inner_steps,
                    outer_lr=config.outer_lr,
                    schedule=schedule,
                    batching="vmap",
                ),
                optimizer=torch.optim.Adam(
                    [
                        {"params": list(head.parameters()), "lr": config.outer_lr},
                        {"params": list(detector.lr.parameters()), "lr": config.rate_outer_lr},
                    ]
                ),
            )
            self.optimizer = self.learner.optimizer
        else:
            self.learner = None
            self.optimizer = torch.optim.Adam(head.parameters(), lr=config.outer_lr)

    def step(self, tasks: list[Task], epoch: float) -> dict[str, Any]:
        if self.learner is not None:
            res = self.learner.step(tasks, epoch=epoch)
            return {
                "loss": float(res.loss),
                "query_losses": [round(float(v), 5) for v in res.query_losses],
                "first_order": bool(res.first_order),
            }
        feats = torch.cat([torch.cat([t.support[0], t.query[0]]) for t in tasks])
        keys = tasks[0].support[1].keys()
        targets = {
            k: torch.cat([torch.cat([t.support[1][k], t.query[1][k]]) for t in tasks]) for k in keys
        }
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.detector.head(feats), targets)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach())}


def train_instance_detector(
    cache: FeatureCache,
    out_dir: str | Path,
    *,
    config: MAMLTrainConfig | None = None,
    trunk: nn.Module,
    resume: str | Path | None = None,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
    stop_after: int | None = None,
) -> InstanceDetector:
    """Train (or resume training of) one instance detector on cached features.

    Writes into ``out_dir``: ``train_state.pt`` (resumable, every ``checkpoint_every`` steps),
    ``log.jsonl`` (one JSON object per logged step) and, when done, ``detector.pt`` (with the
    trunk, loadable by :func:`trackkit.sot.load_detector`).

    Args:
        cache: training crops with cached trunk features.
        out_dir: output folder (created).
        config: :class:`MAMLTrainConfig`; on resume it must equal the saved one.
        trunk: the frozen trunk the cache was computed with (stored in ``detector.pt``).
        resume: a ``train_state.pt`` to continue from.
        progress: tqdm progress bar.
        meta: extra facts stored in ``detector.pt`` (e.g. training sequences).
        stop_after: stop once this many steps are done (a time-boxed run), after writing a
            resumable ``train_state.pt``; ``detector.pt`` is written only when all steps ran.
    """
    cfg = config if config is not None else MAMLTrainConfig()
    out = Path(out_dir)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    det_cfg = DetectorConfig(
        head=cfg.head,
        backbone=cfg.backbone,
        head_channels=cfg.head_channels,
        num_convs=cfg.num_convs,
    )
    detector = InstanceDetector(det_cfg, trunk=trunk)
    head_params = dict(detector.head.named_parameters())
    if cfg.method == "baseline":
        # Plain GD has no learned rates: adaptation uses the paper's initial rate.
        detector.lr = FixedLR(cfg.inner_lr_init)
    elif cfg.lr_kind == "kernelwise":
        detector.lr = KernelwiseLR(head_params, init=cfg.inner_lr_init)
    else:
        detector.lr = ScalarLR(head_params, init=cfg.inner_lr_init)
    detector.train()
    trainer = _Trainer(detector, cfg)
    # On resume, the loop overwrites the head, the rates, Adam and both RNGs from the file.
    state = TrainState(
        modules={"head": detector.head, "lr": detector.lr},
        optimizers={"outer": trainer.optimizer},
        rng=rng,
        config=asdict(cfg),
    )

    def step_fn(step: int) -> dict[str, Any]:
        epoch = PAPER_EPOCHS * step / cfg.steps
        support, target, present = sample_cache_pairs(
            cache,
            cfg.pairs_per_step,
            rng,
            negative_prob=cfg.negative_prob if cfg.method == "maml" else 0.0,
            max_gap=cfg.max_gap,
        )
        tasks = _make_tasks(detector, cache, support, target, present)
        info = {"epoch": round(epoch, 3), **trainer.step(tasks, epoch)}
        rates = [p.detach().reshape(-1) for p in detector.lr.parameters()]
        if rates:
            info["inner_lr_mean"] = float(torch.cat(rates).mean())
        return info

    result = run_training(
        step_fn,
        state,
        out,
        steps=cfg.steps,
        resume=resume,
        may_change=("steps", "checkpoint_every"),
        checkpoint_every=cfg.checkpoint_every,
        log_every=10,
        stop_after=stop_after,
        progress=progress,
        desc=f"{cfg.method} {cfg.head} ({cfg.lr_kind})",
    )
    if not result.finished:
        return detector
    detector.eval()
    save_detector(
        out / "detector.pt",
        detector,
        meta={
            **(meta or {}),
            "train_config": asdict(cfg),
            "train_wall_time_s": round(result.elapsed_s, 1),
            "train_steps": cfg.steps,
        },
    )
    return detector
