"""Episode sampling with frame-interval augmentation (Kim et al. 2022, Sec. 3.3 and 4.1).

An episode is an initial frame ``v_0`` followed by ``T`` tracked frames ``v_1 .. v_T`` taken from
one sequence with a random frame interval ``k`` in ``[1, max_interval]`` (sequence-level
augmentation; the paper uses T = 24 and a maximum interval of 7-10). Frames where the target is
absent are skipped: each next frame is the first visible frame at least ``k`` frames after the
previous one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_int


@dataclass(frozen=True)
class Episode:
    """One sampled episode.

    Attributes:
        sequence: index of the sequence it comes from.
        frames: ``int64[T + 1]`` frame indices; ``frames[0]`` initialises the tracker.
        interval: the sampled frame interval ``k``.
    """

    sequence: int
    frames: np.ndarray
    interval: int


def _visibility(item: Any, index: int) -> np.ndarray:
    if isinstance(item, (bool, np.bool_)):
        raise TypeError(f"sequences[{index}] must be a length (int) or a visibility array")
    if isinstance(item, (int, np.integer)):
        if item < 0:
            raise ValueError(f"sequences[{index}] length must be >= 0, got {item}")
        return np.ones(int(item), dtype=bool)
    arr = np.asarray(item)
    if arr.ndim != 1 or arr.dtype != np.bool_:
        raise TypeError(
            f"sequences[{index}] must be an int length or a 1-D bool visibility array, got "
            f"dtype {arr.dtype} shape {arr.shape}"
        )
    return arr


def _chains(visible_frames: np.ndarray, length: int, interval: int) -> np.ndarray:
    """Episodes for every possible start: ``int64[S, length + 1]`` positions, -1 if too short."""
    p = visible_frames
    count = p.shape[0]
    pos = np.arange(count)
    chain = [pos]
    for _ in range(length):
        prev = chain[-1]
        safe = np.clip(prev, 0, count - 1)
        nxt = np.searchsorted(p, p[safe] + interval, side="left")
        nxt = np.where((prev < 0) | (nxt >= count), -1, nxt)
        chain.append(nxt)
    return np.stack(chain, axis=1)


def sample_episode(
    sequences: Sequence[Any],
    *,
    length: int = 24,
    max_interval: int = 7,
    rng: np.random.Generator,
) -> Episode:
    """Sample one episode of ``length`` tracked frames plus an initial frame.

    Args:
        sequences: per sequence either its number of frames (``int``, target always visible)
            or a 1-D bool array (True where the target is present).
        length: ``T`` tracked frames (Kim et al. 2022: T = 24 is best).
        max_interval: largest frame interval (Kim et al. 2022: 7 for SiamRPN++, 10 for TransT).
        rng: ``numpy.random.Generator``.

    Sequences are drawn uniformly among those that can hold an episode; the interval is drawn
    uniformly in ``[1, max_interval]`` and reduced to the largest interval that fits the chosen
    sequence; the start is uniform among the starts that fit.

    Returns:
        :class:`Episode`.

    Raises:
        ValueError: if no sequence has ``length + 1`` visible frames.
    """
    check_int(length, "length", minimum=1)
    check_int(max_interval, "max_interval", minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if len(sequences) == 0:
        raise ValueError("sequences is empty")
    visible = [np.flatnonzero(_visibility(s, i)) for i, s in enumerate(sequences)]
    eligible = [i for i, v in enumerate(visible) if v.shape[0] >= length + 1]
    if not eligible:
        longest = max(v.shape[0] for v in visible)
        raise ValueError(
            f"no sequence has length + 1 = {length + 1} visible frames (longest has {longest})"
        )
    seq = int(eligible[int(rng.integers(len(eligible)))])
    frames = visible[seq]
    wanted = int(rng.integers(1, max_interval + 1))
    for interval in range(wanted, 0, -1):
        chains = _chains(frames, length, interval)
        ok = np.flatnonzero((chains >= 0).all(axis=1))
        if ok.size:
            start = int(ok[int(rng.integers(ok.size))])
            return Episode(sequence=seq, frames=frames[chains[start]], interval=interval)
    raise AssertionError("unreachable: interval 1 always fits an eligible sequence")


@dataclass(frozen=True)
class CurriculumConfig:
    """Episode-length curriculum (Dunnhofer et al. 2020, Sec. 3.3: the interaction grows as the
    student beats the teachers; the schedule details are ours since the appendix is not available).

    Attributes:
        initial_length: starting episode length.
        max_length: the length never exceeds this.
        growth: frames added at each promotion.
        patience: consecutive wins needed for a promotion.
        margin: the agent wins when ``agent_score > reference_score + margin``.
    """

    initial_length: int = 2
    max_length: int = 32
    growth: int = 1
    patience: int = 10
    margin: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.initial_length, "initial_length", minimum=1)
        check_int(self.max_length, "max_length", minimum=self.initial_length)
        check_int(self.growth, "growth", minimum=1)
        check_int(self.patience, "patience", minimum=1)


class Curriculum:
    """Grows the episode length when the agent beats a reference ``patience`` times in a row.

    Example::

        cur = Curriculum(CurriculumConfig(initial_length=2, max_length=32))
        length = cur.update(agent_ao, teacher_ao)   # after every episode
    """

    def __init__(self, config: CurriculumConfig | None = None) -> None:
        self.config = config if config is not None else CurriculumConfig()
        self.length = self.config.initial_length
        self.wins = 0

    def update(self, agent_score: float, reference_score: float) -> int:
        """Record one comparison and return the (possibly grown) episode length."""
        a, r = float(agent_score), float(reference_score)
        if not (np.isfinite(a) and np.isfinite(r)):
            raise ValueError(f"scores must be finite, got agent={a}, reference={r}")
        if a > r + self.config.margin:
            self.wins += 1
        else:
            self.wins = 0
        if self.wins >= self.config.patience and self.length < self.config.max_length:
            self.length = min(self.length + self.config.growth, self.config.max_length)
            self.wins = 0
        return self.length
