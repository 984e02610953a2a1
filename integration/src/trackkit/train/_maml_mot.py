"""MAML-MOT's meta-training (Chen and Deng 2024, Sec. II-B, Alg. 1) on cached detection features.

1. **Cache** (once per detector): the frozen RetinaTrack network detects on every
   ``frame_step``-th frame of the training sequences; each detection keeps its
   re-identification feature (the input of the last re-identification layer) and the identity
   of the ground-truth box it overlaps (Hungarian matching, IoU >= ``match_iou``; unmatched
   detections are false positives, identity -1, used only as negatives).
2. **Tasks** (eq. 1): one identity of one sequence; support = its detections in ``k`` frames,
   query = its detection in another frame (``metalearn.identity_task_indices``); negatives =
   other identities' detections (and false positives) of the same frames, up to
   ``max_negatives`` per frame.
3. **Meta-training**: only the last re-identification layer (``ReidLayer``, initialised with
   the detector's own) is meta-learned with ``metalearn.MetaLearner``: one inner gradient step
   (lr 5e-3) on the support's cosine-similarity classification loss, Adam 1e-4 on the query's
   loss after the step (eqs. 2-5), tasks vectorised with ``torch.func.vmap``.
4. **Bank**: ``bank_size`` training tasks adapted from the meta-learned layer with the same
   inner step; their parameters and support features initialise new tracks online (eqs. 6-7).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

import assoc
import metalearn
from trackkit._torchutil import resolve_device
from trackkit.data import MOTSequence
from trackkit.mot.maml_mot import (
    DEFAULT_DETECTOR,
    ROLE_ANCHOR,
    ROLE_NEGATIVE,
    ROLE_PAD,
    ROLE_POSITIVE,
    ROLE_QUERY,
    MAMLMOTBank,
    ReidLayer,
    cosine_classification_loss,
    cosine_classification_losses,
    detect_reid,
    file_sha256,
    reid_layer,
    save_maml_mot_checkpoint,
)
from trackkit.mot.retinatrack import RetinaTrackNet, load_retinatrack_checkpoint
from trackkit.train._loop import TrainResult, TrainState, run_training

__all__ = [
    "MAMLMOTTrainConfig",
    "ReidFeatureCache",
    "build_reid_cache",
    "maml_mot_tasks",
    "train_maml_mot",
]


@dataclass(frozen=True)
class MAMLMOTTrainConfig:
    """One meta-training run of :func:`train_maml_mot` (paper values in brackets).

    Attributes:
        steps: outer steps.
        tasks_per_step: tasks per outer step.
        k: support detections per task [k crops].
        max_negatives: negatives per frame of a task.
        inner_lr: inner-loop learning rate [5e-3]; one inner step [1].
        outer_lr: Adam learning rate of the outer loop [1e-4].
        scale: logit scale ``s`` of the cosine-similarity classification.
        bank_size: training tasks kept in the checkpoint for the online initialisation.
        frame_step: cache every ``frame_step``-th frame of each sequence.
        match_iou: IoU at which a detection takes a ground-truth identity.
        eval_tasks: fixed validation tasks for the run log's evaluation.
        seed: seed of the task stream.
    """

    steps: int = 1500
    tasks_per_step: int = 16
    k: int = 3
    max_negatives: int = 8
    inner_lr: float = 5e-3
    outer_lr: float = 1e-4
    scale: float = 10.0
    bank_size: int = 64
    frame_step: int = 1
    match_iou: float = 0.5
    eval_tasks: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "tasks_per_step", "k", "max_negatives", "bank_size", "frame_step"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.eval_tasks, bool) or not isinstance(self.eval_tasks, int):
            raise ValueError(f"eval_tasks must be an integer >= 0, got {self.eval_tasks!r}")
        if self.eval_tasks < 0:
            raise ValueError(f"eval_tasks must be an integer >= 0, got {self.eval_tasks!r}")
        if not (self.inner_lr >= 0 and np.isfinite(self.inner_lr)):
            raise ValueError(f"inner_lr must be a finite number >= 0, got {self.inner_lr!r}")
        for name in ("outer_lr", "scale"):
            v = getattr(self, name)
            if not (v > 0 and np.isfinite(v)):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not 0.0 < self.match_iou <= 1.0:
            raise ValueError(f"match_iou must lie in (0, 1], got {self.match_iou!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (the run's configuration)."""
        return asdict(self)


