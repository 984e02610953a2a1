"""Sequence-level fine-tuning of your own score-map tracker with `seqrl` SCST.

The tracker is a tiny Siamese network defined below (any model with a score per candidate box
works): it correlates exemplar features with search-region features at three scales, which
scores 3 x 9 x 9 candidate boxes per frame. It is first trained frame by frame (cross-entropy
towards the candidate closest to the ground truth, the usual supervised recipe), then
fine-tuned on whole episodes with self-critical sequence training (Kim et al. 2022, eq. 6):
the tracker plays each episode twice through ``step(state, frame, mode)``, sampling candidates
and taking the argmax, and the episode's average overlap of the argmax play is the baseline.
Both versions are scored with `trackkit.eval` on held-out synthetic sequences.

    python examples/scst_finetune.py                      # train and score, synthetic data
    python examples/scst_finetune.py --video clip.mp4 --init 120,80,40,60 --boxes boxes.txt
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import seqrl
from trackkit.data import (
    crop_and_resize,
    enlarge_boxes_xywh,
    open_frames,
    search_region_xywh,
    synthetic_sot_sequence,
)
from trackkit.eval import run_sot_benchmark, write_otb_results

SCALES = (1 / 1.05, 1.0, 1.05)  # candidate sizes relative to the previous box
EXEMPLAR, SEARCH, STRIDE = 32, 64, 4  # crop sides (px) and feature stride: a 9x9 score map


class SiameseScorer(nn.Module):
    """Scores candidate boxes: correlation of exemplar and search features (SiamFC-like)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
        )
        self.gain = nn.Parameter(torch.tensor(0.1))
        self.bias = nn.Parameter(torch.tensor(-2.0))

    def embed(self, crops: np.ndarray) -> Tensor:
        """``uint8[n, S, S, 3]`` crops -> features ``[n, 32, S/4, S/4]``."""
        x = torch.as_tensor(crops).permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.features(x)

    def scores(self, exemplar: Tensor, search: Tensor) -> Tensor:
        """Exemplar ``[B, C, 8, 8]``, search ``[B, K, C, 16, 16]`` -> scores ``[B, K*81]``."""
        b, k = search.shape[:2]
        corr = nn.functional.conv2d(
            search.reshape(1, b * k * search.shape[2], *search.shape[3:]),
            exemplar.repeat_interleave(k, dim=0),
            groups=b * k,
        )  # [1, B*K, 9, 9]
        return torch.sigmoid(self.gain * corr.reshape(b, -1) + self.bias)


def exemplar_crops(frames: list[np.ndarray], boxes_xywh: np.ndarray) -> np.ndarray:
    regions = search_region_xywh(boxes_xywh, search_factor=1.0)
    return np.stack([crop_and_resize(f, r, EXEMPLAR) for f, r in zip(frames, regions)])


