"""Cost matrices: hand-computed cases, slow references, hypothesis properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import assoc


@st.composite
def boxes(draw: st.DrawFn, min_rows: int = 0, max_rows: int = 6, positive: bool = False):
    n = draw(st.integers(min_rows, max_rows))
    corner = draw(arrays(np.float64, (n, 2), elements=st.floats(-100, 100, width=32)))
    low = 0.5 if positive else 0.0
    size = draw(arrays(np.float64, (n, 2), elements=st.floats(low, 60, width=32)))
    return np.concatenate([corner, corner + size], axis=1)


def iou_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = w * h
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def giou_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iou = iou_reference(a, b)
    out = np.zeros_like(iou)
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            c = (max(p[2], q[2]) - min(p[0], q[0])) * (max(p[3], q[3]) - min(p[1], q[1]))
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out[i, j] = iou[i, j] - (c - union) / c if c > 0 else 0.0
    return out


def test_iou_hand_computed() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 5.0, 15.0, 15.0], [10.0, 0.0, 20.0, 10.0], [0.0, 0.0, 10.0, 5.0]])
    np.testing.assert_allclose(assoc.iou_matrix(a, b), [[25 / 175, 0.0, 0.5]])


def test_giou_hand_computed() -> None:
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    b = np.array([[2.0, 0.0, 3.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    # Disjoint unit squares 1 apart: IoU 0, enclosing 3, union 2 -> -1/3.
    np.testing.assert_allclose(assoc.giou_matrix(a, b), [[-1.0 / 3.0, 1.0]])


@given(boxes(), boxes())
def test_iou_matches_reference_symmetric_and_bounded(a: np.ndarray, b: np.ndarray) -> None:
    iou = assoc.iou_matrix(a, b)
    assert iou.shape == (len(a), len(b))
    np.testing.assert_allclose(iou, iou_reference(a, b), atol=1e-12)
    np.testing.assert_allclose(iou, assoc.iou_matrix(b, a).T, atol=1e-12)
    assert np.all((iou >= 0.0) & (iou <= 1.0))


@given(boxes(positive=True))
def test_self_iou_is_one(a: np.ndarray) -> None:
    np.testing.assert_allclose(np.diag(assoc.iou_matrix(a, a)), 1.0)
    np.testing.assert_allclose(np.diag(assoc.giou_matrix(a, a)), 1.0)


@given(boxes(), boxes())
def test_giou_matches_reference_and_is_below_iou(a: np.ndarray, b: np.ndarray) -> None:
    giou = assoc.giou_matrix(a, b)
    np.testing.assert_allclose(giou, giou_reference(a, b), atol=1e-12)
    np.testing.assert_allclose(giou, assoc.giou_matrix(b, a).T, atol=1e-12)
    assert np.all(giou <= assoc.iou_matrix(a, b) + 1e-12)
    assert np.all((giou >= -1.0) & (giou <= 1.0))


def test_cosine_distance_reference_and_range() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 16)), rng.normal(size=(7, 16))
    expected = np.array([[1 - p @ q / np.linalg.norm(p) / np.linalg.norm(q) for q in b] for p in a])
    np.testing.assert_allclose(assoc.cosine_distance(a, b), expected, atol=1e-12)
    np.testing.assert_allclose(assoc.cosine_distance(a, a).diagonal(), 0.0, atol=1e-12)
    np.testing.assert_allclose(assoc.cosine_distance(a, -a).diagonal(), 2.0, atol=1e-12)
    # Scale invariance.
    np.testing.assert_allclose(assoc.cosine_distance(3 * a, b), expected, atol=1e-12)


def test_fused_similarity_truncates_iou_and_weights_terms() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[0.0, 0.0, 10.0, 5.0], [0.0, 0.0, 10.0, 3.0]])  # IoU 0.5 and 0.3
    ea = np.array([[1.0, 0.0]])
    eb = np.array([[1.0, 0.0], [0.0, 1.0]])  # cos 1 and 0
    s = assoc.fused_similarity(a, b, ea, eb)
    np.testing.assert_allclose(s, [[0.5 * 0.5 + 0.5 * 1.0, 0.0]])
    s = assoc.fused_similarity(a, b, ea, eb, iou_truncation=0.2, iou_weight=2.0)
    np.testing.assert_allclose(s, [[2.0 * 0.5 + 0.5, 2.0 * 0.3]])
    with pytest.raises(ValueError, match="iou_truncation"):
        assoc.fused_similarity(a, b, ea, eb, iou_truncation=1.5)
    with pytest.raises(ValueError, match="embedding_weight"):
        assoc.fused_similarity(a, b, ea, eb, embedding_weight=-1.0)
    with pytest.raises(ValueError, match="embeddings_b"):
        assoc.fused_similarity(a, b, ea, eb[:1])


def test_empty_inputs() -> None:
    some = np.array([[0.0, 0.0, 1.0, 1.0]])
    for fn in (assoc.iou_matrix, assoc.giou_matrix):
        assert fn(np.zeros((0, 4)), some).shape == (0, 1)
        assert fn(some, np.zeros((0, 4))).shape == (1, 0)
        assert fn([], []).shape == (0, 0)
    assert assoc.cosine_distance(np.zeros((0, 3)), np.ones((2, 3))).shape == (0, 2)
    assert assoc.fused_similarity(
        some, np.zeros((0, 4)), np.ones((1, 3)), np.zeros((0, 3))
    ).shape == (1, 0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.array([[0.0, 0.0, np.nan, 1.0]]), "finite"),
        (np.array([[0.0, 0.0, np.inf, 1.0]]), "finite"),
        (np.array([[2.0, 0.0, 1.0, 1.0]]), "x2 >= x1"),
        (np.array([[0.0, 2.0, 1.0, 1.0]]), "y2 >= y1"),
        (np.zeros((2, 3)), r"shape \(N, 4\)"),
        (np.zeros(4), r"shape \(N, 4\)"),
        (np.zeros((1, 4), dtype=bool), "dtype"),
        (np.array([["a", "b", "c", "d"]]), "dtype"),
        (np.zeros((1, 4), dtype=complex), "dtype"),
    ],
)
def test_bad_boxes_raise_naming_the_argument(bad: np.ndarray, message: str) -> None:
    good = np.array([[0.0, 0.0, 1.0, 1.0]])
    for fn in (assoc.iou_matrix, assoc.giou_matrix):
        with pytest.raises(ValueError, match=f"boxes_xyxy_b.*{message}"):
            fn(good, bad)
        with pytest.raises(ValueError, match=f"boxes_xyxy_a.*{message}"):
            fn(bad, good)


def test_bad_embeddings_raise_naming_the_argument() -> None:
    good = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"embeddings_a.*all zeros"):
        assoc.cosine_distance(np.zeros((1, 3)), good)
    with pytest.raises(ValueError, match=r"embeddings_b.*finite"):
        assoc.cosine_distance(good, np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="same dimension"):
        assoc.cosine_distance(good, np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"embeddings_a.*shape"):
        assoc.cosine_distance(np.ones(3), good)


def test_iou_xywh_pairs_equal_the_matrix_and_score_empty_boxes_zero() -> None:
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.uniform(0, 50, (6, 2)), rng.uniform(1, 30, (6, 2))], axis=1)
    b = np.concatenate([rng.uniform(0, 50, (4, 2)), rng.uniform(1, 30, (4, 2))], axis=1)
    xyxy = lambda x: np.concatenate([x[:, :2], x[:, :2] + x[:, 2:]], axis=1)  # noqa: E731
    np.testing.assert_allclose(
        assoc.iou_xywh(a[:, None], b[None]), assoc.iou_matrix(xyxy(a), xyxy(b)), atol=1e-12
    )
    np.testing.assert_allclose(assoc.iou_xywh(a, a), np.ones(6))  # paired rows
    empty = np.array([[10.0, 10.0, 0.0, 5.0]])
    assert assoc.iou_xywh(empty, empty)[0] == 0.0
    assert assoc.iou_xywh(a[:1], np.array([[500.0, 500.0, 5.0, 5.0]]))[0] == 0.0
