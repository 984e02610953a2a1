"""FPN, RetinaTrack head, BatchHard triplet loss and the RetinaTrack training loss."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from detheads import (
    FPN,
    ResNet18Backbone,
    RetinaTrackHead,
    batch_hard_triplet_loss,
    box_iou,
    decode_retinanet,
    feature_sizes_of,
    gather_identity_embeddings,
    make_anchors,
    retinatrack_loss,
)


def test_resnet_pyramid_and_fpn_shapes(
    resnet18_checkpoint: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    path, state = resnet18_checkpoint
    r = ResNet18Backbone(last_stage="layer4", output_stride=32, weights_path=path)
    assert torch.equal(r.state_dict()["layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    c = r.forward_pyramid(torch.randn(1, 3, 96, 64))
    assert [t.shape for t in c] == [(1, 128, 12, 8), (1, 256, 6, 4), (1, 512, 3, 2)]
    assert r.pyramid_channels == (128, 256, 512) and r.stride == 32
    fpn = FPN(r.pyramid_channels, out_channels=32)
    p = fpn(c)
    assert [t.shape[-2:] for t in p] == [(12, 8), (6, 4), (3, 2), (2, 1), (1, 1)]
    assert all(t.shape[:2] == (1, 32) for t in p)
    assert len(FPN((8, 16), out_channels=8, extra_levels=0, extra_source="p5")(
        [torch.randn(1, 8, 4, 4), torch.randn(1, 16, 2, 2)]
    )) == 2  # fmt: skip
    with pytest.raises(ValueError, match="features"):
        fpn([c[0], c[1], c[1]])
    with pytest.raises(ValueError, match="extra_source"):
        FPN((8,), extra_source="c6")
    # layer4 at stride 8 is dilated, no stride
    assert ResNet18Backbone(last_stage="layer4")(torch.randn(1, 3, 32, 32)).shape == (1, 512, 4, 4)


def test_fpn_average_init_makes_each_extra_level_a_pooled_copy_of_the_level_below() -> None:
    torch.manual_seed(0)
    feats = [torch.randn(2, 8, 16, 12), torch.randn(2, 24, 8, 6), torch.randn(2, 40, 4, 3)]
    fpn = FPN((8, 24, 40), out_channels=16, extra_levels=2, extra_source="p5",
              extra_init="average")  # fmt: skip
    p = fpn(feats)
    assert [t.shape[-2:] for t in p] == [(16, 12), (8, 6), (4, 3), (2, 2), (1, 1)]
    torch.testing.assert_close(p[3], F.avg_pool2d(p[2], 3, 2, padding=1))
    torch.testing.assert_close(p[4], F.avg_pool2d(F.relu(p[3]), 3, 2, padding=1))
    # P3-P5 and the random stream are those of the FPN without the option (or without levels):
    # a pyramid trained without extra levels loads into one with them, key for key
    torch.manual_seed(1)
    plain = FPN((8, 24, 40), out_channels=16, extra_levels=0)
    torch.manual_seed(1)
    grown = FPN((8, 24, 40), out_channels=16, extra_levels=1, extra_source="p5",
                extra_init="average")  # fmt: skip
    missing = grown.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["extra_blocks.0.bias", "extra_blocks.0.weight"]
    for k, v in plain.state_dict().items():
        assert torch.equal(v, grown.state_dict()[k]), k
    for a, b in zip(plain(feats), grown(feats)[:3], strict=True):
        assert torch.equal(a, b)
    # re-initialising one level of a kaiming-initialised pyramid
    k = FPN((8, 24, 16), out_channels=16, extra_levels=2, extra_source="c5")
    k.init_extra_as_average([1])
    assert torch.count_nonzero(k.extra_blocks[1].weight) == 16 * 9
    assert torch.count_nonzero(k.extra_blocks[0].weight) > 16 * 9
    with pytest.raises(ValueError, match="levels: 2"):
        k.init_extra_as_average([2])
    with pytest.raises(ValueError, match="extra_init='average' needs"):
        FPN((8, 24, 40), out_channels=16, extra_levels=1, extra_source="c5", extra_init="average")
    with pytest.raises(ValueError, match="extra_init must be"):
        FPN((8,), extra_init="zeros")


def test_retinatrack_head_outputs_and_theta_k_structure() -> None:
    torch.manual_seed(0)
    head = RetinaTrackHead(16, num_anchors=3, num_classes=2, m1=2, m2=1, m3=2, embedding_dim=8)
    levels = [torch.randn(2, 16, 4, 5), torch.randn(2, 16, 2, 3)]
    out = head(levels)
    a = (20 + 6) * 3
    assert out["cls_logits"].shape == (2, a, 2) and out["bbox_deltas"].shape == (2, a, 4)
    assert out["embeddings"].shape == (2, a, 8) and out["instance_features"].shape == (2, a, 16)
    assert "instance_features" not in head(levels, return_features=False)
    # F_{i,k} at level 0, y=3, x=1, k=2 equals instance_features()[:, k, :, y, x]
    inst = head.instance_features(levels[0])
    idx = ((3 * 5) + 1) * 3 + 2
    assert torch.allclose(out["instance_features"][:, idx], inst[:, 2, :, 3, 1], atol=1e-6)
    # theta_k: perturbing the m1 weights of anchor k=1 changes only anchors with k == 1
    params = {n: p.detach().clone() for n, p in head.named_parameters()}
    w = params["m1_tower.0.weight"]  # [K*C, C, 3, 3]: rows k*C:(k+1)*C hold theta_1 of anchor k
    w[16:32] += 0.5
    changed = functional_call(head, params, (levels,))["cls_logits"]
    diff = (changed - out["cls_logits"]).abs().sum(-1).reshape(2, -1, 3)
    assert (diff[..., 1] > 0).all() and (diff[..., 0] == 0).all() and (diff[..., 2] == 0).all()
    # m2 / final / m3 parameters are shared: no per-anchor copies exist
    assert head.cls_tower[0].weight.shape == (16, 16, 3, 3)
    assert head.emb_tower[-1].weight.shape == (8, 8, 1, 1)
    with pytest.raises(ValueError, match="m1"):
        RetinaTrackHead(16, m1=0)
    with pytest.raises(ValueError, match="channels"):
        head(torch.randn(1, 8, 4, 4))


def test_retinatrack_functional_second_order() -> None:
    torch.manual_seed(0)
    head = RetinaTrackHead(8, num_anchors=2, m1=1, m2=1, m3=1, embedding_dim=4).double()
    x = torch.randn(1, 8, 3, 3, dtype=torch.float64)
    params = dict(head.named_parameters())

    def loss_fn(p: dict[str, torch.Tensor]) -> torch.Tensor:
        o = functional_call(head, p, (x,))
        return sum(o[k].pow(2).mean() for k in ("cls_logits", "bbox_deltas", "embeddings"))  # type: ignore[return-value]

    g = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=True)
    outer = loss_fn({k: v - 0.1 * gi for (k, v), gi in zip(params.items(), g, strict=True)})
    (h,) = torch.autograd.grad(outer, [params["m1_tower.0.weight"]])
    assert torch.isfinite(h).all() and h.abs().sum() > 0


def _slow_batch_hard(emb, ids, clips, margin):  # type: ignore[no-untyped-def]
    losses = []
    m = len(ids)
    for j in range(m):
        dp = [
            torch.dist(emb[j], emb[p]).item()
            for p in range(m)
            if p != j and clips[p] == clips[j] and ids[p] == ids[j]
        ]
        dn = [
            torch.dist(emb[j], emb[q]).item()
            for q in range(m)
            if clips[q] == clips[j] and ids[q] != ids[j]
        ]
        if dn:
            losses.append(math.log1p(math.exp(margin + max(dp, default=0.0) - min(dn))))
    return sum(losses) / len(losses)


def test_batch_hard_matches_slow_reference_and_respects_clips() -> None:
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(12, 5, generator=gen)
    ids = torch.tensor([0, 0, 1, 1, 2, 0, 0, 1, 1, 1, 5, 5])
    clips = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2])  # clip 2 has no negatives
    got = batch_hard_triplet_loss(emb, ids, clips, num_samples=None)
    assert math.isclose(
        got.item(), _slow_batch_hard(emb, ids.tolist(), clips.tolist(), 0.1), rel_tol=1e-5
    )
    per = batch_hard_triplet_loss(emb, ids, clips, num_samples=None, reduction="none")
    assert per.shape == (12,) and (per[10:] == 0).all()
    # moving clip 1 far away does not change the loss: no triplet crosses clips
    moved = emb.clone()
    moved[5:10] += 100.0
    assert torch.allclose(batch_hard_triplet_loss(moved, ids, clips, num_samples=None), got)
    # sampling keeps at most num_samples anchors
    sampled = batch_hard_triplet_loss(
        emb, ids, clips, num_samples=4, reduction="none", generator=torch.Generator().manual_seed(1)
    )
    assert sampled.shape == (4,)
    assert batch_hard_triplet_loss(emb[:0], ids[:0]).item() == 0.0
    with pytest.raises(ValueError, match="reduction"):
        batch_hard_triplet_loss(emb, ids, reduction="max")
    e, i, c = gather_identity_embeddings(
        emb.reshape(2, 6, 5), torch.tensor([[0, -1, 1, -1, -1, 0], [-1] * 6]), torch.tensor([3, 4])
    )
    assert e.shape == (3, 5) and i.tolist() == [0, 1, 0] and c.tolist() == [3, 3, 3]


def _two_identity_clips(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """2 clips x 2 frames, each with a red (id 0) and a green (id 1) square that move."""
    gen = torch.Generator().manual_seed(seed)
    imgs = torch.rand(4, 3, 64, 64, generator=gen) * 0.2
    boxes = torch.zeros(4, 2, 4)
    for i in range(4):
        for obj, colour in enumerate(([1.0, 0.1, 0.1], [0.1, 1.0, 0.1])):
            s = int(torch.randint(24, 33, (1,), generator=gen))
            x = int(torch.randint(0, 64 - s, (1,), generator=gen)) if obj == 0 else 0
            if obj == 1:  # keep the two squares apart: green on the other half
                x0 = int(boxes[i, 0, 0])
                x = 64 - s if x0 < 32 - s // 2 else 0
            y = int(torch.randint(0, 64 - s, (1,), generator=gen))
            imgs[i, :, y : y + s, x : x + s] = torch.tensor(colour)[:, None, None]
            boxes[i, obj] = torch.tensor([x, y, x + s, y + s], dtype=torch.float32)
    return imgs, boxes, torch.tensor([0, 0, 1, 1])


def test_retinatrack_learns_boxes_and_separates_identities() -> None:
    torch.manual_seed(0)
    imgs, boxes, clip_ids = _two_identity_clips()
    ids = torch.tensor([[0, 1]] * 4)
    backbone = nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, 1, 2, dilation=2), nn.ReLU(),
    )  # fmt: skip
    head = RetinaTrackHead(32, num_anchors=2, m1=1, m2=1, m3=2, embedding_dim=16)
    anchors = make_anchors([(8, 8)], [8], [(24.0, 32.0)], (1.0,))
    model = nn.ModuleList([backbone, head])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(250):
        out = head(backbone(imgs))
        loss = retinatrack_loss(
            out, anchors, boxes, None, ids, None, clip_ids, identity_iou=0.5, generator=gen
        )["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        feats = backbone(imgs)
        out = head(feats)
        assert feature_sizes_of([feats]) == [(8, 8)]
        dets = decode_retinanet(out, anchors, max_detections=2)
    embs = torch.zeros(4, 2, 16)
    for i, d in enumerate(dets):
        assert len(d["scores"]) == 2
        iou = box_iou(d["boxes_xyxy"], boxes[i])  # [2 dets, 2 gts]
        best = iou.max(dim=0)
        assert (best.values > 0.7).all(), iou
        embs[i] = d["embeddings"][best.indices]
    for c in (0, 1):
        f0, f1 = embs[2 * c], embs[2 * c + 1]
        same = torch.stack([torch.dist(f0[0], f1[0]), torch.dist(f0[1], f1[1])])
        other = torch.stack([torch.dist(f0[0], f1[1]), torch.dist(f0[1], f1[0])])
        assert same.max() < other.min(), (same, other)


def test_retinatrack_loss_embedding_term_equals_composition() -> None:
    gen = torch.Generator().manual_seed(3)
    anchors = make_anchors([(8, 8)], [8], [(16.0, 24.0)], (0.5, 1.0, 2.0))
    a = anchors.shape[0]
    boxes = torch.tensor(
        [
            [[12.0, 12.0, 28.0, 28.0], [32.0, 32.0, 56.0, 56.0]],
            [[13.0, 12.0, 29.0, 28.0], [0, 0, 0, 0]],
        ]
    )
    valid = torch.tensor([[True, True], [True, False]])
    gt_ids = torch.tensor([[5, 9], [5, 0]])
    out = {
        "cls_logits": torch.randn(2, a, 1, generator=gen),
        "bbox_deltas": torch.randn(2, a, 4, generator=gen),
        "embeddings": torch.randn(2, a, 6, generator=gen),
    }
    clip_ids = torch.tensor([0, 0])
    from detheads import assign_identities, retinanet_loss

    got = retinatrack_loss(out, anchors, boxes, None, gt_ids, valid, clip_ids, num_triplets=None)
    ids = assign_identities(anchors, boxes, gt_ids, valid)
    assert got["num_identified"].item() == (ids >= 0).sum().item() > 0
    e, i, c = gather_identity_embeddings(out["embeddings"], ids, clip_ids)
    expected = batch_hard_triplet_loss(e, i, c, num_samples=None)
    assert torch.allclose(got["loss_emb"], expected)
    det = retinanet_loss(out, anchors, boxes, None, valid, neg_iou=0.5, reg_loss="huber")
    assert torch.allclose(got["loss"], det["loss"] + expected)
    low = retinatrack_loss(out, anchors, boxes, None, gt_ids, valid, identity_iou=0.3)
    assert low["num_identified"] > got["num_identified"]
