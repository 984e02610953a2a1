"""Precomputed targets and the options of the tracking variants (Wang et al. 2020): per-image
normalisation, a floor on the divisor, inside-box positives, one anchor per cell; each against a
slow per-image reference."""

from __future__ import annotations

import pytest
import torch

from detheads import (
    FCOSTargets,
    RetinaNetTargets,
    box_iou,
    centerness_target,
    encode_deltas,
    fcos_loss,
    fcos_target_loss,
    fcos_targets,
    make_points,
    retinanet_loss,
    retinanet_target_loss,
    retinanet_targets,
    sigmoid_focal_loss,
    smooth_l1_loss,
)


def _one_box_per_image(n: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 60 + 20
    wh = torch.rand(n, 2, generator=g) * 50 + 10
    boxes = torch.cat([xy, xy + wh], dim=1)[:, None, :]  # [n, 1, 4]
    present = torch.tensor([True] * (n - 1) + [False])[:, None]  # the last crop: background
    return boxes, present


def _cells(h: int = 13, w: int = 13) -> tuple[torch.Tensor, torch.Tensor]:
    points, strides = make_points([(h, w)], [8])
    return points + 0.5, strides  # cell centres off the integer grid


@pytest.mark.parametrize("min_positives", [1.0, 32.0])
def test_fcos_inside_box_rule_per_image_matches_reference(min_positives: float) -> None:
    points, strides = _cells()
    boxes, present = _one_box_per_image()
    p = points.shape[0]
    g = torch.Generator().manual_seed(1)
    out = {
        "centerness_logits": torch.randn(4, p, generator=g),
        "bbox_ltrb": torch.rand(4, p, 4, generator=g) * 3 + 0.1,
    }
    t = fcos_targets(points, strides, boxes, present, center_sampling_radius=0.0)
    got = fcos_target_loss(out, t, normalize="image", min_positives=min_positives)
    for i in range(4):
        ref_pos, ref_ctr, ref_reg = 0, 0.0, 0.0
        for j in range(p):
            x, y = points[j].tolist()
            x1, y1, x2, y2 = boxes[i, 0].tolist()
            ltrb = torch.tensor([x - x1, y - y1, x2 - x, y2 - y]) / 8
            inside = bool(present[i, 0]) and bool((ltrb > 0).all())
            ctr = float(centerness_target(ltrb)) if inside else 0.0
            score = torch.sigmoid(out["centerness_logits"][i, j]).item()
            ref_ctr += (score - ctr) ** 2
            if inside:
                ref_pos += 1
                ref_reg += (out["bbox_ltrb"][i, j] - ltrb).abs().sum().item()
                assert t.ltrb[i, j].tolist() == pytest.approx(ltrb.tolist(), abs=1e-6)
        assert int(t.positive[i].sum()) == ref_pos == int(got["num_pos"][i])
        denom = max(ref_pos, min_positives)
        assert got["loss"][i].item() == pytest.approx((ref_ctr + ref_reg) / denom, rel=1e-5)
        assert got["loss_ctr"][i].item() == pytest.approx(ref_ctr / denom, rel=1e-5)
        assert got["loss_reg"][i].item() == pytest.approx(ref_reg / denom, rel=1e-5, abs=1e-7)
    assert int(got["num_pos"][3]) == 0  # the background crop


def test_fcos_loss_composes_targets_and_target_loss() -> None:
    points, strides = _cells()
    boxes, present = _one_box_per_image(seed=3)
    p = points.shape[0]
    out = {"centerness_logits": torch.randn(4, p), "bbox_ltrb": torch.rand(4, p, 4) + 0.1}
    for normalize in ("batch", "image"):
        for radius in (0.0, 1.5):
            a = fcos_loss(
                out,
                points,
                strides,
                boxes,
                None,
                present,
                center_sampling_radius=radius,
                normalize=normalize,
            )
            t = fcos_targets(points, strides, boxes, present, center_sampling_radius=radius)
            b = fcos_target_loss(out, t, normalize=normalize)
            for k in ("loss", "loss_ctr", "loss_reg", "num_pos"):
                torch.testing.assert_close(a[k], b[k])
    # "batch" = sum of the per-image sums over the total positives
    t = fcos_targets(points, strides, boxes, present, center_sampling_radius=0.0)
    per = fcos_target_loss(out, t, normalize="image", min_positives=1e-9)
    tot = fcos_target_loss(out, t)
    assert per["loss"].shape == (4,) and tot["loss"].shape == ()
    num = (per["loss"] * per["num_pos"].clamp(min=1e-9)).sum()
    torch.testing.assert_close(tot["loss"], num / per["num_pos"].sum())
    assert isinstance(t, FCOSTargets)


@pytest.mark.parametrize("normalize", ["batch", "image"])
def test_retinanet_single_anchor_per_image_matches_reference(normalize: str) -> None:
    points, _ = _cells()
    anchors = torch.cat([points - 32, points + 32], dim=1)  # one 64x64 anchor per cell
    boxes, present = _one_box_per_image(seed=5)
    a = anchors.shape[0]
    g = torch.Generator().manual_seed(2)
    out = {
        "cls_logits": torch.randn(4, a, 1, generator=g),
        "bbox_deltas": torch.randn(4, a, 4, generator=g) * 0.3,
    }
    t = retinanet_targets(anchors, boxes, None, present, num_classes=1)
    got = retinanet_target_loss(out, t, normalize=normalize)
    same = retinanet_loss(out, anchors, boxes, None, present, normalize=normalize)
    for k in ("loss", "loss_cls", "loss_reg", "num_pos"):
        torch.testing.assert_close(got[k], same[k])
    sums, npos = [], []
    for i in range(4):
        iou = box_iou(anchors, boxes[i])[:, 0]
        if bool(present[i, 0]):
            pos = (iou >= 0.5) | ((iou == iou.max()) & (iou.max() > 0))
            neg = ~pos & (iou < 0.3)
        else:
            pos = torch.zeros(a, dtype=torch.bool)
            neg = torch.ones(a, dtype=torch.bool)
        y = pos.float()
        cls = sigmoid_focal_loss(out["cls_logits"][i, :, 0], y)[pos | neg].sum()
        reg = torch.tensor(0.0)
        if pos.any():
            d = encode_deltas(boxes[i, 0].expand(int(pos.sum()), 4), anchors[pos])
            reg = smooth_l1_loss(out["bbox_deltas"][i][pos], d).sum()
        sums.append((cls + reg).item())
        npos.append(int(pos.sum()))
        assert torch.equal(t.positive[i].bool(), pos)
        assert torch.equal(t.cls_weights[i].bool(), pos | neg)
    if normalize == "image":
        ref = torch.tensor([s / max(n, 1) for s, n in zip(sums, npos, strict=True)])
        torch.testing.assert_close(got["loss"], ref, rtol=1e-5, atol=1e-6)
    else:
        assert got["loss"].item() == pytest.approx(sum(sums) / max(sum(npos), 1), rel=1e-5)
    assert isinstance(t, RetinaNetTargets)


def test_normalize_options_are_checked() -> None:
    points, strides = _cells(4, 4)
    boxes, present = _one_box_per_image()
    out = {"centerness_logits": torch.zeros(4, 16), "bbox_ltrb": torch.ones(4, 16, 4)}
    t = fcos_targets(points, strides, boxes, present)
    with pytest.raises(ValueError, match="normalize"):
        fcos_target_loss(out, t, normalize="images")
    with pytest.raises(ValueError, match="min_positives"):
        fcos_target_loss(out, t, min_positives=0.0)
    with pytest.raises(TypeError, match="min_positives"):
        fcos_target_loss(out, t, min_positives="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="do not match"):
        fcos_target_loss({k: v[:2] for k, v in out.items()}, t)
    with pytest.raises(ValueError, match="points_xy"):
        fcos_target_loss(out, t, reg_loss="giou")
    anchors = torch.cat([points - 8, points + 8], dim=1)
    rt = retinanet_targets(anchors, boxes, None, present)
    rout = {"cls_logits": torch.zeros(4, 16, 1), "bbox_deltas": torch.zeros(4, 16, 4)}
    with pytest.raises(ValueError, match="anchors_xyxy"):
        retinanet_target_loss(rout, rt, reg_loss="giou")
    with pytest.raises(ValueError, match="normalize"):
        retinanet_loss(rout, anchors, boxes, None, present, normalize="none")
    assert torch.isfinite(
        retinanet_target_loss(rout, rt, reg_loss="giou", anchors_xyxy=anchors)["loss"]
    )
