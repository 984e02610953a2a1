"""Training samplers (pairs, SLT episodes, identity tasks) and synthetic MOT scenes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackkit.data import (
    sample_episodes,
    sample_identity_tasks,
    sample_pairs,
    synthetic_mot_sequence,
)
from trackkit.eval import evaluate_mot


@given(st.integers(0, 2**31 - 1))
def test_pairs_respect_validity_gap_and_stride(seed: int) -> None:
    rng = np.random.default_rng(seed)
    valid = [rng.random(n) < 0.7 for n in (50, 30, 5)]
    valid[2][:] = False  # an unusable sequence
    pairs = sample_pairs(valid, 64, rng=rng, max_gap=10, stride=[1, 3, 1])
    assert len(pairs) == 64
    for sa, fa, sb, fb in zip(pairs.seq_a, pairs.frame_a, pairs.seq_b, pairs.frame_b):
        assert valid[sa][fa] and valid[sb][fb] and sa != 2 and sb != 2
        if sa == 1:
            assert fa % 3 == 0
        if sa == sb:
            assert abs(fa - fb) <= 10


def test_pairs_negative_share() -> None:
    rng = np.random.default_rng(0)
    valid = [np.ones(20, bool)] * 4
    pairs = sample_pairs(valid, 4000, rng=rng, different_sequence_prob=0.25)
    assert abs((~pairs.same_sequence).mean() - 0.25) < 0.03
    only = sample_pairs([np.ones(5, bool)], 10, rng=rng, different_sequence_prob=1.0)
    assert only.same_sequence.all()  # one sequence: negatives impossible
    with pytest.raises(ValueError, match="stride"):
        sample_pairs(valid, 2, rng=rng, stride=[1, 2])


def test_pairs_groups_keep_negatives_out_of_the_same_group() -> None:
    rng = np.random.default_rng(1)
    valid = [np.ones(10, bool), np.ones(10, bool), np.ones(30, bool)]
    groups = [0, 0, 1]  # sequences 0 and 1 are two identities of one video
    for weighting in ("sequence", "frame"):
        pairs = sample_pairs(
            valid, 3000, rng=rng, different_sequence_prob=0.5, groups=groups, weighting=weighting
        )
        neg = ~pairs.same_sequence
        g = np.asarray(groups)
        assert np.all(g[pairs.seq_a[neg]] != g[pairs.seq_b[neg]])
        assert abs(neg.mean() - 0.5) < 0.05
    one_group = sample_pairs(valid[:2], 50, rng=rng, different_sequence_prob=1.0, groups=[3, 3])
    assert one_group.same_sequence.all()
    with pytest.raises(ValueError, match="groups"):
        sample_pairs(valid, 2, rng=rng, groups=[0, 1])
    with pytest.raises(ValueError, match="weighting"):
        sample_pairs(valid, 2, rng=rng, weighting="video")


def test_pairs_frame_weighting_draws_frames_uniformly() -> None:
    rng = np.random.default_rng(2)
    valid = [np.ones(10, bool), np.ones(30, bool)]  # 10 and 30 usable frames
    by_frame = sample_pairs(valid, 8000, rng=rng, different_sequence_prob=0.0, weighting="frame")
    by_seq = sample_pairs(valid, 8000, rng=rng, different_sequence_prob=0.0)
    assert abs((by_frame.seq_a == 0).mean() - 0.25) < 0.02  # 10 of 40 frames
    assert abs((by_seq.seq_a == 0).mean() - 0.5) < 0.02  # 1 of 2 sequences
    # negatives by frame: the other group's frames uniformly (a 3rd sequence of 10 frames)
    valid3 = [*valid, np.ones(10, bool)]
    neg = sample_pairs(
        valid3, 8000, rng=rng, different_sequence_prob=1.0, groups=[0, 1, 2], weighting="frame"
    )
    first0 = neg.seq_a == 0  # the others hold 30 + 10 frames: 3/4 of them in sequence 1
    assert abs((neg.seq_b[first0] == 1).mean() - 0.75) < 0.04


def _row_sampler(seq, frame, video, count, rng, negative_prob, max_gap):  # type: ignore[no-untyped-def]
    """The row-based pair sampler trackkit.train used before it called sample_pairs."""
    n = len(seq)
    support = rng.integers(0, n, size=count)
    target = np.empty(count, dtype=np.int64)
    present = rng.random(count) >= negative_prob
    multi_video = len(np.unique(video)) > 1
    for k in range(count):
        i = support[k]
        if present[k] or not multi_video:
            present[k] = True
            cand = np.flatnonzero((seq == seq[i]) & (np.abs(frame - frame[i]) <= max_gap))
        else:
            cand = np.flatnonzero(video != video[i])
        target[k] = cand[rng.integers(0, len(cand))]
    return support, target, present


@given(st.integers(0, 2**31 - 1))
def test_frame_weighting_with_groups_reproduces_the_row_sampler(seed: int) -> None:
    gen = np.random.default_rng(seed)
    lengths = gen.integers(1, 12, size=4)
    valid = [gen.random(n) < 0.6 for n in lengths]
    for v in valid:
        v[0] = True
    groups = np.array([0, 0, 1, 2]) if seed % 2 else np.array([5, 5, 5, 5])
    seq = np.concatenate([np.full(v.sum(), s) for s, v in enumerate(valid)])
    frame = np.concatenate([np.flatnonzero(v) for v in valid])
    s, t, present = _row_sampler(seq, frame, groups[seq], 50, np.random.default_rng(seed), 0.3, 3)
    pairs = sample_pairs(
        valid,
        50,
        rng=np.random.default_rng(seed),
        max_gap=3,
        different_sequence_prob=0.3,
        groups=groups,
        weighting="frame",
    )
    np.testing.assert_array_equal(pairs.seq_a, seq[s])
    np.testing.assert_array_equal(pairs.frame_a, frame[s])
    np.testing.assert_array_equal(pairs.seq_b, seq[t])
    np.testing.assert_array_equal(pairs.frame_b, frame[t])
    np.testing.assert_array_equal(pairs.same_sequence, present)


@given(st.integers(0, 2**31 - 1))
def test_episodes_are_regular_and_in_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    valid = [rng.random(n) < 0.8 for n in (30, 100, 10)]
    ep = sample_episodes(valid, 16, rng=rng, length=12, max_interval=7)
    assert ep.frames.shape == (16, 12)
    assert (ep.sequence != 2).all()  # too short
    for s, t, fr, k in zip(ep.sequence, ep.template, ep.frames, ep.interval):
        assert 1 <= k <= 7 and fr[0] == t and valid[s][t]
        assert (np.diff(fr) == k).all() and fr[-1] < valid[s].size


def test_episode_intervals_cover_the_range() -> None:
    rng = np.random.default_rng(1)
    ep = sample_episodes([np.ones(500, bool)], 700, rng=rng, length=24, max_interval=7)
    assert set(ep.interval.tolist()) == set(range(1, 8))
    with pytest.raises(ValueError, match="no sequence"):
        sample_episodes([np.ones(5, bool)], 1, rng=rng, length=24)


def test_identity_tasks_distinct_frames_same_identity() -> None:
    rng = np.random.default_rng(2)
    ids = np.repeat([7, 8, 9], [10, 3, 40])
    frames = np.concatenate([np.arange(10), np.arange(3), np.arange(0, 80, 2)])
    tasks = sample_identity_tasks(ids, frames, 50, rng=rng, support_size=4, max_span=20)
    assert tasks.support.shape == (50, 4) and len(tasks) == 50
    assert set(tasks.identity.tolist()) <= {7, 9}  # 8 has only 3 frames
    for u, sup, q in zip(tasks.identity, tasks.support, tasks.query):
        rows = np.concatenate([sup, [q]])
        assert (ids[rows] == u).all()
        assert np.unique(frames[rows]).size == 5
        assert np.ptp(frames[rows]) < 20
    with pytest.raises(ValueError, match="different frames"):
        sample_identity_tasks(ids, frames, 1, rng=rng, support_size=40)


def test_synthetic_mot_is_deterministic_and_detections_are_noisy() -> None:
    a = synthetic_mot_sequence(length=30, num_objects=4, seed=3)
    b = synthetic_mot_sequence(length=30, num_objects=4, seed=3)
    assert a.gt is not None and a.det is not None and b.det is not None
    np.testing.assert_array_equal(a.det.boxes_xywh, b.det.boxes_xywh)
    assert a.frames is not None and b.frames is not None
    assert np.array_equal(a.frames[10], b.frames[10])
    assert set(np.unique(a.gt.ids).tolist()) <= {1, 2, 3, 4}
    # Detections used as a tracker output with one id each: recall < 1 (misses), FP > 0.
    det = a.det
    as_tracks = type(det)(det.frames, np.arange(len(det)), det.boxes_xywh, det.confidences)
    s = evaluate_mot(a.gt, as_tracks, 30)
    assert 0.5 < s.clear.recall < 1.0 and s.clear.fp > 0
    no_noise = synthetic_mot_sequence(
        length=30,
        num_objects=4,
        seed=3,
        miss_rate=0.0,
        false_positives=0.0,
        box_noise=0.0,
        render=False,
    )
    assert no_noise.frames is None and no_noise.det is not None and no_noise.gt is not None
    visible = no_noise.gt.visibility >= 0.3
    assert len(no_noise.det) == int(visible.sum())
