"""Decoding: batched NMS equals a slow greedy reference; top-k, thresholds, extras."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from detheads import (
    batched_nms,
    box_iou,
    decode_fcos,
    decode_retinanet,
    make_anchors,
    make_points,
    nms_mask,
    postprocess_detections,
)


def _slow_nms(boxes, scores, classes, valid, thr):  # type: ignore[no-untyped-def]
    order = sorted(
        (i for i in range(len(scores)) if valid[i]), key=lambda i: (-scores[i].item(), i)
    )
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            if (
                classes[i] == classes[j]
                and box_iou(boxes[i : i + 1], boxes[j : j + 1]).item() > thr
            ):
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@settings(max_examples=40)
@given(st.integers(0, 10_000), st.integers(1, 40), st.sampled_from([0.3, 0.5, 0.7]))
def test_nms_equals_slow_greedy(seed: int, n: int, thr: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    b = 3
    xy = torch.rand(b, n, 2, generator=gen) * 30
    wh = torch.rand(b, n, 2, generator=gen) * 20 + 1
    boxes = torch.cat([xy, xy + wh], -1)
    scores = torch.rand(b, n, generator=gen).round(decimals=1)  # many ties
    classes = torch.randint(0, 2, (b, n), generator=gen)
    valid = torch.rand(b, n, generator=gen) > 0.2
    mask = nms_mask(boxes, scores, thr, classes=classes, valid=valid)
    for i in range(b):
        ref = _slow_nms(boxes[i], scores[i], classes[i].tolist(), valid[i].tolist(), thr)
        assert sorted(ref) == torch.nonzero(mask[i]).reshape(-1).tolist()
        kept = batched_nms(boxes[i][valid[i]], scores[i][valid[i]], classes[i][valid[i]], thr)
        idx = torch.nonzero(valid[i]).reshape(-1)
        assert idx[kept].tolist() == ref


def test_postprocess_hand_case_and_extras() -> None:
    boxes = torch.tensor([[[0.0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]]])
    scores = torch.tensor([[[0.9], [0.8], [0.7], [0.01]]])
    emb = torch.arange(4.0).reshape(1, 4, 1).expand(1, 4, 3)
    dets = postprocess_detections(
        scores, boxes, level_sizes=[2, 2], nms_threshold=0.5, extras={"embeddings": emb}
    )
    assert len(dets) == 1
    d = dets[0]
    assert d["anchor_idx"].tolist() == [0, 2]  # 1 suppressed by 0, 3 below threshold
    assert torch.allclose(d["scores"], torch.tensor([0.9, 0.7]))
    assert d["embeddings"][:, 0].tolist() == [0.0, 2.0]
    assert d["labels"].tolist() == [0, 0]
    one = postprocess_detections(scores, boxes, topk_per_level=1, max_detections=1)
    assert one[0]["anchor_idx"].tolist() == [0]
    with pytest.raises(ValueError, match="level_sizes"):
        postprocess_detections(scores, boxes, level_sizes=[3, 3])


def test_decode_retinanet_per_image_and_empty() -> None:
    anchors = make_anchors([(3, 3)], [8], [(16.0,)], (1.0,))
    logits = torch.full((2, 9, 1), -10.0)
    logits[0, 4, 0] = 5.0
    out = {"cls_logits": logits, "bbox_deltas": torch.zeros(2, 9, 4)}
    dets = decode_retinanet(out, anchors)
    assert len(dets) == 2 and len(dets[1]["scores"]) == 0
    assert torch.allclose(dets[0]["boxes_xyxy"], anchors[4:5])


# --- bad input: NaN never ranks or disappears silently; shapes are named (issue 13) ---------


def test_batched_nms_rejects_a_nan_score() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]])
    scores = torch.tensor([float("nan"), 0.9])
    with pytest.raises(ValueError, match="scores contains NaN"):
        batched_nms(boxes, scores, torch.zeros(2, dtype=torch.long), 0.5)


def test_nms_rejects_nan_boxes_but_ignores_invalid_padding() -> None:
    boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [float("nan"), 1.0, 11.0, 11.0]]])
    scores = torch.tensor([[0.8, 0.9]])
    with pytest.raises(ValueError, match="boxes_xyxy contains NaN"):
        nms_mask(boxes, scores, 0.5)
    keep = nms_mask(boxes, scores, 0.5, valid=torch.tensor([[True, False]]))
    assert keep.tolist() == [[True, False]]


@pytest.mark.parametrize("where", ["score", "box"])
def test_postprocess_and_decoders_reject_nan(where: str) -> None:
    anchors = make_anchors([(3, 3)], [8], [(16.0,)], (1.0,))
    logits = torch.full((1, 9, 1), -10.0)
    logits[0, 4, 0] = 5.0
    deltas = torch.zeros(1, 9, 4)
    if where == "score":
        logits[0, 0, 0] = float("nan")
    else:
        deltas[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        decode_retinanet({"cls_logits": logits, "bbox_deltas": deltas}, anchors)
    points, strides = make_points([(3, 3)], [8])
    ctr = torch.full((1, 9), -10.0)
    ltrb = torch.ones(1, 9, 4)
    if where == "score":
        ctr[0, 2] = float("nan")
    else:
        ltrb[0, 2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        decode_fcos({"centerness_logits": ctr, "bbox_ltrb": ltrb}, points, strides)


def test_decode_retinanet_names_a_wrong_anchor_count() -> None:
    anchors = make_anchors([(3, 3)], [8], [(16.0,)], (1.0,))  # 9 anchors
    out = {"cls_logits": torch.zeros(1, 12, 1), "bbox_deltas": torch.zeros(1, 12, 4)}
    with pytest.raises(ValueError, match=r"anchors_xyxy must have shape \[A, 4\] with A = 12"):
        decode_retinanet(out, anchors)
    with pytest.raises(ValueError, match="outputs lacks"):
        decode_retinanet({"cls_logits": torch.zeros(1, 9, 1)}, anchors)


def test_decode_fcos_names_a_wrong_point_count() -> None:
    points, strides = make_points([(3, 3)], [8])
    out = {"centerness_logits": torch.zeros(1, 4), "bbox_ltrb": torch.ones(1, 4, 4)}
    with pytest.raises(ValueError, match=r"points_xy must have shape \[A, 2\] with A = 4"):
        decode_fcos(out, points, strides)
