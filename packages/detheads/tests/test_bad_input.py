"""Elementwise losses: bad tensors and hyperparameters are one-line errors naming them.

Before the api12 audit a string ``alpha`` was a raw ``'>=' not supported`` TypeError, a NaN
``gamma``/``beta`` gave a NaN loss from finite logits, an int64 target a deep torch error.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from detheads import huber_loss, sigmoid_focal_loss, smooth_l1_loss

L = torch.randn(6, 2)
T = (torch.rand(6, 2) > 0.5).float()

CASES = [
    ("alpha", lambda: sigmoid_focal_loss(L, T, alpha="a")),
    ("alpha", lambda: sigmoid_focal_loss(L, T, alpha=float("nan"))),
    ("gamma", lambda: sigmoid_focal_loss(L, T, gamma=float("nan"))),
    ("gamma", lambda: sigmoid_focal_loss(L, T, gamma=-1.0)),
    ("gamma", lambda: sigmoid_focal_loss(L, T, gamma=None)),
    ("target", lambda: sigmoid_focal_loss(L, T.long())),
    ("input", lambda: sigmoid_focal_loss(L.numpy(), T)),
    ("beta", lambda: smooth_l1_loss(L, T, beta=float("nan"))),
    ("beta", lambda: smooth_l1_loss(L, T, beta="0.1")),
    ("delta", lambda: huber_loss(L, T, delta=float("inf"))),
    ("target", lambda: huber_loss(L, None)),
    ("target on meta", lambda: huber_loss(L, T.to("meta"))),
]


def test_valid_hyperparameters_unchanged() -> None:
    import numpy as np

    a = sigmoid_focal_loss(L, T, alpha=0.25, gamma=2, reduction="sum")
    b = sigmoid_focal_loss(L, T, alpha=np.float32(0.25), gamma=2.0, reduction="sum")
    torch.testing.assert_close(a, b)
    assert torch.isfinite(smooth_l1_loss(L, T, beta=0)).all()


# ---- box ops, coders, NMS, decoders, anchors, assignment and composite losses (api13) ----
# Before the api13 audit these were raw torch/Python errors ("'>' not supported between
# 'Tensor' and 'str'", "index 3 is out of bounds", "too many values to unpack", "Torch not
# compiled with CUDA enabled", "Tensor on device meta is not on the expected device cpu") or
# silently wrong: a NaN stride/offset/size gave NaN anchors, a NaN nms/score threshold kept or
# dropped everything, iou_threshold=-1 suppressed non-overlapping boxes, a float feature size
# (2.5, 2) made 6 points, xywh_to_xyxy of a [N, 3] tensor returned [N, 4], a NaN margin or
# embedding_weight gave a NaN RetinaTrack loss, min_positives=inf zeroed every loss, a NaN
# center_sampling_radius silently switched to plain inside-box sampling. "meta" stands in for a
# second device.

import detheads as dh  # noqa: E402

NAN = float("nan")
META = torch.device("meta")
BOX = torch.tensor([[0.0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]])
SC = torch.tensor([0.9, 0.8, 0.7])
CLS = torch.zeros(3, dtype=torch.long)
PTS = torch.tensor([[5.0, 5], [10, 10], [25, 25]])
ANCH = dh.make_anchors([(4, 4)], [8], [(16,)], (1.0,))
OUT = {
    "cls_logits": torch.zeros(2, 16, 1),
    "bbox_deltas": torch.zeros(2, 16, 4),
    "embeddings": torch.randn(2, 16, 8),
}
GT = torch.tensor([[[2.0, 2, 14, 14]], [[10, 10, 26, 26]]])
LAB, IDS = torch.zeros(2, 1, dtype=torch.long), torch.ones(2, 1, dtype=torch.long)
FPTS, FST = dh.make_points([(4, 4)], [8])
FOUT = {"centerness_logits": torch.zeros(2, 16), "bbox_ltrb": torch.ones(2, 16, 4)}
EMB, TIDS = torch.randn(4, 3), torch.tensor([0, 0, 1, 1])


def _pp(**kw: Any) -> Any:
    return dh.postprocess_detections(torch.rand(1, 3, 2), BOX[None], **kw)


def _rt(**kw: Any) -> Any:
    return dh.retinatrack_loss(OUT, ANCH, GT, LAB, IDS, **kw)


OP_CASES = [
    ("boxes1", lambda: dh.box_iou(BOX.numpy(), BOX)),
    ("boxes2 is on meta", lambda: dh.box_iou(BOX, BOX.to(META))),
    ("eps", lambda: dh.box_iou(BOX, BOX, eps="a")),
    ("eps", lambda: dh.box_iou(BOX, BOX, eps=NAN)),
    ("boxes", lambda: dh.box_area(torch.zeros(3, 3))),
    ("boxes", lambda: dh.box_area(BOX.numpy())),
    ("boxes1 (3, 4), boxes2 (2, 4)", lambda: dh.elementwise_iou(BOX, BOX[:2])),
    ("boxes1", lambda: dh.elementwise_giou(BOX[:, :3], BOX[:, :3])),
    ("boxes2 is on meta", lambda: dh.elementwise_giou(BOX, BOX.to(META))),
    ("boxes_xywh", lambda: dh.xywh_to_xyxy(BOX[:, :3])),
    ("boxes_xyxy", lambda: dh.xyxy_to_xywh(torch.zeros(3, 5))),
    ("weights[0]", lambda: dh.encode_deltas(BOX, BOX, weights=(NAN, 1, 1, 1))),
    ("weights[0]", lambda: dh.encode_deltas(BOX, BOX, weights=("a", 1, 1, 1))),
    ("weights[0]", lambda: dh.decode_deltas(BOX, BOX, weights=(0, 1, 1, 1))),
    ("weights", lambda: dh.encode_deltas(BOX, BOX, weights="abcd")),
    ("boxes_xyxy", lambda: dh.encode_deltas(BOX.numpy(), BOX)),
    ("anchors_xyxy (3, 4)", lambda: dh.encode_deltas(BOX[:2], BOX)),
    ("anchors_xyxy is on meta", lambda: dh.encode_deltas(BOX, BOX.to(META))),
    ("eps", lambda: dh.encode_deltas(BOX, BOX, eps=NAN)),
    ("clamp", lambda: dh.decode_deltas(BOX, BOX, clamp=NAN)),
    ("clamp", lambda: dh.decode_deltas(BOX, BOX, clamp="a")),
    ("deltas", lambda: dh.decode_deltas(BOX.long(), BOX)),
    ("deltas", lambda: dh.decode_deltas(BOX[:, :3], BOX)),
    ("stride", lambda: dh.encode_ltrb(PTS, BOX, stride=NAN)),
    ("stride", lambda: dh.encode_ltrb(PTS, BOX, stride=0)),
    ("stride", lambda: dh.decode_ltrb(PTS, BOX, stride="a")),
    ("points_xy", lambda: dh.encode_ltrb(BOX, BOX)),
    ("boxes_xyxy is on meta", lambda: dh.encode_ltrb(PTS, BOX.to(META))),
    ("ltrb", lambda: dh.decode_ltrb(PTS, BOX[:, :3])),
    ("ltrb", lambda: dh.centerness_target(BOX[:, :3])),
    ("eps", lambda: dh.centerness_target(BOX, eps=NAN)),
    ("iou_threshold", lambda: dh.nms_mask(BOX, SC, NAN)),
    ("iou_threshold", lambda: dh.nms_mask(BOX, SC, "a")),
    ("iou_threshold", lambda: dh.nms_mask(BOX, SC, None)),
    ("iou_threshold", lambda: dh.nms_mask(BOX, SC, -1.0)),
    ("boxes_xyxy", lambda: dh.nms_mask(BOX.numpy(), SC, 0.5)),
    ("scores", lambda: dh.nms_mask(BOX, SC.numpy(), 0.5)),
    ("scores", lambda: dh.nms_mask(BOX, SC[None, None], 0.5)),
    ("classes", lambda: dh.nms_mask(BOX, SC, 0.5, classes=torch.zeros(3))),
    ("classes", lambda: dh.nms_mask(BOX, SC, 0.5, classes=CLS[:2])),
    ("valid", lambda: dh.nms_mask(BOX, SC, 0.5, valid=torch.ones(3))),
    ("scores is on meta", lambda: dh.nms_mask(BOX, SC.to(META), 0.5)),
    ("iou_threshold", lambda: dh.batched_nms(BOX, SC, CLS, NAN)),
    ("classes", lambda: dh.batched_nms(BOX, SC, None, 0.5)),
    ("boxes_xyxy", lambda: dh.batched_nms(BOX[None], SC[None], CLS[None], 0.5)),
    ("score_threshold", lambda: _pp(score_threshold=NAN)),
    ("score_threshold", lambda: _pp(score_threshold="a")),
    ("nms_threshold", lambda: _pp(nms_threshold=NAN)),
    ("topk_per_level", lambda: _pp(topk_per_level=True)),
    ("level_sizes[1]", lambda: _pp(level_sizes=[4, -1])),
    ("level_sizes[0]", lambda: _pp(level_sizes=[1.5, 1.5])),
    ("scores", lambda: dh.postprocess_detections(torch.rand(1, 1, 3, 2), BOX[None])),
    ("scores", lambda: dh.postprocess_detections(torch.rand(1, 3, 2).numpy(), BOX[None])),
    ("scores", lambda: dh.postprocess_detections(torch.ones(1, 3, 2, dtype=torch.long), BOX[None])),
    ("extras['e'] is on meta", lambda: _pp(extras={"e": torch.zeros(1, 3, 2, device=META)})),
    ("extras['e']", lambda: _pp(extras={"e": torch.zeros(1, 3, 2).numpy()})),
    ("anchors_xyxy", lambda: dh.decode_retinanet(OUT, ANCH.numpy())),
    ("anchors_xyxy is on meta", lambda: dh.decode_retinanet(OUT, ANCH.to(META))),
    ("weights[0]", lambda: dh.decode_retinanet(OUT, ANCH, coder_weights=(NAN, 1, 1, 1))),
    ("outputs", lambda: dh.decode_retinanet([1], ANCH)),
    (
        "outputs['cls_logits']",
        lambda: dh.decode_retinanet({**OUT, "cls_logits": OUT["cls_logits"].numpy()}, ANCH),
    ),
    ("extra_keys", lambda: dh.decode_retinanet(OUT, ANCH, extra_keys="embeddings")),
    ("point_strides", lambda: dh.decode_fcos(FOUT, FPTS, FST.numpy())),
    ("points_xy is on meta", lambda: dh.decode_fcos(FOUT, FPTS.to(META), FST)),
    (
        "outputs['cls_logits']",
        lambda: dh.decode_fcos({**FOUT, "cls_logits": torch.zeros(2, 15, 1)}, FPTS, FST),
    ),
    # anchors and points
    ("stride", lambda: dh.grid_points((2, 2), NAN)),
    ("stride", lambda: dh.grid_points((2, 2), "a")),
    ("stride", lambda: dh.grid_points((2, 2), 0)),
    ("feature_sizes", lambda: dh.grid_points((-1, 2), 8)),
    ("feature_sizes", lambda: dh.grid_points((2.5, 2), 8)),
    ("offset", lambda: dh.grid_points((2, 2), 8, offset=NAN)),
    ("device", lambda: dh.grid_points((2, 2), 8, device="gpu9")),
    ("device", lambda: dh.make_anchors([(2, 2)], [8], [(32,)], device="cuda:63")),
    ("sizes[0]", lambda: dh.cell_anchors((NAN,), (1.0,))),
    ("sizes[0]", lambda: dh.cell_anchors(("a",), (1.0,))),
    ("aspect_ratios[0]", lambda: dh.cell_anchors((32,), (float("inf"),))),
    ("sizes", lambda: dh.cell_anchors("32", (1.0,))),
    ("strides[0]", lambda: dh.make_anchors([(2, 2)], [NAN], [(32,)])),
    ("strides[0]", lambda: dh.make_anchors([(2, 2)], [0], [(32,)])),
    ("sizes[0]", lambda: dh.make_anchors([(2, 2)], [8], [(NAN,)])),
    ("feature_sizes", lambda: dh.make_anchors([2], [8], [(32,)])),
    ("feature_sizes", lambda: dh.make_points(None, [8])),
    ("strides[0]", lambda: dh.make_points([(2, 2)], ["a"])),
    ("feature_sizes", lambda: dh.level_sizes([(2, -2)], 1)),
    ("num_anchors", lambda: dh.level_sizes([(2, 2)], 0)),
    ("base_sizes[0]", lambda: dh.retinanet_sizes((NAN,))),
    ("ranges[0] min", lambda: dh.point_scale_ranges([2], [(NAN, 1)])),
    ("ranges[0]", lambda: dh.point_scale_ranges([2], [(5, 1)])),
    ("level_sizes[0]", lambda: dh.point_scale_ranges([-2], [(0, 1)])),
    # assignment and composite losses
    ("pos_iou", lambda: dh.assign_by_iou(ANCH, GT, pos_iou="a")),
    ("anchors_xyxy", lambda: dh.assign_by_iou(ANCH.numpy(), GT)),
    ("anchors_xyxy is on meta", lambda: dh.assign_by_iou(ANCH.to(META), GT, validate=False)),
    ("iou_threshold", lambda: dh.assign_identities(ANCH, GT, IDS, iou_threshold="a")),
    ("gt_ids is on meta", lambda: dh.assign_identities(ANCH, GT, IDS.to(META))),
    ("center_sampling_radius", lambda: dh.assign_fcos(FPTS, FST, GT, center_sampling_radius=NAN)),
    ("points_xy", lambda: dh.assign_fcos(FPTS.numpy(), FST, GT)),
    ("point_strides is on meta", lambda: dh.assign_fcos(FPTS, FST.to(META), GT, validate=False)),
    ("matched_gt", lambda: dh.gather_gt(GT, torch.zeros(2, 3))),
    ("pos_iou", lambda: dh.retinanet_loss(OUT, ANCH, GT, pos_iou="a")),
    ("neg_iou", lambda: dh.retinanet_loss(OUT, ANCH, GT, neg_iou=NAN)),
    ("delta", lambda: dh.retinanet_loss(OUT, ANCH, GT, delta="a")),
    ("min_positives", lambda: dh.retinanet_loss(OUT, ANCH, GT, min_positives=float("inf"))),
    (
        "outputs lacks ['bbox_deltas']",
        lambda: dh.retinanet_loss({"cls_logits": OUT["cls_logits"]}, ANCH, GT),
    ),
    (
        "outputs['cls_logits']",
        lambda: dh.retinanet_loss({k: v.numpy() for k, v in OUT.items()}, ANCH, GT),
    ),
    ("anchors_xyxy is on meta", lambda: dh.retinanet_loss(OUT, ANCH.to(META), GT, validate=False)),
    (
        "gt_labels is on meta",
        lambda: dh.retinanet_loss(OUT, ANCH, GT, LAB.to(META), validate=False),
    ),
    (
        "gt_valid is on meta",
        lambda: dh.retinanet_loss(
            OUT, ANCH, GT, None, torch.ones(2, 1, dtype=torch.bool, device=META), validate=False
        ),
    ),
    ("identity_iou", lambda: _rt(identity_iou="a")),
    ("identity_iou", lambda: _rt(identity_iou=NAN)),
    ("margin", lambda: _rt(margin=NAN)),
    ("margin", lambda: _rt(margin="a")),
    ("num_triplets", lambda: _rt(num_triplets=2.5)),
    ("embedding_weight", lambda: _rt(embedding_weight=NAN)),
    ("embedding_weight", lambda: _rt(embedding_weight="a")),
    ("gt_ids is on meta", lambda: dh.retinatrack_loss(OUT, ANCH, GT, LAB, IDS.to(META))),
    ("clip_ids", lambda: _rt(clip_ids=torch.zeros(2))),
    (
        "outputs lacks ['embeddings']",
        lambda: dh.retinatrack_loss(
            {k: OUT[k] for k in ("cls_logits", "bbox_deltas")}, ANCH, GT, LAB, IDS
        ),
    ),
    (
        "center_sampling_radius",
        lambda: dh.fcos_loss(FOUT, FPTS, FST, GT, center_sampling_radius="a"),
    ),
    (
        "center_sampling_radius",
        lambda: dh.fcos_loss(FOUT, FPTS, FST, GT, center_sampling_radius=NAN),
    ),
    ("alpha", lambda: dh.fcos_loss(FOUT, FPTS, FST, GT, alpha=NAN)),
    ("point_strides is on meta", lambda: dh.fcos_loss(FOUT, FPTS, FST.to(META), GT)),
    (
        "scale_ranges",
        lambda: dh.fcos_loss(FOUT, FPTS, FST, GT, scale_ranges=torch.zeros(16, 2).numpy()),
    ),
    (
        "outputs['cls_logits']",
        lambda: dh.fcos_loss({**FOUT, "cls_logits": torch.zeros(2, 15, 1)}, FPTS, FST, GT),
    ),
    ("center_sampling_radius", lambda: dh.fcos_targets(FPTS, FST, GT, center_sampling_radius="a")),
    ("margin", lambda: dh.batch_hard_triplet_loss(EMB, TIDS, margin=NAN)),
    ("num_samples", lambda: dh.batch_hard_triplet_loss(EMB, TIDS, num_samples="a")),
    ("num_samples", lambda: dh.batch_hard_triplet_loss(EMB, TIDS, num_samples=2.5)),
    ("eps", lambda: dh.batch_hard_triplet_loss(EMB, TIDS, eps=NAN)),
    ("identities is on meta", lambda: dh.batch_hard_triplet_loss(EMB, TIDS.to(META))),
    ("embeddings", lambda: dh.batch_hard_triplet_loss(EMB.numpy(), TIDS)),
    ("identities", lambda: dh.batch_hard_triplet_loss(EMB, TIDS.float())),
    (
        "identities is on meta",
        lambda: dh.gather_identity_embeddings(
            torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.long, device=META)
        ),
    ),
    ("num_positives", lambda: dh.normalize_by_positives(torch.ones(()), NAN)),
    ("num_positives", lambda: dh.normalize_by_positives(torch.ones(()), "a")),
    (
        "weights are on meta",
        lambda: dh.reduce_loss(torch.ones(3), "sum", torch.ones(3, device=META)),
    ),
]


ALL_CASES = CASES + OP_CASES


@pytest.mark.parametrize(
    ("name", "call"), ALL_CASES, ids=[f"{i}-{c[0].split()[0]}" for i, c in enumerate(ALL_CASES)]
)
def test_loss_bad_input_is_a_one_line_error(name: str, call: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_empty_detections_are_documented_fallbacks() -> None:
    """B = 0 images -> []; A = 0 anchors -> one empty result per image (was a RuntimeError)."""
    assert dh.postprocess_detections(torch.rand(0, 3, 2), torch.zeros(0, 3, 4)) == []
    emb = torch.zeros(2, 0, 8)
    out = dh.postprocess_detections(
        torch.rand(2, 0, 2), torch.zeros(2, 0, 4), extras={"embeddings": emb}
    )
    assert len(out) == 2
    for det in out:
        assert det["boxes_xyxy"].shape == (0, 4) and det["scores"].shape == (0,)
        assert det["labels"].dtype == torch.long and det["embeddings"].shape == (0, 8)
    assert dh.nms_mask(BOX[:0], SC[:0], 0.5).shape == (0,)


def test_nan_tensor_values_in_the_ops_propagate() -> None:
    """Documented: the coders and IoUs read no tensor values (no host sync): NaN in, NaN out.
    Decoding and NMS refuse NaN (check_finite_detections), tested in test_decode."""
    nan_box = BOX.clone()
    nan_box[0, 0] = NAN
    assert torch.isnan(dh.box_iou(nan_box, BOX)[0]).all()
    assert torch.isnan(dh.encode_deltas(nan_box, BOX)[0]).any()
    assert torch.isnan(dh.decode_ltrb(PTS, nan_box)[0]).any()
    with pytest.raises(ValueError, match="NaN"):
        dh.nms_mask(nan_box, SC, 0.5)


def test_valid_numbers_keep_results() -> None:
    import numpy as np

    a = dh.make_anchors([(4, 4)], [8], [(16,)], (1.0,))
    b = dh.make_anchors([(np.int64(4), 4)], [np.float64(8.0)], [(16.0,)], (np.float32(1.0),))
    assert torch.equal(a, b)
    assert torch.equal(
        dh.decode_deltas(BOX, BOX, clamp=float("inf")), dh.decode_deltas(BOX, BOX, clamp=1e9)
    )
    keep = dh.nms_mask(BOX, SC, 1.0)  # threshold 1: nothing is suppressed
    assert keep.all()
