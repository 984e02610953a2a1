"""A single-object tracker from a `detheads` backbone and head, adapted online with `metalearn`.

The tracker of Wang et al. 2020 (Algorithm 1), written out from the pieces: a frozen
MobileNetV2 trunk and an FCOS head (`detheads`), adapted on the first frame with 5 gradient
steps and every 10 frames with 1 step on a buffer of confident frames (`metalearn.Adapter`),
the SiamRPN post-processing (`trackkit.sot.select_and_interpolate`) and scoring with
`trackkit.eval`. It runs with three heads:

1. the shipped meta-learned FCOS-MAML head with its learned kernel-wise rates;
2. your own head, here trained offline with plain supervised learning on synthetic scenes and
   adapted with one fixed rate (``--own-lr``);
3. the same head untrained, adapted with the same fixed rate: plain gradient descent from a
   random head has nothing to adapt and tracks nothing.

The packaged tracker ``trackkit.sot.fcos_maml()`` runs on the same sequences as a reference.

    python examples/sot_meta_adapted.py                          # synthetic sequences
    python examples/sot_meta_adapted.py --data ../shared/data/sot --sequences Crossing Couple
    python examples/sot_meta_adapted.py --video clip.mp4 --init 120,80,40,60 --boxes boxes.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import detheads
import metalearn
from trackkit.data import (
    boxes_to_crop,
    crop_and_resize,
    open_frames,
    read_simple_sot,
    search_region_xywh,
    synthetic_sot_sequence,
)
from trackkit.eval import run_sot_benchmark, sot_results_table, write_otb_results
from trackkit.sot import (
    InstanceTracker,
    cosine_window,
    distractor_ratio,
    images_to_tensor,
    load_detector,
    locations,
    select_and_interpolate,
    shipped_checkpoint,
    tracker_config_for,
)

SEARCH, EXEMPLAR, STRIDE = 263, 127, 8  # search crop side, target context side, head stride
# First-frame support: (zoom, dx, dy) = identity, zoom in and out by 1.08, shifts of 16 px.
AUGMENT = [(1, 0, 0), (1.08, 0, 0), (1 / 1.08, 0, 0)] + [
    (1, dx, dy) for dx, dy in ((16, 0), (-16, 0), (0, 16), (0, -16))
]


def xywh_to_xyxy(b: np.ndarray) -> Tensor:
    b = np.asarray(b, dtype=np.float64)
    return torch.as_tensor(np.concatenate([b[..., :2], b[..., :2] + b[..., 2:]], -1)).float()


class SupportLoss:
    """`metalearn` loss contract ``loss(outputs, targets) -> scalar`` with ``detheads.fcos_loss``.

    Targets are support boxes ``[n, 4]`` (xyxy, crop pixels), one target per crop. The options
    are those the shipped head was meta-trained with: the points are the cell centres
    ``trackkit.sot.locations``; every cell inside the box is positive (no centre sampling);
    each crop is divided by ``max(its positives, 32)`` and the crops are averaged.
    """

    def __init__(self, hw: tuple[int, int]) -> None:
        self.points = locations(*hw)
        self.strides = torch.full((hw[0] * hw[1],), float(STRIDE))

    def __call__(self, outputs: dict[str, Tensor], boxes_xyxy: Tensor) -> Tensor:
        terms = detheads.fcos_loss(
            outputs,
            self.points,
            self.strides,
            boxes_xyxy[:, None],
            center_sampling_radius=0.0,
            normalize="image",
            min_positives=32.0,
        )
        return terms["loss"].mean()


class AdaptedDetectorTracker:
    """``init(frame, box_xywh)`` / ``update(frame) -> box_xywh``: the `trackkit.eval` protocol."""

    def __init__(self, trunk, head, lr, *, lost_threshold: float = 0.1, online: bool = True):
        self.trunk, self.lost_threshold, self.online = trunk, lost_threshold, online
        hw = (SEARCH // STRIDE + 1, SEARCH // STRIDE + 1)  # 33 x 33 cells
        self.hw, self.loss, self.window = hw, SupportLoss(hw), cosine_window(*hw)
        self.adapter = metalearn.Adapter(head, self.loss, lr=lr, capacity=30)
        self.lost_frames = 0

    def features(self, frame: np.ndarray, regions_xywh: np.ndarray) -> Tensor:
        with torch.no_grad():  # the trunk is frozen
            return self.trunk(images_to_tensor(crop_and_resize(frame, regions_xywh, SEARCH)))

    def init(self, frame: np.ndarray, box_xywh) -> None:
        self.box = np.asarray(box_xywh, dtype=np.float64)
        self.frame_wh = np.array([frame.shape[1], frame.shape[0]], dtype=np.float64)
        base = search_region_xywh(self.box, search_factor=SEARCH / EXEMPLAR)
        regions = []
        for zoom, dx, dy in AUGMENT:  # zoom > 1 magnifies the target; +dx moves it right
            side = base[2] / zoom
            cx, cy = base[:2] + base[2] / 2 - np.array([dx, dy]) * side / SEARCH
            regions.append([cx - side / 2, cy - side / 2, side, side])
        feats = self.features(frame, np.array(regions))
        boxes = xywh_to_xyxy(boxes_to_crop(self.box, np.array(regions), SEARCH))
        self.adapter.reset()
        theta0 = self.adapter.params()
        self.adapter.adapt((feats, boxes), steps=5)  # Algorithm 1: 5 steps on the first frame
        with torch.no_grad():  # support loss before / after: does the adaptation work?
            self.init_losses = [
                float(metalearn.batch_loss(self.adapter.model, p, (feats, boxes), self.loss))
                for p in (theta0, self.adapter.params())
            ]
        self.frame_index = 0

    def update(self, frame: np.ndarray) -> np.ndarray:
        self.frame_index += 1
        region = search_region_xywh(self.box, search_factor=SEARCH / EXEMPLAR)
        feats = self.features(frame, region[None])
        with torch.no_grad():
            out = self.adapter(feats)  # the head with the current fast weights
        boxes = detheads.decode_ltrb(self.loss.points, out["bbox_ltrb"], stride=STRIDE)
        scores = torch.sigmoid(out["centerness_logits"])  # [1, 1089]: centerness is the score
        if not float(scores.max()) >= self.lost_threshold:  # lost: keep the previous box
            self.lost_frames += 1
            return self.box.copy()
        scale = SEARCH / region[2]  # crop pixels per image pixel
        prev_wh = torch.tensor(self.box[None, 2:] * scale, dtype=torch.float32)
        center, size, best = select_and_interpolate(scores, boxes, prev_wh, self.window)
        c = region[:2] + center[0].double().numpy() / scale
        wh = np.clip(size[0].double().numpy() / scale, 4.0, self.frame_wh)
        c = np.clip(c, 0.0, self.frame_wh)  # keep the target centre inside the frame
        self.box = np.concatenate([c - wh / 2, wh])
        if self.online:  # confident frames join the buffer; 1 step every 10 frames
            if float(scores[0, best[0]]) >= 0.5:
                self.adapter.add(feats[0], xywh_to_xyxy(boxes_to_crop(self.box, region, SEARCH)))
            ratio = distractor_ratio(scores.reshape(1, *self.hw), best)  # peak-to-sidelobe
            if (self.frame_index + 1) % 10 == 0 or float(ratio[0]) > 0.7:
                self.adapter.update(steps=1)
        return self.box.copy()


def train_own_head(trunk, sequences, *, iters: int, seed: int):
    """Your own head: ``detheads.FCOSHead.tracking`` trained frame by frame with Adam."""
    rng = np.random.default_rng(seed)
    head = detheads.FCOSHead.tracking(trunk.out_channels, num_convs=1, channels=32, norm="none")
    untrained = {k: v.clone() for k, v in head.state_dict().items()}
    feats, boxes = [], []
    for seq in sequences:  # crops around jittered true boxes, 8 frames per sequence
        for t in rng.choice(len(seq), size=min(8, len(seq)), replace=False):
            box = seq.boxes_xywh[t]
            jitter = box + rng.normal(0, 0.2, 4) * np.tile(box[2:], 2)
            region = search_region_xywh(jitter, search_factor=SEARCH / EXEMPLAR)
            with torch.no_grad():
                feats.append(trunk(images_to_tensor(crop_and_resize(seq[t], region[None], SEARCH))))
            boxes.append(xywh_to_xyxy(boxes_to_crop(box, region, SEARCH))[None])
    feats, boxes = torch.cat(feats), torch.cat(boxes)
    loss_fn = SupportLoss(tuple(feats.shape[-2:]))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    for _ in range(iters):
        i = torch.as_tensor(rng.integers(0, len(feats), 16))
        loss = loss_fn(head(feats[i]), boxes[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    fresh = detheads.FCOSHead.tracking(trunk.out_channels, num_convs=1, channels=32, norm="none")
    fresh.load_state_dict(untrained)
    return head, fresh


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per synthetic sequence")
    parser.add_argument("--eval-seqs", type=int, default=4, help="held-out synthetic sequences")
    parser.add_argument("--train-seqs", type=int, default=8, help="for your own head")
    parser.add_argument("--train-iters", type=int, default=300, help="for your own head")
    parser.add_argument("--own-lr", type=float, default=1e-3, help="fixed rate of your head")
    parser.add_argument("--data", type=Path, help="evaluate on a dataset (simple SOT layout)")
    parser.add_argument("--sequences", nargs="+", help="names of --data sequences to use")
    parser.add_argument("--no-online", action="store_true", help="first-frame adaptation only")
    parser.add_argument("--video", type=Path, help="your video or image folder to track")
    parser.add_argument("--init", help="x,y,w,h (0-based) of the target in the first frame")
    parser.add_argument("--boxes", type=Path, help="write the tracked boxes here (0-based)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.video is not None and args.init is None:
        parser.error("--video needs --init x,y,w,h")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    # The shipped model: a detheads trunk and head, and the metalearn rates it was trained with.
    shipped = load_detector(shipped_checkpoint("fcos-maml"))
    trunk, head, rates = shipped.trunk, shipped.head, shipped.lr
    lost = float(shipped.meta.get("lost_threshold", 0.1))
    online = not args.no_online

    def synth(seed: int):
        return synthetic_sot_sequence(length=args.frames, seed=seed)

    if args.data is not None:
        evaluation = list(read_simple_sot(args.data, names=args.sequences))
    else:
        evaluation = [synth(i) for i in range(args.eval_seqs)]  # seeds never trained on
    train = [synth(1000 + i) for i in range(args.train_seqs)]
    own, untrained = train_own_head(trunk, train, iters=args.train_iters, seed=args.seed)
    fixed = metalearn.FixedLR(args.own_lr)

    trackers = {
        "shipped meta-learned head + learned rates": lambda: AdaptedDetectorTracker(
            trunk, head, rates, lost_threshold=lost, online=online
        ),
        f"own head + fixed rate {args.own_lr:g}": lambda: AdaptedDetectorTracker(
            trunk, own, fixed, lost_threshold=lost, online=online
        ),
        f"untrained head + fixed rate {args.own_lr:g}": lambda: AdaptedDetectorTracker(
            trunk, untrained, fixed, lost_threshold=lost, online=online
        ),
    }
    results, made = [], {}
    for name, make in trackers.items():
        made[name] = []

        def record(make=make, name=name):
            made[name].append(make())
            return made[name][-1]

        results.append(run_sot_benchmark(record, evaluation, name=name, progress=False))
    config = tracker_config_for(shipped, online_update=online)  # the packaged tracker
    reference = run_sot_benchmark(lambda: InstanceTracker(shipped, config=config), evaluation,
                                  name="trackkit.sot.fcos_maml()", progress=False)  # fmt: skip
    results.append(reference)
    print(sot_results_table(results))
    for name, runs in made.items():
        before = np.mean([t.init_losses[0] for t in runs])
        after = np.mean([t.init_losses[1] for t in runs])
        frames = sum(len(s) - 1 for s in evaluation)
        print(f"{name}: first-frame support loss {before:.3f} -> {after:.3f} after 5 steps, "
              f"lost on {sum(t.lost_frames for t in runs) / frames:.0%} of frames")  # fmt: skip

    if args.video is not None:
        frames = open_frames(args.video)
        tracker = trackers["shipped meta-learned head + learned rates"]()
        boxes = [np.array([float(v) for v in args.init.split(",")])]
        tracker.init(frames[0], boxes[0])
        boxes += [tracker.update(frames[t]) for t in range(1, len(frames))]
        if args.boxes is not None:
            write_otb_results(args.boxes, np.stack(boxes), coordinate_base=0)
        print(f"{args.video}: tracked {len(frames)} frames, last box {np.round(boxes[-1], 1)}")
    return {r.tracker: r.mean.auc for r in results}


if __name__ == "__main__":
    main()
