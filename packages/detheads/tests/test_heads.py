"""RetinaNet and FCOS heads: output contract, init, functional use, batched losses."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from detheads import (
    FCOSHead,
    RetinaNetHead,
    assign_by_iou,
    assign_fcos,
    centerness_target,
    encode_deltas,
    fcos_loss,
    gather_gt,
    make_anchors,
    make_points,
    retinanet_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
)


def test_retinanet_head_shapes_order_and_prior() -> None:
    torch.manual_seed(0)
    head = RetinaNetHead(16, num_anchors=3, num_classes=2, num_convs=2)
    feats = [torch.randn(2, 16, 5, 6), torch.randn(2, 16, 3, 2)]
    out = head(feats)
    a = (5 * 6 + 3 * 2) * 3
    assert set(out) == {"cls_logits", "bbox_deltas"}
    assert out["cls_logits"].shape == (2, a, 2) and out["bbox_deltas"].shape == (2, a, 4)
    # layout (level, y, x, k): compare with the raw conv map of level 0 at y=4, x=1, k=2
    raw = head.cls_logits(head.cls_tower(feats[0]))  # [B, K*N, H, W]
    a_idx = ((4 * 6) + 1) * 3 + 2
    assert torch.allclose(out["cls_logits"][:, a_idx], raw[:, 2 * 2 : 2 * 2 + 2, 4, 1])
    p = torch.sigmoid(out["cls_logits"]).mean().item()
    assert abs(p - 0.01) < 0.005
    t = RetinaNetHead.tracking(16, num_convs=1)
    assert t.num_anchors == 1 and t.num_classes == 1


def test_fcos_head_variants() -> None:
    torch.manual_seed(0)
    head = FCOSHead(8, num_classes=3, num_convs=1, num_levels=2)
    out = head([torch.randn(2, 8, 4, 4), torch.randn(2, 8, 2, 2)])
    assert out["cls_logits"].shape == (2, 20, 3)
    assert out["centerness_logits"].shape == (2, 20) and out["bbox_ltrb"].shape == (2, 20, 4)
    assert (out["bbox_ltrb"] > 0).all()
    trk = FCOSHead.tracking(8, num_convs=1)
    out = trk(torch.randn(1, 8, 4, 4), torch.randn(1, 8, 4, 4))
    assert set(out) == {"centerness_logits", "bbox_ltrb"}
    assert abs(torch.sigmoid(out["centerness_logits"]).mean().item() - 0.01) < 0.005
    with pytest.raises(ValueError, match="levels"):
        head(torch.randn(1, 8, 4, 4))


def test_heads_reject_bad_inputs() -> None:
    head = RetinaNetHead(8, num_anchors=1, num_convs=1)
    with pytest.raises(ValueError, match="channels"):
        head(torch.randn(1, 7, 4, 4))
    with pytest.raises(ValueError, match=r"Tensor\[B, C, H, W\]"):
        head(torch.randn(7, 4, 4))
    with pytest.raises(ValueError, match="num_classes"):
        RetinaNetHead(8, num_classes=0)
    with pytest.raises(ValueError, match="norm"):
        FCOSHead(8, norm="bn")
    with pytest.raises(ValueError, match="prior_prob"):
        RetinaNetHead(8, prior_prob=1.0)


@pytest.mark.parametrize("kind", ["retina", "fcos"])
def test_heads_under_functional_call_and_second_order(kind: str) -> None:
    torch.manual_seed(0)
    if kind == "retina":
        head = RetinaNetHead(8, num_anchors=2, num_convs=2, norm="gn").double()
    else:
        head = FCOSHead.tracking(8, num_convs=2).double()
    x = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    params = dict(head.named_parameters())
    out = functional_call(head, params, (x,))
    ref = head(x)
    assert all(torch.equal(out[k], ref[k]) for k in ref)

    def loss_fn(p: dict[str, torch.Tensor]) -> torch.Tensor:
        o = functional_call(head, p, (x,))
        return sum(v.pow(2).mean() for v in o.values())  # type: ignore[return-value]

    grads = torch.func.grad(loss_fn)(params)
    assert set(grads) == set(params)
    g = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=True)
    adapted = {k: v - 0.5 * gi for (k, v), gi in zip(params.items(), g, strict=True)}
    outer = loss_fn(adapted)
    first = next(iter(params.values()))
    (h,) = torch.autograd.grad(outer, [first])
    assert torch.isfinite(h).all() and h.abs().sum() > 0


def _padded_gt() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    boxes = torch.tensor(
        [
            [[4.0, 4.0, 30.0, 28.0], [20.0, 2.0, 40.0, 40.0], [0.0, 0.0, 0.0, 0.0]],
            [[10.0, 12.0, 44.0, 40.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
            [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
        ]
    )
    labels = torch.tensor([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    valid = torch.tensor([[True, True, False], [True, False, False], [False, False, False]])
    return boxes, labels, valid


def test_retinanet_loss_equals_per_image_reference() -> None:
    torch.manual_seed(0)
    anchors = make_anchors([(6, 6)], [8], [(16.0, 32.0)], (0.5, 1.0, 2.0))
    a = anchors.shape[0]
    out = {"cls_logits": torch.randn(3, a, 2), "bbox_deltas": torch.randn(3, a, 4) * 0.3}
    boxes, labels, valid = _padded_gt()
    got = retinanet_loss(out, anchors, boxes, labels, valid)
    # slow reference: image by image, select anchors with boolean masks
    cls_sum, reg_sum, npos = 0.0, 0.0, 0
    for i in range(3):
        gb, gl = boxes[i][valid[i]], labels[i][valid[i]]
        res = assign_by_iou(anchors, gb[None])
        lab, m = res.labels[0], res.matched_gt[0]
        target = torch.zeros(a, 2)
        pos = lab == 1
        if len(gb):
            target[pos, gl[m[pos]]] = 1.0
        keep = lab >= 0
        cls_sum += sigmoid_focal_loss(out["cls_logits"][i][keep], target[keep]).sum().item()
        if pos.any():
            t = encode_deltas(gb[m[pos]], anchors[pos])
            reg_sum += smooth_l1_loss(out["bbox_deltas"][i][pos], t).sum().item()
        npos += int(pos.sum())
    assert npos == int(got["num_pos"].item()) and npos > 0
    assert math.isclose(got["loss_cls"].item(), cls_sum / npos, rel_tol=1e-5)
    assert math.isclose(got["loss_reg"].item(), reg_sum / npos, rel_tol=1e-5)
    assert torch.isfinite(got["loss"])
    for reg in ("huber", "l1", "giou"):
        assert torch.isfinite(
            retinanet_loss(out, anchors, boxes, labels, valid, reg_loss=reg)["loss"]
        )
    with pytest.raises(ValueError, match="reg_loss"):
        retinanet_loss(out, anchors, boxes, labels, valid, reg_loss="mse")
    with pytest.raises(ValueError, match="gt_labels"):
        retinanet_loss(out, anchors, boxes, labels + 5, valid)


def test_fcos_loss_equals_per_image_reference() -> None:
    torch.manual_seed(0)
    points, strides = make_points([(6, 6)], [8])
    p = points.shape[0]
    out = {
        "centerness_logits": torch.randn(3, p),
        "bbox_ltrb": torch.rand(3, p, 4) * 3 + 0.1,
        "cls_logits": torch.randn(3, p, 2),
    }
    boxes, labels, valid = _padded_gt()
    got = fcos_loss(out, points, strides, boxes, labels, valid, centerness_loss="bce")
    cls_sum, ctr_sum, reg_sum, npos = 0.0, 0.0, 0.0, 0
    for i in range(3):
        gb, gl = boxes[i][valid[i]], labels[i][valid[i]]
        res = assign_fcos(points, strides, gb[None])
        pos = res.labels[0] == 1
        target = torch.zeros(p, 2)
        if len(gb):
            target[pos, gl[res.matched_gt[0][pos]]] = 1.0
        cls_sum += sigmoid_focal_loss(out["cls_logits"][i], target).sum().item()
        ltrb_t = res.ltrb_targets[0][pos]
        ctr_t = centerness_target(ltrb_t)
        ctr_sum += torch.nn.functional.binary_cross_entropy_with_logits(
            out["centerness_logits"][i][pos], ctr_t, reduction="sum"
        ).item()
        reg_sum += (out["bbox_ltrb"][i][pos] - ltrb_t).abs().sum().item()
        npos += int(pos.sum())
    assert npos == int(got["num_pos"].item()) and npos > 0
    assert math.isclose(got["loss_cls"].item(), cls_sum / npos, rel_tol=1e-5)
    assert math.isclose(got["loss_ctr"].item(), ctr_sum / npos, rel_tol=1e-5)
    assert math.isclose(got["loss_reg"].item(), reg_sum / npos, rel_tol=1e-5)
    # tracking variant: centerness is the score, supervised on every point (L2)
    trk = {k: v for k, v in out.items() if k != "cls_logits"}
    t = fcos_loss(trk, points, strides, boxes, None, valid)
    res = assign_fcos(points, strides, boxes, valid)
    ctr_t = centerness_target(res.ltrb_targets) * (res.labels == 1)
    expected = (torch.sigmoid(trk["centerness_logits"]) - ctr_t).pow(2).sum() / npos
    assert torch.allclose(t["loss_ctr"], expected)
    assert "loss_cls" not in t
    for reg in ("iou", "giou"):
        assert torch.isfinite(
            fcos_loss(out, points, strides, boxes, labels, valid, reg_loss=reg)["loss"]
        )


def test_losses_with_empty_ground_truth_are_finite_and_push_scores_down() -> None:
    anchors = make_anchors([(4, 4)], [8], [(16.0,)], (1.0,))
    logits = torch.zeros(2, 16, 1, requires_grad=True)
    out = {"cls_logits": logits, "bbox_deltas": torch.zeros(2, 16, 4, requires_grad=True)}
    res = retinanet_loss(out, anchors, torch.zeros(2, 0, 4))
    assert res["num_pos"].item() == 0 and torch.isfinite(res["loss"])
    res["loss"].backward()
    assert logits.grad is not None and (logits.grad > 0).all()
    assert gather_gt(torch.zeros(2, 0, 4), torch.zeros(2, 16, dtype=torch.long)).shape == (2, 16, 4)


def test_losses_work_under_vmap_over_tasks_with_validate_false() -> None:
    """metalearn can vmap task losses: with validate=False there is no host sync."""
    from torch.func import grad, vmap

    torch.manual_seed(0)
    head = RetinaNetHead.tracking(8, num_convs=1)
    fhead = FCOSHead.tracking(8, num_convs=1)
    anchors = make_anchors([(5, 5)], [8], ((32.0,),), (1.0,))
    points, strides = make_points([(5, 5)], [8])
    x = torch.randn(3, 2, 8, 5, 5)
    boxes = torch.tensor([[[4.0, 4, 30, 30]], [[10.0, 8, 36, 40]]]).expand(3, 2, 1, 4)

    def retina(p: dict[str, torch.Tensor], xx: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        return retinanet_loss(functional_call(head, p, (xx,)), anchors, bb, validate=False)["loss"]

    def fcos(p: dict[str, torch.Tensor], xx: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        out = functional_call(fhead, p, (xx,))
        return fcos_loss(out, points, strides, bb, validate=False)["loss"]

    for fn, module in ((retina, head), (fcos, fhead)):
        params = dict(module.named_parameters())
        batched = vmap(fn, in_dims=(None, 0, 0))(params, x, boxes)
        looped = torch.stack([fn(params, x[i], boxes[i]) for i in range(3)])
        assert torch.allclose(batched, looped, atol=1e-6)
        grads = vmap(grad(fn), in_dims=(None, 0, 0))(params, x, boxes)
        name = next(iter(params))
        assert grads[name].shape == (3, *params[name].shape)


def test_losses_ignore_nan_padding_rows() -> None:
    """Padded ground-truth rows are never read: NaN padding gives the same loss as zeros."""
    torch.manual_seed(0)
    anchors = make_anchors([(6, 6)], [8], [(24.0,)], (1.0,))
    points, strides = make_points([(6, 6)], [8])
    a = anchors.shape[0]
    boxes, labels, valid = _padded_gt()
    nan_boxes = torch.where(valid[..., None], boxes, torch.full_like(boxes, float("nan")))
    out = {"cls_logits": torch.randn(3, a, 2), "bbox_deltas": torch.randn(3, a, 4)}
    ref = retinanet_loss(out, anchors, boxes, labels, valid)["loss"]
    assert torch.equal(retinanet_loss(out, anchors, nan_boxes, labels, valid)["loss"], ref)
    fout = {"centerness_logits": torch.randn(3, a), "bbox_ltrb": torch.rand(3, a, 4) + 0.5}
    ref = fcos_loss(fout, points, strides, boxes, None, valid)["loss"]
    assert torch.equal(fcos_loss(fout, points, strides, nan_boxes, None, valid)["loss"], ref)
    with pytest.raises(ValueError, match="NaN"):
        fcos_loss(fout, points, strides, nan_boxes, None, None)
