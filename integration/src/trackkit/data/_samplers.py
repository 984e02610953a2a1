"""Training samplers: pure index logic over per-sequence validity masks and MOT rows.

Each sampler takes a ``numpy.random.Generator`` and returns integer index arrays; loading and
cropping the frames is left to the caller (see :func:`crop_and_resize`).
"""

from __future__ import annotations

from collections.abc import Sequence as AbcSequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EpisodeIndex",
    "IdentityTasks",
    "PairIndex",
    "sample_episodes",
    "sample_identity_tasks",
    "sample_pairs",
]


def _masks(valid: AbcSequence[ArrayLike]) -> list[NDArray[np.bool_]]:
    masks = [np.asarray(v, dtype=bool).reshape(-1) for v in valid]
    if not masks:
        raise ValueError("valid is empty: need at least one sequence")
    return masks


@dataclass(frozen=True)
class PairIndex:
    """Image pairs ``[N]``: ``(seq_a[i], frame_a[i])`` and ``(seq_b[i], frame_b[i])``.

    ``same_sequence[i]`` is False for negative pairs (the second image shows another target).
    """

    seq_a: NDArray[np.int64]
    frame_a: NDArray[np.int64]
    seq_b: NDArray[np.int64]
    frame_b: NDArray[np.int64]

    @property
    def same_sequence(self) -> NDArray[np.bool_]:
        """True where both images come from the same sequence."""
        return self.seq_a == self.seq_b

    def __len__(self) -> int:
        return int(self.seq_a.shape[0])


def sample_pairs(
    valid: AbcSequence[ArrayLike],
    num_pairs: int,
    *,
    rng: np.random.Generator,
    max_gap: int = 100,
    different_sequence_prob: float = 0.2,
    stride: int | AbcSequence[int] = 1,
    groups: ArrayLike | None = None,
    weighting: str = "sequence",
) -> PairIndex:
    """Sample training image pairs as in Retina-/FCOS-MAML (Wang et al. 2020, sec. 3.2).

    "These two images may come from either the same sequence or different sequences"
    (following DaSiamRPN, Zhu et al. 2018). A same-sequence pair takes two valid frames at most
    ``max_gap`` apart; with probability ``different_sequence_prob`` the second image comes from
    another sequence (a negative pair; needs sequences of at least two groups).

    Args:
        valid: per sequence, ``bool [T_s]`` frames with a visible, annotated target.
        num_pairs: number of pairs ``N``.
        rng: random generator.
        max_gap: largest frame distance within a pair.
        different_sequence_prob: share of negative pairs.
        stride: keep only every ``stride``-th frame (per sequence or one for all); the paper
            samples LaSOT every 3rd and TrackingNet every 10th frame.
        groups: ``int [S]`` group of each sequence (e.g. its video: the identities of one MOT
            video are separate sequences that show each other); a negative pair's second image
            comes from a sequence of another group. Default: every sequence its own group.
        weighting: ``"sequence"`` (default) draws the first image's sequence uniformly, then a
            frame, and a negative's sequence uniformly among the other groups' sequences;
            ``"frame"`` draws every image uniformly among all usable frames (long sequences
            weigh more).
    """
    masks = _masks(valid)
    if num_pairs < 0 or max_gap < 0 or not 0 <= different_sequence_prob <= 1:
        raise ValueError("need num_pairs >= 0, max_gap >= 0, 0 <= different_sequence_prob <= 1")
    if weighting not in ("sequence", "frame"):
        raise ValueError(f"weighting must be 'sequence' or 'frame', got {weighting!r}")
    strides = [int(stride)] * len(masks) if isinstance(stride, int) else [int(s) for s in stride]
    if len(strides) != len(masks) or min(strides) < 1:
        raise ValueError(f"stride must be >= 1, one value or one per sequence, got {stride!r}")
    group = np.arange(len(masks)) if groups is None else np.asarray(groups).reshape(-1)
    if group.shape != (len(masks),):
        raise ValueError(
            f"groups must hold one value per sequence ({len(masks)}), got {group.shape}"
        )
    frames = []
    for m, s in zip(masks, strides):
        keep = np.zeros_like(m)
        keep[::s] = True
        frames.append(np.flatnonzero(m & keep))
    usable = np.array([f.size >= 1 for f in frames])
    if not usable.any():
        raise ValueError("no sequence has a valid frame")
    seq_ids = np.flatnonzero(usable)
    if weighting == "frame":
        all_seq = np.concatenate([np.full(frames[s].size, s) for s in seq_ids])
        all_frame = np.concatenate([frames[s] for s in seq_ids])
        first = rng.integers(all_seq.size, size=num_pairs)
        seq_a = all_seq[first]
    else:
        seq_a = rng.choice(seq_ids, size=num_pairs)
    negative = rng.random(num_pairs) < different_sequence_prob
    if np.unique(group[seq_ids]).size < 2:
        negative[:] = False
    fa = np.empty(num_pairs, dtype=np.int64)
    sb = seq_a.copy()
    fb = np.empty(num_pairs, dtype=np.int64)
    for i in range(num_pairs):
        cand = frames[seq_a[i]]
        fa[i] = all_frame[first[i]] if weighting == "frame" else cand[rng.integers(cand.size)]
        if negative[i] and weighting == "frame":
            other = np.flatnonzero(group[all_seq] != group[seq_a[i]])
            j = other[rng.integers(other.size)]
            sb[i], fb[i] = all_seq[j], all_frame[j]
        elif negative[i]:
            other = seq_ids[group[seq_ids] != group[seq_a[i]]]
            sb[i] = other[rng.integers(other.size)]
            cb = frames[sb[i]]
            fb[i] = cb[rng.integers(cb.size)]
        else:
            near = cand[np.abs(cand - fa[i]) <= max_gap]
            fb[i] = near[rng.integers(near.size)]
    return PairIndex(seq_a.astype(np.int64), fa, sb.astype(np.int64), fb)


