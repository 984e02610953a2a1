"""Episode sampling with frame-interval augmentation and the curriculum."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seqrl


def test_all_visible_uses_exact_interval() -> None:
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        ep = seqrl.sample_episode([100, 60], length=8, max_interval=5, rng=rng)
        assert ep.frames.shape == (9,)
        assert 1 <= ep.interval <= 5
        assert (np.diff(ep.frames) == ep.interval).all()
        n = [100, 60][ep.sequence]
        assert ep.frames[0] >= 0 and ep.frames[-1] < n
        seen.add(ep.interval)
    assert seen == {1, 2, 3, 4, 5}


def test_absent_frames_are_skipped() -> None:
    vis = np.ones(50, dtype=bool)
    vis[10:20] = False
    vis[31] = False
    rng = np.random.default_rng(1)
    for _ in range(200):
        ep = seqrl.sample_episode([vis], length=6, max_interval=4, rng=rng)
        assert vis[ep.frames].all()
        gaps = np.diff(ep.frames)
        assert (gaps >= ep.interval).all()
        # each next frame is the first visible frame at least `interval` after the previous
        for a, b in zip(ep.frames[:-1], ep.frames[1:]):
            assert not vis[a + ep.interval : b].any()


def test_interval_shrinks_for_short_sequences() -> None:
    rng = np.random.default_rng(2)
    ep = seqrl.sample_episode([5], length=4, max_interval=10, rng=rng)
    assert ep.interval == 1 and ep.frames.tolist() == [0, 1, 2, 3, 4]


@given(st.lists(st.integers(0, 40), min_size=1, max_size=5), st.integers(1, 6), st.integers(1, 8))
def test_property_episodes_are_valid(lengths: list, length: int, max_interval: int) -> None:
    rng = np.random.default_rng(0)
    if max(lengths) < length + 1:
        with pytest.raises(ValueError, match="no sequence"):
            seqrl.sample_episode(lengths, length=length, max_interval=max_interval, rng=rng)
        return
    ep = seqrl.sample_episode(lengths, length=length, max_interval=max_interval, rng=rng)
    assert lengths[ep.sequence] >= length + 1
    assert ep.frames.shape == (length + 1,)
    assert (np.diff(ep.frames) == ep.interval).all() and ep.frames[-1] < lengths[ep.sequence]


def test_deterministic_with_seed() -> None:
    a = seqrl.sample_episode([30, 40], length=5, rng=np.random.default_rng(7))
    b = seqrl.sample_episode([30, 40], length=5, rng=np.random.default_rng(7))
    assert a.sequence == b.sequence and (a.frames == b.frames).all()


def test_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="empty"):
        seqrl.sample_episode([], rng=rng)
    with pytest.raises(ValueError, match="length"):
        seqrl.sample_episode([10], length=0, rng=rng)
    with pytest.raises(TypeError, match="rng"):
        seqrl.sample_episode([10], length=2, rng=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="visibility"):
        seqrl.sample_episode([np.zeros(5)], length=2, rng=rng)
    with pytest.raises(ValueError, match="visible frames"):
        seqrl.sample_episode([np.zeros(50, dtype=bool)], length=2, rng=rng)


def test_curriculum_grows_after_patience_wins_and_caps() -> None:
    cur = seqrl.Curriculum(
        seqrl.CurriculumConfig(initial_length=2, max_length=4, growth=1, patience=3)
    )
    lengths = [cur.update(a, 0.5) for a in (0.6, 0.7, 0.4, 0.6, 0.6, 0.6, 0.9, 0.9, 0.9)]
    assert lengths == [2, 2, 2, 2, 2, 3, 3, 3, 4]
    assert [cur.update(1.0, 0.0) for _ in range(5)] == [4] * 5
    with pytest.raises(ValueError, match="finite"):
        cur.update(float("nan"), 0.5)
    with pytest.raises(ValueError, match="max_length"):
        seqrl.CurriculumConfig(initial_length=5, max_length=4)