@dataclass(frozen=True)
class ReidFeatureCache:
    """Re-identification features of the detections of some sequences.

    Attributes:
        features: ``Tensor[N, D]`` float32 (CPU).
        identities: ``Tensor[N]`` int64, unique over sequences; -1 for false positives.
        frames: ``Tensor[N]`` int64 frame key, unique over sequences.
        sequences: names of the cached sequences.
        detector: ``{"name", "sha256"}`` of the detector checkpoint.
        seconds: time spent detecting.
    """

    features: Tensor
    identities: Tensor
    frames: Tensor
    sequences: tuple[str, ...]
    detector: dict[str, str]
    seconds: float

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def save(self, path: str | Path) -> None:
        """Write the cache (``torch.load(weights_only=True)``)."""
        torch.save(
            {
                "features": self.features,
                "identities": self.identities,
                "frames": self.frames,
                "sequences": list(self.sequences),
                "detector": dict(self.detector),
                "seconds": float(self.seconds),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> ReidFeatureCache:
        """Read a cache written by :meth:`save`."""
        from trackkit._torchutil import load_checkpoint

        d = load_checkpoint(path, what="MAML-MOT feature cache")
        try:
            return cls(
                d["features"],
                d["identities"],
                d["frames"],
                tuple(d["sequences"]),
                dict(d["detector"]),
                float(d["seconds"]),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a MAML-MOT feature cache ({err})") from None


def _detector_id(path: Path) -> dict[str, str]:
    return {"name": path.name, "sha256": file_sha256(path)}


def build_reid_cache(
    net: RetinaTrackNet,
    sequences: Sequence[MOTSequence],
    *,
    detector: dict[str, str],
    frame_step: int = 1,
    match_iou: float = 0.5,
    progress: bool = True,
) -> ReidFeatureCache:
    """Detect on the sequences' frames and label every detection with a ground-truth identity.

    Ground truth: rows with a non-zero consider flag and class 1 (pedestrian). A detection takes
    the identity of the box it is matched to by ``assoc.hungarian_match`` on IoU (at least
    ``match_iou``); unmatched detections get -1.

    Raises:
        ValueError: a sequence without images or ground truth.
    """
    feats: list[Tensor] = []
    ids: list[np.ndarray] = []
    frames: list[np.ndarray] = []
    t0 = time.perf_counter()
    total = sum(len(range(0, s.num_frames, frame_step)) for s in sequences)
    bar = tqdm(total=total, desc="maml-mot cache", unit="frame", disable=not progress)
    for si, seq in enumerate(sequences):
        if seq.frames is None or seq.gt is None:
            raise ValueError(f"sequence {seq.name!r} needs img1/ and gt/gt.txt for training")
        gt = seq.gt.select((seq.gt.confidences != 0) & (seq.gt.classes == 1))
        per_frame = gt.split_by_frame(seq.num_frames)
        for t in range(0, seq.num_frames, frame_step):
            (det,) = detect_reid(net, [seq.frames[t]])
            bar.update(1)
            if len(det) == 0:
                continue
            g = per_frame[t]
            label = np.full(len(det), -1, dtype=np.int64)
            if g.size:
                gxywh = gt.boxes_xywh[g]
                gxyxy = np.concatenate([gxywh[:, :2], gxywh[:, :2] + gxywh[:, 2:]], axis=1)
                iou = assoc.iou_matrix(det.boxes_xyxy, gxyxy)
                m = assoc.hungarian_match(iou, maximize=True, threshold=match_iou).matches
                label[m[:, 0]] = si * 1_000_000 + gt.ids[g][m[:, 1]]
            feats.append(det.features.detach().float().cpu())
            ids.append(label)
            frames.append(np.full(len(det), si * 1_000_000 + t, dtype=np.int64))
    bar.close()
    d = int(reid_layer(net)[0].shape[1])
    return ReidFeatureCache(
        torch.cat(feats) if feats else torch.zeros(0, d),
        torch.from_numpy(np.concatenate(ids) if ids else np.zeros(0, np.int64)),
        torch.from_numpy(np.concatenate(frames) if frames else np.zeros(0, np.int64)),
        tuple(s.name for s in sequences),
        dict(detector),
        time.perf_counter() - t0,
    )


class _FrameTable:
    """Detections of each cached frame as a padded index table (batched negative sampling)."""

    def __init__(self, cache: ReidFeatureCache) -> None:
        keys, inverse, counts = torch.unique(cache.frames, return_inverse=True, return_counts=True)
        width = int(counts.max()) if counts.numel() else 1
        order = torch.argsort(inverse, stable=True)
        start = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(cache)) - start[inverse[order]]
        table = torch.full((keys.numel(), width), -1, dtype=torch.int64)
        table[inverse[order], slot] = order
        self.table = table
        self.row_of = inverse  # detection -> frame row

    def negatives(
        self, cache: ReidFeatureCache, targets: Tensor, count: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Up to ``count`` random other-identity detections of each target's frame.

        Returns ``(index [..., count], valid [..., count])`` (index 0 where invalid).
        """
        members = self.table[self.row_of[targets]]  # [..., W]
        ok = members >= 0
        other_id = cache.identities[members.clamp_min(0)]
        ok &= (other_id != cache.identities[targets].unsqueeze(-1)) | (other_id < 0)
        ok &= members != targets.unsqueeze(-1)
        keys = torch.rand(members.shape, generator=generator)
        keys = torch.where(ok, keys, torch.full_like(keys, 2.0))
        pick = torch.argsort(keys, dim=-1)[..., :count]
        index = torch.gather(members, -1, pick)
        valid = torch.gather(ok, -1, pick)
        if index.shape[-1] < count:  # fewer detections in a frame than count
            pad = count - index.shape[-1]
            index = torch.cat([index, index.new_zeros((*index.shape[:-1], pad))], -1)
            valid = torch.cat([valid, valid.new_zeros((*valid.shape[:-1], pad))], -1)
        return torch.where(valid, index, torch.zeros_like(index)), valid


def maml_mot_tasks(
    cache: ReidFeatureCache,
    num_tasks: int,
    *,
    k: int,
    max_negatives: int,
    generator: torch.Generator,
    table: _FrameTable | None = None,
) -> tuple[metalearn.Task, Tensor]:
    """``num_tasks`` stacked tasks (Chen and Deng 2024, eq. 1) from a feature cache.

    Support: the identity's ``k`` detections (role POSITIVE) and up to ``max_negatives``
    negatives from each support frame (role NEGATIVE); query: the support detections as
    reference (role ANCHOR), the query detection (role QUERY) and its frame's negatives.
    Unused slots are zero features with role PAD.

    Returns:
        ``(tasks, support_idx)``: a stacked ``metalearn.Task`` whose batches are
        ``(features [T, n, D], roles [T, n])``, and the support detections ``[T, k]``.
    """
    table = table if table is not None else _FrameTable(cache)
    labelled = cache.identities >= 0
    idx_all = torch.nonzero(labelled).squeeze(1)
    s_loc, q_loc = metalearn.identity_task_indices(
        cache.identities[idx_all], cache.frames[idx_all], k=k, num_tasks=num_tasks,
        generator=generator,
    )  # fmt: skip
    support, query = idx_all[s_loc], idx_all[q_loc]  # [T, k], [T]
    s_neg, s_ok = table.negatives(cache, support, max_negatives, generator)  # [T, k, M]
    q_neg, q_ok = table.negatives(cache, query, max_negatives, generator)  # [T, M]
    f = cache.features
    t = support.shape[0]

    def roles_of(ok: Tensor) -> Tensor:
        return torch.where(ok, ROLE_NEGATIVE, ROLE_PAD)

    s_feat = torch.cat([f[support], f[s_neg.reshape(t, -1)]], dim=1)
    s_role = torch.cat([torch.full((t, k), ROLE_POSITIVE), roles_of(s_ok.reshape(t, -1))], dim=1)
    q_feat = torch.cat([f[support], f[query].unsqueeze(1), f[q_neg]], dim=1)
    q_role = torch.cat(
        [torch.full((t, k), ROLE_ANCHOR), torch.full((t, 1), ROLE_QUERY), roles_of(q_ok)], dim=1
    )
    s_feat = s_feat * (s_role != ROLE_PAD).unsqueeze(-1)
    q_feat = q_feat * (q_role != ROLE_PAD).unsqueeze(-1)
    return metalearn.Task((s_feat, s_role), (q_feat, q_role)), support


def _unstack(tasks: metalearn.Task) -> list[metalearn.Task]:
    (sf, sr), (qf, qr) = tasks
    return [metalearn.Task((sf[i], sr[i]), (qf[i], qr[i])) for i in range(sf.shape[0])]


def _to(tasks: metalearn.Task, device: torch.device) -> metalearn.Task:
    (sf, sr), (qf, qr) = tasks
    return metalearn.Task((sf.to(device), sr.to(device)), (qf.to(device), qr.to(device)))


def _query_stats(
    layer: ReidLayer, theta: dict[str, Tensor], tasks: metalearn.Task, scale: float, lr: float
) -> dict[str, float]:
    """Query loss and top-1 identification after one inner step from ``theta``."""
    (sf, sr), (qf, qr) = tasks
    w0 = {n: v.detach().expand(sf.shape[0], *v.shape) for n, v in theta.items()}

    def per_sample(outputs: Tensor, roles: Tensor) -> Tensor:
        return cosine_classification_losses(outputs, roles, scale=scale)

    cand = ((sr == ROLE_POSITIVE) | (sr == ROLE_QUERY)).float()
    adapted = metalearn.adapt_batched(
        layer, w0, (sf, sr), per_sample, steps=1, lr=lr, weights=cand, batching="vmap"
    )
    with torch.no_grad():
        emb = torch.nn.functional.normalize(
            torch.einsum("ted,tnd->tne", adapted["weight"], qf) + adapted["bias"][:, None], dim=-1
        )
        losses = torch.stack(
            [cosine_classification_loss(emb[i], qr[i], scale=scale) for i in range(len(qf))]
        )
        ref = ((qr == ROLE_ANCHOR) | (qr == ROLE_POSITIVE)).float().unsqueeze(-1)
        proto = torch.nn.functional.normalize((emb * ref).sum(1), dim=-1)
        cos = torch.einsum("tne,te->tn", emb, proto)
        neg_best = torch.where(qr == ROLE_NEGATIVE, cos, torch.full_like(cos, -2.0)).max(1).values
        q_cos = (cos * (qr == ROLE_QUERY)).sum(1)
        has_neg = (qr == ROLE_NEGATIVE).any(1)
        top1 = ((q_cos > neg_best) | ~has_neg).float().mean()
    return {"query_loss": float(losses.mean()), "top1": float(top1)}


def train_maml_mot(
    config: MAMLMOTTrainConfig,
    out: str | Path,
    *,
    sequences: Sequence[MOTSequence] = (),
    validation: Sequence[MOTSequence] = (),
    cache: ReidFeatureCache | None = None,
    validation_cache: ReidFeatureCache | None = None,
    detector: str | Path = DEFAULT_DETECTOR,
    resume: str | Path | None = None,
    checkpoint_every: int = 250,
    stop_after: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    command: str = "",
) -> tuple[Path, TrainResult]:
    """Meta-train MAML-MOT's re-identification layer on the shared loop; write the checkpoint.

    Writes ``OUT/reid_cache.pt`` (training features, reused on ``resume`` when it came from the
    same detector) and ``OUT/reid_cache_val.pt``, ``OUT/train_state.pt`` (resumable),
    ``OUT/log.jsonl`` (with evaluations: query loss and top-1 identification after the inner
    step, for the meta-learned layer and for the detector's own layer, on fixed training tasks
    and on tasks of the ``validation`` sequences) and ``OUT/maml_mot.pt``
    (:func:`trackkit.mot.maml_mot.load_maml_mot_checkpoint`), which records the detector file's
    name and SHA-256.

    ``cache`` / ``validation_cache``: features cached beforehand (e.g. synthetic ones in tests)
    instead of detecting on ``sequences`` / ``validation``; their feature size must be the
    detector's.

    Returns the checkpoint path and the loop's :class:`TrainResult`.

    Raises:
        ValueError: neither ``sequences`` nor ``cache``, a cache of another feature size, or
            no identity with enough detections for a task.
    """
    cfg = config
    dev = resolve_device(device)  # before any output is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    detector = Path(detector)
    det_id = _detector_id(detector)
    net, _ = load_retinatrack_checkpoint(detector, device=dev)
    caches: dict[str, ReidFeatureCache] = {}
    for split, given in (("train", cache), ("val", validation_cache)):
        if given is not None:
            caches[split] = given
    if "train" not in caches and not sequences:
        raise ValueError("train_maml_mot needs training sequences or a feature cache")
    for split, seqs in (("train", sequences), ("val", validation)):
        if not seqs or split in caches:
            continue
        path = out / ("reid_cache.pt" if split == "train" else "reid_cache_val.pt")
        names = tuple(s.name for s in seqs)
        cached = ReidFeatureCache.load(path) if path.is_file() else None
        if cached is None or cached.detector != det_id or cached.sequences != names:
            cached = build_reid_cache(
                net, seqs, detector=det_id, frame_step=cfg.frame_step,
                match_iou=cfg.match_iou, progress=progress,
            )  # fmt: skip
            cached.save(path)
        caches[split] = cached
    cache = caches["train"]
    table = _FrameTable(cache)
    weight, bias = reid_layer(net)
    for split, c in caches.items():
        if c.features.dim() != 2 or c.features.shape[1] != weight.shape[1]:
            raise ValueError(
                f"{split} cache has features of shape {tuple(c.features.shape)}, the detector's "
                f"re-identification layer reads {weight.shape[1]}"
            )
    original = {"weight": weight.to(dev), "bias": bias.to(dev)}
    layer = ReidLayer(weight, bias).to(dev)
    del net

    def loss_fn(outputs: Tensor, roles: Tensor) -> Tensor:
        return cosine_classification_loss(outputs, roles, scale=cfg.scale)

    learner = metalearn.MetaLearner(
        layer,
        loss_fn,
        lr=metalearn.FixedLR(cfg.inner_lr),
        adapted=["weight", "bias"],
        config=metalearn.MAMLConfig(
            inner_steps=1,
            outer_lr=cfg.outer_lr,
            schedule=metalearn.MultiStepSchedule(last_only=True, first_order_epochs=0.0),
            batching="vmap",
        ),
    )
    rng = np.random.default_rng(cfg.seed)
    state = TrainState(
        modules={"layer": layer},
        optimizers={"adam": learner.optimizer},
        rng=rng,
        config=cfg.to_dict(),
    )
    fixed: dict[str, metalearn.Task] = {}
    if cfg.eval_tasks:
        gen = torch.Generator().manual_seed(10_000 + cfg.seed)
        fixed["train"] = _to(
            maml_mot_tasks(
                cache, cfg.eval_tasks, k=cfg.k, max_negatives=cfg.max_negatives, generator=gen,
                table=table,
            )[0],
            dev,
        )  # fmt: skip
        if "val" in caches:
            fixed["val"] = _to(
                maml_mot_tasks(
                    caches["val"], cfg.eval_tasks, k=cfg.k, max_negatives=cfg.max_negatives,
                    generator=gen,
                )[0],
                dev,
            )  # fmt: skip

    def step_fn(step: int) -> dict[str, Any]:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        tasks, _ = maml_mot_tasks(
            cache, cfg.tasks_per_step, k=cfg.k, max_negatives=cfg.max_negatives,
            generator=gen, table=table,
        )  # fmt: skip
        result = learner.step(_unstack(_to(tasks, dev)))
        return {"query_loss": round(float(result.loss), 5)}

    def eval_fn(_: int) -> dict[str, Any]:
        theta = {"weight": layer.weight.detach(), "bias": layer.bias.detach()}
        res: dict[str, Any] = {}
        for split, tasks in fixed.items():
            for name, th in (("meta", theta), ("detector", original)):
                stats = _query_stats(layer, th, tasks, cfg.scale, cfg.inner_lr)
                res.update({f"{split}_{name}_{k}": round(v, 5) for k, v in stats.items()})
        return res

    result = run_training(
        step_fn,
        state,
        out,
        steps=cfg.steps,
        resume=resume,
        checkpoint_every=checkpoint_every,
        log_every=25,
        stop_after=stop_after,
        eval_fn=eval_fn if fixed else None,
        eval_every=max(1, cfg.steps // 4),
        progress=progress,
        desc="maml-mot",
    )
    # The bank: training tasks adapted from the meta-learned layer with the inner step.
    gen = torch.Generator().manual_seed(20_000 + cfg.seed)
    tasks, support = maml_mot_tasks(
        cache, cfg.bank_size, k=cfg.k, max_negatives=cfg.max_negatives, generator=gen,
        table=table,
    )  # fmt: skip
    (sf, sr), _ = _to(tasks, dev)
    theta = {n: p.detach().expand(cfg.bank_size, *p.shape) for n, p in layer.named_parameters()}
    cand = ((sr == ROLE_POSITIVE) | (sr == ROLE_QUERY)).float()
    adapted = metalearn.adapt_batched(
        layer,
        theta,
        (sf, sr),
        lambda o, r: cosine_classification_losses(o, r, scale=cfg.scale),
        steps=1,
        lr=cfg.inner_lr,
        weights=cand,
        batching="vmap",
    )
    bank = MAMLMOTBank(adapted["weight"], adapted["bias"], cache.features[support].to(dev))
    final_eval = eval_fn(result.steps_done) if fixed else {}
    meta = {
        "steps": result.steps_done,
        "train_seconds": round(result.elapsed_s, 1),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "cache_seconds": round(sum(c.seconds for c in caches.values()), 1),
        "cached_detections": len(cache),
        "labelled_detections": int((cache.identities >= 0).sum()),
        "identities": int(torch.unique(cache.identities[cache.identities >= 0]).numel()),
        "sequences": list(cache.sequences),
        "validation": list(caches["val"].sequences) if "val" in caches else [],
        "eval": final_eval,
        "config": cfg.to_dict(),
        "command": command,
    }
    ckpt = out / "maml_mot.pt"
    save_maml_mot_checkpoint(
        ckpt,
        layer,
        bank,
        inner_lr=cfg.inner_lr,
        scale=cfg.scale,
        k=cfg.k,
        max_negatives=cfg.max_negatives,
        detector=det_id,
        meta=meta,
    )
    (out / "summary.json").write_text(json.dumps(meta, indent=1))
    return ckpt, result