@dataclass(frozen=True)
class EpisodeIndex:
    """Episodes ``[E]``: sequence, template frame, ``frames [E, T]`` and the frame interval."""

    sequence: NDArray[np.int64]
    template: NDArray[np.int64]
    frames: NDArray[np.int64]
    interval: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.sequence.shape[0])


def sample_episodes(
    valid: AbcSequence[ArrayLike],
    num_episodes: int,
    *,
    rng: np.random.Generator,
    length: int = 24,
    max_interval: int = 7,
) -> EpisodeIndex:
    """Sample tracking episodes for sequence-level training (SLT, Kim et al. 2022, sec. 3.4).

    Each episode is ``length`` frames ``f0, f0 + k, ..., f0 + (length-1) k`` of one sequence
    with a random interval ``k`` in ``1 .. max_interval`` (frame-interval augmentation; T = 24
    and max interval 7 for SiamRPN++ in the paper), and a template frame ``f0`` whose target
    is valid. ``k`` is capped so the episode fits the sequence; sequences shorter than
    ``length`` frames are never picked.
    """
    masks = _masks(valid)
    if length < 1 or max_interval < 1 or num_episodes < 0:
        raise ValueError("need length >= 1, max_interval >= 1, num_episodes >= 0")
    lengths = np.array([m.size for m in masks])
    ok = [s for s, m in enumerate(masks) if m.size >= length and m[: m.size - length + 1].any()]
    if not ok:
        raise ValueError(f"no sequence has {length} frames after a valid template frame")
    seq = rng.choice(np.array(ok), size=num_episodes)
    intervals = rng.integers(1, max_interval + 1, size=num_episodes)
    starts = np.empty(num_episodes, dtype=np.int64)
    for i in range(num_episodes):
        m = masks[seq[i]]
        while True:  # shrink the interval until a valid start exists (k = 1 always works)
            span = (length - 1) * intervals[i]
            cand = np.flatnonzero(m[: max(lengths[seq[i]] - span, 0)])
            if cand.size:
                break
            intervals[i] -= 1
        starts[i] = cand[rng.integers(cand.size)]
    frames = starts[:, None] + intervals[:, None] * np.arange(length)[None, :]
    return EpisodeIndex(seq.astype(np.int64), starts, frames, intervals.astype(np.int64))


