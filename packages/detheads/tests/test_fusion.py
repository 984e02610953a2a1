"""Weighted box fusion equals a slow per-box reference; fallbacks and one-line errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from detheads import weighted_box_fusion


def _iou(a: list[float], b: list[float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    return inter / max(area_a + area_b - inter, 1e-12)


def _slow_wbf(boxes, scores, passes, num_passes, thr, embs=None):  # type: ignore[no-untyped-def]
    """Obvious WBF: visit boxes by score, join the best cluster by IoU with its fused box."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    clusters: list[list[int]] = []
    for i in order:
        best, best_iou = -1, -1.0
        for k, members in enumerate(clusters):
            if any(passes[j] == passes[i] for j in members):
                continue
            tot = 0.0
            wb = [0.0, 0.0, 0.0, 0.0]
            for j in members:
                tot += scores[j]
                wb = [wb[c] + scores[j] * boxes[j][c] for c in range(4)]
            if tot > 0:
                fused = [wb[c] / tot for c in range(4)]
            else:
                fused = [sum(boxes[j][c] for j in members) / len(members) for c in range(4)]
            v = _iou(fused, boxes[i])
            if v > best_iou:
                best, best_iou = k, v
        if best >= 0 and best_iou >= thr:
            clusters[best].append(i)
        else:
            clusters.append([i])
    out = []
    for members in clusters:
        tot = sum(scores[j] for j in members)
        w = [scores[j] / tot if tot > 0 else 1.0 / len(members) for j in members]
        box = [sum(wj * boxes[j][c] for wj, j in zip(w, members, strict=True)) for c in range(4)]
        emb = None
        if embs is not None:
            e = [
                sum(wj * embs[j][c] for wj, j in zip(w, members, strict=True))
                for c in range(len(embs[0]))
            ]
            norm = math.sqrt(sum(x * x for x in e))
            emb = [x / max(norm, 1e-12) for x in e]
        out.append((tot / num_passes, box, emb, len(members), members))
    order_out = sorted(range(len(out)), key=lambda k: (-out[k][0], k))
    return [out[k] for k in order_out]


@st.composite
def _detections(draw):  # type: ignore[no-untyped-def]
    num_passes = draw(st.integers(1, 4))
    n = draw(st.integers(0, 14))
    # boxes near a few centres so that clusters form; coarse grid values make ties likely
    centres = [(draw(st.integers(0, 4)) * 20.0, draw(st.integers(0, 2)) * 30.0) for _ in range(3)]
    boxes, scores, passes, embs = [], [], [], []
    for _ in range(n):
        cx, cy = centres[draw(st.integers(0, 2))]
        dx, dy = draw(st.integers(-4, 4)), draw(st.integers(-4, 4))
        w, h = draw(st.integers(0, 30)), draw(st.integers(0, 50))
        boxes.append([cx + dx, cy + dy, cx + dx + w, cy + dy + h])
        scores.append(draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0])))
        passes.append(draw(st.integers(0, num_passes - 1)))
        embs.append([draw(st.floats(-1, 1)) for _ in range(3)])
    thr = draw(st.sampled_from([0.3, 0.55, 0.8, 1.0]))
    return boxes, scores, passes, num_passes, thr, embs


@settings(deadline=None, max_examples=300)
@given(_detections())
def test_wbf_matches_slow_reference(data) -> None:  # type: ignore[no-untyped-def]
    boxes, scores, passes, num_passes, thr, embs = data
    ref = _slow_wbf(boxes, scores, passes, num_passes, thr, embs)
    out = weighted_box_fusion(
        torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
        torch.tensor(scores, dtype=torch.float64),
        torch.tensor(passes, dtype=torch.long),
        num_passes,
        iou_threshold=thr,
        embeddings=torch.tensor(embs, dtype=torch.float64).reshape(-1, 3),
    )
    assert out.boxes_xyxy.shape == (len(ref), 4)
    assert out.embeddings is not None and out.embeddings.shape == (len(ref), 3)
    for k, (score, box, emb, support, members) in enumerate(ref):
        assert out.scores[k].item() == pytest.approx(score, abs=1e-12)
        assert out.boxes_xyxy[k].tolist() == pytest.approx(box, abs=1e-9)
        assert out.embeddings[k].tolist() == pytest.approx(emb, abs=1e-9)
        assert int(out.support[k]) == support
        assert sorted(torch.nonzero(out.cluster == k).reshape(-1).tolist()) == sorted(members)
    # every cluster counts each pass once, so fused scores never exceed the best member's
    assert bool((out.scores <= 1.0 + 1e-12).all())


