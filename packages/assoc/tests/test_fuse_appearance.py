"""fuse_appearance: RetinaTrack's fused similarity on a caller-supplied appearance matrix."""

from __future__ import annotations

import numpy as np
import pytest

from assoc import cosine_similarity, fuse_appearance, fused_similarity, iou_matrix


def test_equals_fused_similarity_with_cosine_and_gate() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (6, 2))
    boxes_a = np.concatenate([xy, xy + rng.uniform(5, 30, (6, 2))], axis=1)
    boxes_b = boxes_a[[2, 0, 5, 1]] + rng.normal(0, 3, (4, 4))
    boxes_b[:, 2:] = np.maximum(boxes_b[:, 2:], boxes_b[:, :2] + 1)
    emb_a, emb_b = rng.normal(size=(6, 8)), rng.normal(size=(4, 8))
    cos = cosine_similarity(emb_a, emb_b)
    got = fuse_appearance(iou_matrix(boxes_a, boxes_b), cos, max_appearance_distance=2.0)
    np.testing.assert_allclose(got, fused_similarity(boxes_a, boxes_b, emb_a, emb_b))
    gated = fuse_appearance(iou_matrix(boxes_a, boxes_b), cos, max_appearance_distance=0.8)
    np.testing.assert_array_equal(np.isinf(gated), 1.0 - cos > 0.8)


def test_hand_computed_and_empty() -> None:
    iou = np.array([[0.3, 0.9], [0.5, 0.0]])
    app = np.array([[0.8, 0.2], [-0.5, 1.0]])
    out = fuse_appearance(iou, app, iou_weight=1.0, appearance_weight=2.0)
    # 0.3 < 0.4 is truncated; 1 - 0.2 = 0.8 and 1 + 0.5 exceed the distance 0.5: disallowed.
    np.testing.assert_allclose(out, [[1.6, -np.inf], [-np.inf, 2.0]])
    assert fuse_appearance(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"iou": np.zeros(3), "appearance": np.zeros(3)}, "2-D"),
        ({"iou": np.zeros((2, 2)), "appearance": np.zeros((2, 3))}, "shape of iou"),
        ({"iou": np.full((1, 1), np.nan), "appearance": np.zeros((1, 1))}, "finite"),
        ({"iou": np.full((1, 1), 1.5), "appearance": np.zeros((1, 1))}, "iou must lie"),
        ({"iou": np.zeros((1, 1)), "appearance": np.full((1, 1), 2.0)}, "appearance must lie"),
        ({"iou": np.zeros((1, 1)), "appearance": np.zeros((1, 1)), "iou_weight": -1}, "iou_weight"),
        (
            {"iou": np.zeros((1, 1)), "appearance": np.zeros((1, 1)), "iou_truncation": 2},
            "iou_truncation",
        ),
        (
            {"iou": np.zeros((1, 1)), "appearance": np.zeros((1, 1)), "max_appearance_distance": 3},
            "max_appearance_distance",
        ),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fuse_appearance(**kwargs)  # type: ignore[arg-type]
