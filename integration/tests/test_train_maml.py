"""Offline training: feature cache, pair sampling, a tiny MAML run, resume, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from trackkit.sot import DetectorConfig, InstanceDetector, load_detector
from trackkit.train import (
    CacheConfig,
    FeatureCache,
    MAMLTrainConfig,
    build_feature_cache,
    sample_cache_pairs,
    synthetic_training_sequences,
    train_instance_detector,
)


class TinyTrunk(nn.Module):
    """A stride-8 trunk of three strided convolutions (fixed weights from a seed)."""

    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, 2, 1),
        )  # fmt: skip
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> FeatureCache:
    seqs = synthetic_training_sequences(3, length=12)
    det = InstanceDetector(DetectorConfig(head_channels=8), trunk=TinyTrunk())
    return build_feature_cache(
        seqs, det.features, config=CacheConfig(frames_per_sequence=6), progress=False
    )


def test_cache_shapes_and_boxes_inside_crops(cache: FeatureCache, tmp_path: Path) -> None:
    assert len(cache) == 18
    assert cache.support_features.shape == (18, 3, 8, 33, 33)
    assert cache.target_features.shape == (18, 8, 33, 33)
    # support crops are centred on the target (jitter <= 4 px); zoom 1.08 enlarges the box
    centre = (cache.support_boxes[..., :2] + cache.support_boxes[..., 2:]) / 2
    assert torch.all((centre - 131.5).abs() <= 4.0 + 1e-3)
    w = cache.support_boxes[..., 2] - cache.support_boxes[..., 0]
    torch.testing.assert_close(w[:, 1] / w[:, 0], torch.full((18,), 1.08), atol=1e-3, rtol=0)
    cache.save(tmp_path / "c.pt")
    again = FeatureCache.load(tmp_path / "c.pt")
    torch.testing.assert_close(again.target_boxes, cache.target_boxes)
    assert again.sequence_names == cache.sequence_names


def test_sample_pairs_same_and_other_sequence(cache: FeatureCache) -> None:
    rng = np.random.default_rng(0)
    s, t, present = sample_cache_pairs(cache, 200, rng, negative_prob=0.3, max_gap=4)
    seq, frame = cache.sequence_ids.numpy(), cache.frame_ids.numpy()
    assert np.all(seq[s][present] == seq[t][present])
    assert np.all(np.abs(frame[s] - frame[t])[present] <= 4)
    assert np.all(seq[s][~present] != seq[t][~present])
    assert 0.15 < (~present).mean() < 0.45
    with pytest.raises(ValueError, match="negative_prob"):
        sample_cache_pairs(cache, 2, rng, negative_prob=2.0)


def _cfg(**kw: object) -> MAMLTrainConfig:
    base = dict(steps=4, pairs_per_step=2, checkpoint_every=1, head_channels=8, outer_lr=1e-2)
    base.update(kw)
    return MAMLTrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        {"head": "fcos"},
        {"head": "retina", "lr_kind": "scalar"},
        {"head": "fcos", "method": "baseline"},
    ],
)
def test_resume_continues_exactly(cache: FeatureCache, tmp_path: Path, kw: dict) -> None:
    cfg = _cfg(**kw, first_order_fraction=0.5)  # steps 3-4 are second order
    straight = train_instance_detector(
        cache, tmp_path / "a", config=cfg, trunk=TinyTrunk(), progress=False
    )
    train_instance_detector(
        cache, tmp_path / "b", config=cfg, trunk=TinyTrunk(), progress=False, stop_after=2
    )
    assert not (tmp_path / "b" / "detector.pt").exists()
    resumed = train_instance_detector(
        cache,
        tmp_path / "b",
        config=cfg,
        trunk=TinyTrunk(),
        progress=False,
        resume=tmp_path / "b" / "train_state.pt",
    )
    for (n, p), (_, q) in zip(straight.head.named_parameters(), resumed.head.named_parameters()):
        torch.testing.assert_close(p, q, msg=n)
    for p, q in zip(straight.lr.parameters(), resumed.lr.parameters()):
        torch.testing.assert_close(p, q)
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 1 and log[-1]["step"] == 4
    # the saved detector loads with weights_only=True and equals the trained one
    loaded = load_detector(tmp_path / "a" / "detector.pt", trunk=TinyTrunk())
    for (n, p), (_, q) in zip(straight.head.named_parameters(), loaded.head.named_parameters()):
        torch.testing.assert_close(p, q, msg=n)
    assert loaded.lr_kind == ("fixed" if kw.get("method") == "baseline" else straight.lr_kind)
    assert loaded.meta["train_steps"] == 4


def test_resume_with_other_options_is_refused(cache: FeatureCache, tmp_path: Path) -> None:
    train_instance_detector(
        cache, tmp_path, config=_cfg(), trunk=TinyTrunk(), progress=False, stop_after=1
    )
    with pytest.raises(ValueError, match="resume"):
        train_instance_detector(
            cache,
            tmp_path,
            config=_cfg(head="retina"),
            trunk=TinyTrunk(),
            progress=False,
            resume=tmp_path / "train_state.pt",
        )


def test_maml_learns_to_adapt(cache: FeatureCache, tmp_path: Path) -> None:
    """Meta-training lowers the post-adaptation query loss on the training pairs."""
    cfg = _cfg(steps=30, pairs_per_step=4, outer_lr=3e-3, rate_outer_lr=3e-4)
    train_instance_detector(cache, tmp_path, config=cfg, trunk=TinyTrunk(), progress=False)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    first, last = log[0]["query_losses"], log[-1]["query_losses"]
    assert last[-1] < 0.8 * first[-1]


def _write_mot_video(root: Path, name: str, n: int, gt: str) -> None:
    folder = root / name
    (folder / "gt").mkdir(parents=True)
    (folder / "img1").mkdir()
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=25\nseqLength={n}\n"
        "imWidth=96\nimHeight=64\nimExt=.png\n"
    )
    (folder / "gt" / "gt.txt").write_text(gt)
    rng = np.random.default_rng(len(name))
    for i in range(1, n + 1):
        img = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
        import cv2

        cv2.imwrite(str(folder / "img1" / f"{i:06d}.png"), img)


def test_mot_track_sequences_one_per_usable_identity(tmp_path: Path) -> None:
    from trackkit.data import mot_track_sequences
    from trackkit.train import training_sequences

    # id 1: frames 1-5 (frame 3 marked ignore); id 2: only 2 frames (dropped);
    # id 3: 5 frames but too small (dropped); id 4: 4 frames, one 30% visible (MOT17 columns).
    gt = "".join(f"{t},1,{10 + t},5,20,40,{0 if t == 3 else 1},1,1.0\n" for t in range(1, 6))
    gt += "1,2,50,5,20,30,1,1,1.0\n2,2,51,5,20,30,1,1,1.0\n"
    gt += "".join(f"{t},3,60,5,6,8,1,1,1.0\n" for t in range(1, 6))
    gt += "".join(f"{t},4,30,20,16,24,1,1,{0.3 if t == 2 else 0.9}\n" for t in range(1, 6))
    _write_mot_video(tmp_path, "VID-A", 5, gt)
    _write_mot_video(tmp_path, "VID-B", 3, "".join(f"{t},7,5,5,30,30,1,1,1\n" for t in (1, 2, 3)))
    seqs = mot_track_sequences(tmp_path, min_frames=3)
    assert [s.name for s in seqs] == ["VID-A#1", "VID-A#4", "VID-B#7"]
    a1 = seqs[0]
    assert len(a1) == 5 and a1.meta["video"] == "VID-A"
    np.testing.assert_array_equal(a1.absent, [False, False, True, False, False])
    np.testing.assert_allclose(a1.boxes_xywh[0], [10, 4, 20, 40])  # 1-based -> 0-based
    np.testing.assert_array_equal(seqs[1].absent, [False, True, False, False, False])
    assert seqs[0][0].shape == (64, 96, 3)
    assert seqs[2].absent.sum() == 0
    # the holdout excludes whole videos; synthetic sequences are appended
    seqs2, names = training_sequences(None, synthetic=1, mot_root=tmp_path, holdout=("VID-B",))
    assert names == ["VID-A#1", "VID-A#4"] and len(seqs2) == 3
    with pytest.raises(ValueError, match="min_frames"):
        mot_track_sequences(tmp_path, min_frames=0)


def test_negatives_come_from_another_video(tmp_path: Path) -> None:
    from trackkit.data import mot_track_sequences

    gt = "".join(f"{t},{i},{8 + 30 * i},10,20,30,1,1,1\n" for t in range(1, 7) for i in (1, 2))
    _write_mot_video(tmp_path, "VID", 6, gt)
    seqs = mot_track_sequences(tmp_path) + synthetic_training_sequences(1, length=6)
    det = InstanceDetector(DetectorConfig(head_channels=8), trunk=TinyTrunk())
    c = build_feature_cache(
        seqs, det.features, config=CacheConfig(frames_per_sequence=6), progress=False
    )
    assert c.video_ids is not None
    np.testing.assert_array_equal(c.video_ids.numpy(), [0] * 12 + [1] * 6)
    rng = np.random.default_rng(0)
    s, t, present = sample_cache_pairs(c, 400, rng, negative_prob=0.5)
    video, seq = c.video_ids.numpy(), c.sequence_ids.numpy()
    assert (~present).sum() > 100
    assert np.all(video[s][~present] != video[t][~present])  # never the other identity of VID
    assert np.all(seq[s][present] == seq[t][present])
    c.save(tmp_path / "c.pt")
    torch.testing.assert_close(FeatureCache.load(tmp_path / "c.pt").video_ids, c.video_ids)


@pytest.mark.parametrize("kw", [{"head": "fcos"}, {"head": "fcos", "method": "baseline"}])
def test_recipe_on_the_loop_equals_a_plain_loop(
    cache: FeatureCache, tmp_path: Path, kw: dict
) -> None:
    """The recipe on the shared loop gives the weights of the plain loop it replaced (the
    pre-loop recipe body, written out here): same seeds, same sampling, same updates."""
    from metalearn import FixedLR, KernelwiseLR
    from trackkit.train import _maml

    cfg = _cfg(**kw, steps=5, first_order_fraction=0.5)
    got = train_instance_detector(cache, tmp_path, config=cfg, trunk=TinyTrunk(), progress=False)

    trunk = TinyTrunk()  # seeds torch itself: build it before seeding, as the recipe's caller
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    ref = InstanceDetector(DetectorConfig(head=cfg.head, head_channels=8), trunk=trunk)
    params = dict(ref.head.named_parameters())
    ref.lr = (
        FixedLR(cfg.inner_lr_init)
        if cfg.method == "baseline"
        else KernelwiseLR(params, init=cfg.inner_lr_init)
    )
    ref.train()
    trainer = _maml._Trainer(ref, cfg)
    for step in range(cfg.steps):
        epoch = _maml.PAPER_EPOCHS * step / cfg.steps
        s, t, present = sample_cache_pairs(
            cache,
            cfg.pairs_per_step,
            rng,
            negative_prob=cfg.negative_prob if cfg.method == "maml" else 0.0,
            max_gap=cfg.max_gap,
        )
        trainer.step(_maml._make_tasks(ref, cache, s, t, present), epoch)
    for (n, p), (_, q) in zip(ref.head.named_parameters(), got.head.named_parameters()):
        assert torch.equal(p, q), n
    for p, q in zip(ref.lr.parameters(), got.lr.parameters()):
        assert torch.equal(p, q)
