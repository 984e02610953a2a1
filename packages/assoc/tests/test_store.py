"""Track store: ids, lifecycle, history ring buffer, history matching."""

from __future__ import annotations

import numpy as np
import pytest

import assoc
from assoc import TrackState

BOX = np.array([[0.0, 0.0, 10.0, 10.0]])


def shifted(dx: float) -> np.ndarray:
    return BOX + np.array([dx, 0.0, dx, 0.0])


def test_lifecycle_tentative_confirmed_lost_removed() -> None:
    store = assoc.TrackStore(min_hits=3, max_age=2, history=4)
    ids = store.spawn(BOX, [0.9])
    assert ids.tolist() == [1] and store.states.tolist() == [TrackState.TENTATIVE]
    store.update(np.array([0]), shifted(1), [0.8])
    assert store.states.tolist() == [TrackState.TENTATIVE]
    store.update(np.array([0]), shifted(2), [0.7])  # third hit, birth included
    assert store.states.tolist() == [TrackState.CONFIRMED]
    assert store.hits.tolist() == [3] and store.hit_streak.tolist() == [3]
    for missed in (1, 2):
        store.update(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
        assert store.states.tolist() == [TrackState.LOST]
        assert store.time_since_update.tolist() == [missed]
        assert store.prune().tolist() == [True]
    store.update(np.array([0]), shifted(3), [0.6])  # found again within max_age
    assert store.states.tolist() == [TrackState.CONFIRMED]
    assert store.hit_streak.tolist() == [1] and store.age.tolist() == [5]
    for _ in range(3):
        store.update(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
        keep = store.prune()
    assert keep.tolist() == [False] and len(store) == 0
    assert store.removed_ids.tolist() == [1]
    # Ids are never reused.
    assert store.spawn(BOX, [1.0]).tolist() == [2]


def test_tentative_track_that_misses_restarts_its_streak() -> None:
    store = assoc.TrackStore(min_hits=2, max_age=5)
    store.spawn(BOX, [1.0])
    store.update(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
    assert store.states.tolist() == [TrackState.TENTATIVE]
    store.update(np.array([0]), BOX, [1.0])
    assert store.states.tolist() == [TrackState.TENTATIVE]  # streak 1 after the miss
    store.update(np.array([0]), BOX, [1.0])
    assert store.states.tolist() == [TrackState.CONFIRMED]


def test_min_hits_one_confirms_at_birth_and_max_age_zero_removes_at_first_miss() -> None:
    store = assoc.TrackStore(min_hits=1, max_age=0)
    store.spawn(np.concatenate([BOX, shifted(50)]), [1.0, 0.5])
    assert store.states.tolist() == [TrackState.CONFIRMED] * 2
    store.update(np.array([1]), shifted(51), [0.4])
    assert store.prune().tolist() == [False, True]
    assert store.ids.tolist() == [2]


def test_history_keeps_the_h_most_recent_newest_first() -> None:
    store = assoc.TrackStore(history=3)
    store.spawn(np.concatenate([BOX, shifted(100)]), [0.0, 10.0], np.eye(4)[:2])
    for t in range(1, 5):
        store.update(np.array([0]), shifted(t), [float(t)], np.eye(4)[[t % 4]])
    entries = store.history()
    assert entries.owner.tolist() == [0, 0, 0, 1]
    assert entries.lag.tolist() == [0, 1, 2, 0]
    np.testing.assert_array_equal(entries.scores, [4.0, 3.0, 2.0, 10.0])
    np.testing.assert_array_equal(entries.boxes_xyxy[:3, 0], [4.0, 3.0, 2.0])
    assert entries.embeddings is not None
    np.testing.assert_array_equal(entries.embeddings[:3], np.eye(4)[[0, 3, 2]])
    np.testing.assert_array_equal(store.latest_scores(), [4.0, 10.0])
    expected = np.concatenate([shifted(4), shifted(100)])
    np.testing.assert_array_equal(store.latest_boxes_xyxy(), expected)


def test_embedding_distance_is_the_minimum_over_the_history() -> None:
    store = assoc.TrackStore(history=2)
    e = np.eye(3)
    store.spawn(BOX, [1.0], e[[0]])
    store.update(np.array([0]), BOX, [1.0], e[[1]])  # history: e1 (newest), e0
    d = store.embedding_distance(e)
    np.testing.assert_allclose(d, [[0.0, 0.0, 1.0]], atol=1e-12)
    store.update(np.array([0]), BOX, [1.0], e[[2]])  # e0 falls out of the history
    np.testing.assert_allclose(store.embedding_distance(e), [[1.0, 0.0, 0.0]], atol=1e-12)


def test_reduce_by_owner_against_a_loop() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(9, 4))
    owner = rng.integers(0, 5, size=9)
    for reduce, fn, fill in (("max", np.max, -np.inf), ("min", np.min, np.inf)):
        out = assoc.reduce_by_owner(values, owner, 6, reduce=reduce)  # type: ignore[arg-type]
        for row in range(6):
            mine = values[owner == row]
            expected = fn(mine, axis=0) if len(mine) else np.full(4, fill)
            np.testing.assert_array_equal(out[row], expected)
    with pytest.raises(ValueError, match="reduce"):
        assoc.reduce_by_owner(values, owner, 6, reduce="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="owner"):
        assoc.reduce_by_owner(values, owner, 2)


def test_empty_store_operations() -> None:
    store = assoc.TrackStore()
    store.update(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
    assert store.prune().shape == (0,)
    assert store.spawn(np.zeros((0, 4)), np.zeros(0)).shape == (0,)
    assert store.history().boxes_xyxy.shape == (0, 4)
    assert len(store) == 0


def test_bad_store_input() -> None:
    with pytest.raises(ValueError, match="min_hits"):
        assoc.TrackStore(min_hits=0)
    with pytest.raises(ValueError, match="max_age"):
        assoc.TrackStore(max_age=-1)
    with pytest.raises(ValueError, match="history"):
        assoc.TrackStore(history=0)
    store = assoc.TrackStore()
    with pytest.raises(ValueError, match="scores"):
        store.spawn(BOX, [1.0, 2.0])
    with pytest.raises(ValueError, match="boxes_xyxy"):
        store.spawn(np.array([[5.0, 0.0, 1.0, 1.0]]), [1.0])
    store.spawn(BOX, [1.0], np.ones((1, 3)))
    with pytest.raises(ValueError, match="embeddings"):
        store.update(np.array([0]), BOX, [1.0])
    with pytest.raises(ValueError, match=r"embeddings.*dimension"):
        store.update(np.array([0]), BOX, [1.0], np.ones((1, 4)))
    with pytest.raises(ValueError, match="rows"):
        store.update(np.array([1]), BOX, [1.0], np.ones((1, 3)))
    plain = assoc.TrackStore()
    plain.spawn(BOX, [1.0])
    with pytest.raises(ValueError, match="embeddings"):
        plain.embedding_distance(np.ones((1, 3)))
    with pytest.raises(ValueError, match="embeddings"):
        plain.update(np.array([0]), BOX, [1.0], np.ones((1, 3)))


def _slow_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_box_iou_is_the_maximum_over_the_history() -> None:
    """Against a slow loop over every track's stored boxes (H = 3, tracks of 1-4 updates)."""
    rng = np.random.default_rng(0)
    store = assoc.TrackStore(history=3)
    stored: list[list[np.ndarray]] = []
    for step in range(4):
        rows = np.arange(len(store))
        boxes = rng.uniform(0, 50, (len(rows), 2))
        boxes = np.concatenate([boxes, boxes + rng.uniform(5, 30, boxes.shape)], axis=1)
        store.update(rows, boxes, np.ones(len(rows)))
        for r in rows:
            stored[r].insert(0, boxes[r])
        born = rng.uniform(0, 50, (1, 2))
        born = np.concatenate([born, born + 20.0], axis=1)
        store.spawn(born, [1.0])
        stored.append([born[0]])
        del step
    dets = rng.uniform(0, 50, (5, 2))
    dets = np.concatenate([dets, dets + rng.uniform(5, 30, dets.shape)], axis=1)
    got = store.box_iou(dets)
    want = np.array([[max(_slow_iou(b, d) for b in hist[:3]) for d in dets] for hist in stored])
    np.testing.assert_allclose(got, want, atol=1e-12)
    latest = np.array([[_slow_iou(hist[0], d) for d in dets] for hist in stored])
    np.testing.assert_allclose(store.box_iou(dets, source="latest"), latest, atol=1e-12)
    assert not np.allclose(latest, want)  # the older boxes matter in this draw
    with pytest.raises(ValueError):
        store.box_iou(np.array([[0.0, 0.0, -1.0, 1.0]]))
    with pytest.raises(ValueError, match="source"):
        store.box_iou(dets, source="newest")  # type: ignore[arg-type]