def search_candidates(frames: list[np.ndarray], boxes_xywh: np.ndarray):
    """Crops ``uint8[B, K, S, S, 3]`` at K scales and the candidate boxes ``[B, K*81, 4]``."""
    crops, cands = [], []
    cells = (np.arange(SEARCH // STRIDE - EXEMPLAR // STRIDE + 1) - 4.0) * STRIDE  # crop px
    for frame, box in zip(frames, boxes_xywh):
        per_frame = []
        for s in SCALES:
            region = search_region_xywh(enlarge_boxes_xywh(box, s), search_factor=2.0)
            per_frame.append(crop_and_resize(frame, region, SEARCH))
            px = region[2] / SEARCH  # image px per crop px
            cx, cy = box[:2] + box[2:] / 2
            dy, dx = np.meshgrid(cells * px, cells * px, indexing="ij")
            w, h = box[2] * s, box[3] * s
            cands.append(np.stack([cx + dx - w / 2, cy + dy - h / 2, 0 * dx + w, 0 * dx + h], -1))
        crops.append(np.stack(per_frame))
    return np.stack(crops), np.stack(cands).reshape(len(frames), -1, 4)


class ScoreMapTracker:
    """The model as a `trackkit` single-object tracker (``init``/``update``, argmax choice)."""

    def __init__(self, model: SiameseScorer) -> None:
        self.model = model

    @torch.no_grad()
    def init(self, frame: np.ndarray, box_xywh) -> None:
        self.box = np.asarray(box_xywh, dtype=np.float64)
        self.exemplar = self.model.embed(exemplar_crops([frame], self.box[None]))

    @torch.no_grad()
    def update(self, frame: np.ndarray) -> np.ndarray:
        crops, cands = search_candidates([frame], self.box[None])
        search = self.model.embed(crops.reshape(-1, SEARCH, SEARCH, 3))
        scores = self.model.scores(self.exemplar, search.reshape(1, len(SCALES), *search.shape[1:]))
        self.box = cands[0, int(scores.argmax())]
        return self.box


def make_step(model: SiameseScorer):
    """The `seqrl` contract: ``step(state, frame, mode) -> (new_state, choice, log_prob[B])``."""

    def step(state, frames, mode):
        exemplar, boxes = state
        crops, cands = search_candidates(frames, boxes)
        search = model.embed(crops.reshape(-1, SEARCH, SEARCH, 3))
        scores = model.scores(exemplar, search.reshape(len(frames), len(SCALES), *search.shape[1:]))
        log_probs = seqrl.score_map_log_probs(scores)  # eq. 5: softmax(logit(score))
        idx, log_p = seqrl.select_candidates(log_probs, mode=mode)
        chosen = cands[np.arange(len(frames)), idx.numpy()]
        return (exemplar, chosen), torch.as_tensor(chosen), log_p

    return step


def sample_batch(seqs, batch: int, length: int, rng: np.random.Generator):
    """B episodes of ``length`` tracked frames (`seqrl.sample_episode`, interval augmentation)."""
    eps = [seqrl.sample_episode([len(s) for s in seqs], length=length, max_interval=3, rng=rng)
           for _ in range(batch)]  # fmt: skip
    frames = [[seqs[e.sequence][int(e.frames[t])] for e in eps] for t in range(length + 1)]
    gt = np.stack([seqs[e.sequence].boxes_xywh[e.frames] for e in eps], axis=1)  # [T+1, B, 4]
    return frames, gt


def supervised(model, seqs, iters: int, batch: int, rng, lr: float = 3e-3) -> None:
    """Frame-by-frame training: NLL of the candidate with the best IoU, previous box = truth."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(iters):
        frames, gt = sample_batch(seqs, batch, 1, rng)
        exemplar = model.embed(exemplar_crops(frames[0], gt[0]))
        prev = gt[0] + rng.normal(0, 0.1, gt[0].shape) * np.tile(gt[0][:, 2:], 2)
        crops, cands = search_candidates(frames[1], prev)
        search = model.embed(crops.reshape(-1, SEARCH, SEARCH, 3))
        scores = model.scores(exemplar, search.reshape(batch, len(SCALES), *search.shape[1:]))
        truth = torch.as_tensor(gt[1])[:, None].expand(cands.shape)
        ious = seqrl.box_iou_xywh(torch.as_tensor(cands), truth)  # [B, candidates]
        loss = nn.functional.nll_loss(seqrl.score_map_log_probs(scores), ious.argmax(1))
        opt.zero_grad()
        loss.backward()
        opt.step()


def scst(model, seqs, iters: int, batch: int, length: int, rng, lr: float = 1e-4) -> list[float]:
    """SCST fine-tuning (Kim et al. 2022, Algorithm 1); returns the greedy reward per iteration."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    step, history = make_step(model), []
    for _ in range(iters):
        frames, gt = sample_batch(seqs, batch, length, rng)
        gt_t = torch.as_tensor(gt[1:])  # [T, B, 4]

        def reward_fn(choices: list[Tensor], gt_t: Tensor = gt_t) -> Tensor:  # AO, [B]
            ious = seqrl.box_iou_xywh(torch.stack(choices), gt_t)  # [T, B]
            return seqrl.average_overlap(ious.T)

        initial = (model.embed(exemplar_crops(frames[0], gt[0])), gt[0])
        rollout = seqrl.run_scst_episode(step, initial, frames[1:], reward_fn)
        opt.zero_grad()
        rollout.loss().backward()
        opt.step()
        history.append(float(rollout.reward_greedy.mean()))
    return history


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per synthetic sequence")
    parser.add_argument("--train-seqs", type=int, default=12)
    parser.add_argument("--eval-seqs", type=int, default=6)
    parser.add_argument("--supervised-iters", type=int, default=300)
    parser.add_argument("--scst-iters", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--episode", type=int, default=12, help="tracked frames per episode")
    parser.add_argument("--scst-lr", type=float, default=1e-4, help="Adam rate of the SCST phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--video", type=Path, help="your video or image folder to track")
    parser.add_argument("--init", help="x,y,w,h (0-based) of the target in the first frame")
    parser.add_argument("--boxes", type=Path, help="write the tracked boxes here (0-based)")
    args = parser.parse_args(argv)
    if args.video is not None and args.init is None:
        parser.error("--video needs --init x,y,w,h")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    def synth(seed: int):
        return synthetic_sot_sequence(length=args.frames, seed=seed)

    train = [synth(1000 + i) for i in range(args.train_seqs)]
    held_out = [synth(i) for i in range(args.eval_seqs)]  # seeds never trained on
    model = SiameseScorer()
    supervised(model, train, args.supervised_iters, args.batch, rng)
    before = copy.deepcopy(model)
    rewards = scst(model, train, args.scst_iters, args.batch, args.episode, rng, lr=args.scst_lr)

    results = {}
    for name, m in (("supervised", before), ("supervised+SCST", model)):
        r = run_sot_benchmark(lambda m=m: ScoreMapTracker(m), held_out, name=name, progress=False)
        results[name] = r.mean.auc
        print(f"{name}: held-out success AUC {r.mean.auc:.3f}, precision@20px "
              f"{r.mean.precision:.3f} ({len(held_out)} sequences)")  # fmt: skip
    k = max(1, len(rewards) // 10)
    print(f"SCST greedy episode reward (average overlap): first {k} iterations "
          f"{np.mean(rewards[:k]):.3f}, last {k} {np.mean(rewards[-k:]):.3f}")  # fmt: skip

    if args.video is not None:
        frames = open_frames(args.video)
        tracker = ScoreMapTracker(model)
        boxes = [np.array([float(v) for v in args.init.split(",")])]
        tracker.init(frames[0], boxes[0])
        boxes += [tracker.update(frames[t]) for t in range(1, len(frames))]
        if args.boxes is not None:
            write_otb_results(args.boxes, np.stack(boxes), coordinate_base=0)
        print(f"{args.video}: tracked {len(frames)} frames, last box {np.round(boxes[-1], 1)}")
    return results


if __name__ == "__main__":
    main()