def test_one_pass_returns_the_input_sorted() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 20], [1, 1, 11, 21], [50, 50, 60, 80]])
    scores = torch.tensor([0.3, 0.9, 0.6])
    out = weighted_box_fusion(boxes, scores, torch.zeros(3, dtype=torch.long), 1)
    assert torch.equal(out.scores, torch.tensor([0.9, 0.6, 0.3]))
    assert torch.equal(out.boxes_xyxy, boxes[[1, 2, 0]])
    assert out.cluster.tolist() == [2, 0, 1]
    assert out.support.tolist() == [1, 1, 1]
    assert out.embeddings is None


def test_two_passes_average_and_downweight_single_pass_boxes() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 20], [2, 0, 12, 20], [100, 100, 110, 120]])
    scores = torch.tensor([0.8, 0.4, 0.9])
    out = weighted_box_fusion(
        boxes,
        scores,
        torch.tensor([0, 1, 0]),
        2,
        iou_threshold=0.5,
        embeddings=torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
    )
    # the pair: (0.8 + 0.4) / 2 = 0.6; the lone box: 0.9 / 2 = 0.45
    assert out.scores.tolist() == pytest.approx([0.6, 0.45])
    assert out.boxes_xyxy[0].tolist() == pytest.approx(
        [(0.8 * 0 + 0.4 * 2) / 1.2, 0, 10.6667, 20], abs=1e-4
    )
    assert out.support.tolist() == [2, 1]
    e = out.embeddings
    assert e is not None
    assert e[0].tolist() == pytest.approx([0.8 / math.hypot(0.8, 0.4), 0.4 / math.hypot(0.8, 0.4)])


def test_same_pass_boxes_never_merge() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 20], [0, 0, 10, 20]])
    out = weighted_box_fusion(boxes, torch.tensor([0.9, 0.8]), torch.tensor([0, 0]), 2)
    assert out.support.tolist() == [1, 1]
    assert out.scores.tolist() == pytest.approx([0.45, 0.4])


def test_empty_input_gives_empty_output() -> None:
    out = weighted_box_fusion(
        torch.zeros(0, 4),
        torch.zeros(0),
        torch.zeros(0, dtype=torch.long),
        3,
        embeddings=torch.zeros(0, 8),
    )
    assert out.boxes_xyxy.shape == (0, 4) and out.scores.shape == (0,)
    assert out.embeddings is not None and out.embeddings.shape == (0, 8)
    assert out.support.shape == (0,) and out.cluster.shape == (0,)


def test_follows_input_device_and_dtype(device: torch.device) -> None:
    boxes = torch.tensor([[0.0, 0, 10, 20], [1, 0, 11, 20]], device=device)
    out = weighted_box_fusion(
        boxes,
        torch.tensor([0.5, 0.7], device=device),
        torch.tensor([0, 1], device=device),
        2,
        embeddings=torch.ones(2, 4, device=device),
    )
    assert out.boxes_xyxy.device == boxes.device and out.boxes_xyxy.dtype == torch.float32
    assert out.scores.device == boxes.device and out.cluster.device == boxes.device
    assert out.scores.tolist() == pytest.approx([0.6])


def _args(**kw):  # type: ignore[no-untyped-def]
    base = {
        "boxes_xyxy": torch.tensor([[0.0, 0, 10, 20]]),
        "scores": torch.tensor([0.5]),
        "pass_index": torch.tensor([0]),
        "num_passes": 2,
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"scores": torch.tensor([float("nan")])}, ValueError, "scores contains NaN"),
        ({"scores": torch.tensor([-0.1])}, ValueError, "scores must be >= 0"),
        ({"scores": torch.tensor([0.5, 0.4])}, ValueError, "scores must have shape"),
        ({"boxes_xyxy": torch.tensor([[0.0, 0, float("nan"), 1]])}, ValueError, "boxes_xyxy"),
        ({"boxes_xyxy": torch.zeros(1, 3)}, ValueError, "boxes_xyxy"),
        ({"boxes_xyxy": torch.zeros(1, 1, 4)}, ValueError, "boxes_xyxy must have shape"),
        ({"num_passes": 0}, ValueError, "num_passes must be >= 1"),
        ({"num_passes": 1.5}, TypeError, "num_passes must be an int"),
        ({"pass_index": torch.tensor([2])}, ValueError, "pass_index values"),
        ({"pass_index": torch.tensor([0.0])}, TypeError, "pass_index must be an integer"),
        ({"iou_threshold": 0.0}, ValueError, "iou_threshold"),
        ({"embeddings": torch.zeros(2, 3)}, ValueError, "embeddings must have shape"),
        ({"embeddings": torch.full((1, 3), float("nan"))}, ValueError, "embeddings contains"),
    ],
)
def test_bad_input_one_line_errors(kw, exc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=match) as info:
        weighted_box_fusion(**_args(**kw))
    assert "\n" not in str(info.value)