@dataclass(frozen=True)
class IdentityTasks:
    """Meta-learning tasks ``[K]``: ``support [K, k]`` and ``query [K]`` row indices."""

    identity: NDArray[np.int64]
    support: NDArray[np.int64]
    query: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.query.shape[0])


def sample_identity_tasks(
    identities: ArrayLike,
    frames: ArrayLike,
    num_tasks: int,
    *,
    rng: np.random.Generator,
    support_size: int = 4,
    max_span: int | None = None,
) -> IdentityTasks:
    """Sample identity tasks for MAML-MOT (Fig. 3 / eq. 1: ``T_i = (S_i, Q_i)``).

    A task is one identity: ``support_size`` detections from distinct frames form the support
    set and one detection from yet another frame the query; all from the same sub-sequence.

    Args:
        identities: ``int [N]`` identity key of every detection row; make keys unique across
            sequences yourself (e.g. ``seq * 100000 + id``).
        frames: ``int [N]`` frame of every row.
        num_tasks: number of tasks; identities are drawn uniformly among those with at least
            ``support_size + 1`` frames (with replacement).
        rng: random generator.
        support_size: ``k``.
        max_span: if given, all frames of a task lie within this many frames (a sub-sequence).

    Returns row indices into the inputs.
    """
    ids = np.asarray(identities, dtype=np.int64).reshape(-1)
    fr = np.asarray(frames, dtype=np.int64).reshape(-1)
    if ids.shape != fr.shape:
        raise ValueError(f"identities {ids.shape} and frames {fr.shape} differ in length")
    if support_size < 1 or num_tasks < 0:
        raise ValueError("need support_size >= 1 and num_tasks >= 0")
    need = support_size + 1
    order = np.lexsort((fr, ids))
    uniq, starts, counts = np.unique(ids[order], return_index=True, return_counts=True)
    rows_of: dict[int, NDArray[np.int64]] = {}
    window_starts: dict[int, NDArray[np.int64]] = {}
    for u, s, c in zip(uniq, starts, counts):
        rows = order[s : s + c]
        _, first = np.unique(fr[rows], return_index=True)
        rows = rows[first]  # one row per frame, in frame order
        f = fr[rows]
        if max_span is None:
            ok = np.array([0]) if rows.size >= need else np.zeros(0, dtype=np.int64)
        else:
            ends = np.searchsorted(f, f + max_span)  # rows j.. end-1 lie within the span
            ok = np.flatnonzero(ends - np.arange(rows.size) >= need)
        if ok.size:
            rows_of[int(u)] = rows
            window_starts[int(u)] = ok
    if not rows_of:
        raise ValueError(
            f"no identity appears in {need} different frames"
            + (f" within {max_span} frames" if max_span is not None else "")
        )
    chosen = rng.choice(np.array(sorted(rows_of)), size=num_tasks)
    support = np.empty((num_tasks, support_size), dtype=np.int64)
    query = np.empty(num_tasks, dtype=np.int64)
    for i, u in enumerate(chosen):
        rows = rows_of[int(u)]
        if max_span is not None:
            j = window_starts[int(u)][rng.integers(window_starts[int(u)].size)]
            f = fr[rows]
            rows = rows[(f >= f[j]) & (f < f[j] + max_span)]
        pick = rng.choice(rows, size=need, replace=False)
        support[i] = pick[:support_size]
        query[i] = pick[support_size]
    return IdentityTasks(chosen.astype(np.int64), support, query)
