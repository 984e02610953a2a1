"""Bipartite matching of rows (tracks) to columns (detections) on a cost matrix.

Conventions shared by both matchers:

* ``cost[i, j]`` is the cost of matching row ``i`` to column ``j``; lower is better.
  ``+inf`` marks a forbidden pair. With ``maximize=True`` the matrix is a similarity instead
  (higher is better, ``-inf`` forbidden) and ``threshold`` is the minimum similarity.
* ``threshold`` is the **largest cost a match may have** (inclusive): pairs with
  ``cost > threshold`` are never returned. ``None`` means no threshold.
* Both return ``MatchResult(matches[K, 2], unmatched_rows[N - K], unmatched_cols[M - K])``,
  all ``int64``, ``matches`` sorted by row, unmatched indices ascending.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import lap
import numpy as np
from scipy.optimize import linear_sum_assignment

from ._validate import FloatArray, IntArray, as_real_array, check_threshold


class MatchResult(NamedTuple):
    """Result of a matcher: a tuple ``(matches, unmatched_rows, unmatched_cols)``.

    ``matches`` is ``Array[K, 2]`` int64 of ``(row, col)`` pairs sorted by row; the unmatched
    arrays are int64 and ascending.
    """

    matches: IntArray
    unmatched_rows: IntArray
    unmatched_cols: IntArray


def _prepare(
    cost: Any, threshold: Any, maximize: bool
) -> tuple[FloatArray, float | None, np.ndarray]:
    """Validate and turn a maximisation into a minimisation; return the admissible mask."""
    if not isinstance(maximize, bool):
        raise ValueError(f"maximize must be a bool, got {maximize!r}")
    limit = check_threshold("threshold", threshold)
    matrix = as_real_array("cost", cost)
    if matrix.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {matrix.shape}")
    if np.any(np.isnan(matrix)):
        raise ValueError("cost must not hold NaN")
    wrong, forbidden = (np.inf, "-inf") if maximize else (-np.inf, "+inf")
    if np.any(matrix == wrong):
        raise ValueError(
            f"cost must not hold {'+inf' if maximize else '-inf'} with maximize={maximize}; "
            f"{forbidden} marks a forbidden pair"
        )
    if maximize:
        matrix = -matrix
        limit = None if limit is None else -limit
    admissible = np.isfinite(matrix)
    if limit is not None:
        admissible &= matrix <= limit
    return matrix, limit, admissible


def _result(n: int, m: int, rows: np.ndarray, cols: np.ndarray) -> MatchResult:
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    matches = np.stack([rows[order], cols[order]], axis=1).reshape(-1, 2)
    row_free = np.ones(n, dtype=bool)
    row_free[rows] = False
    col_free = np.ones(m, dtype=bool)
    col_free[cols] = False
    return MatchResult(
        matches,
        np.flatnonzero(row_free).astype(np.int64),
        np.flatnonzero(col_free).astype(np.int64),
    )


def greedy_match(
    cost: Any, *, threshold: float | None = None, maximize: bool = False
) -> MatchResult:
    """Best-first greedy bipartite matching (RetinaTrack's matcher, Lu et al. 2020, sec. 3.5).

    Repeatedly takes the cheapest admissible pair whose row and column are both still free.
    Ties are broken by row, then column, so the result is deterministic.

    Args:
        cost: ``Array[N, M]`` cost (or similarity if ``maximize``); ``+inf`` forbids a pair.
        threshold: largest admissible cost, inclusive (smallest similarity if ``maximize``);
            ``None`` admits every finite pair.
        maximize: treat ``cost`` as a similarity to maximise (same as passing ``-similarity``
            and ``-threshold``).

    Returns:
        :class:`MatchResult` ``(matches[K, 2], unmatched_rows, unmatched_cols)``.

    Raises:
        ValueError: ``cost`` is not 2-D, is not real, or holds NaN / the wrong infinity;
            ``threshold`` is not a finite number.
    """
    matrix, _, admissible = _prepare(cost, threshold, maximize)
    n, m = matrix.shape
    cand_rows, cand_cols = np.nonzero(admissible)
    order = np.lexsort((cand_cols, cand_rows, matrix[cand_rows, cand_cols]))
    row_used = np.zeros(n, dtype=bool)
    col_used = np.zeros(m, dtype=bool)
    rows: list[int] = []
    cols: list[int] = []
    capacity = min(n, m)
    for i, j in zip(cand_rows[order].tolist(), cand_cols[order].tolist()):
        if row_used[i] or col_used[j]:
            continue
        row_used[i] = True
        col_used[j] = True
        rows.append(i)
        cols.append(j)
        if len(rows) == capacity:
            break
    return _result(n, m, np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))


def _augmented(matrix: FloatArray, admissible: np.ndarray, limit: float) -> FloatArray:
    """Square ``(N+M)`` problem in which leaving a row or column unmatched costs ``limit / 2``.

    A real pair is then worth matching only if it costs at most ``limit``; pairs above the
    limit are replaced by a finite value that is never worth taking.
    """
    n, m = matrix.shape
    blocked = limit + max(1.0, abs(limit))
    work = np.where(admissible, matrix, blocked)
    shift = min(float(work.min()), limit)  # a common shift keeps the optimum, costs >= 0
    work = work - shift
    # A hair above limit / 2 so that a pair costing exactly `limit` is matched (inclusive).
    half = (limit - shift) / 2.0 + 1e-9 * max(1.0, limit - shift)
    size = n + m
    augmented = np.full((size, size), half)
    augmented[:n, :m] = work
    augmented[n:, m:] = 0.0
    return augmented


def _unthresholded(matrix: FloatArray, admissible: np.ndarray) -> FloatArray:
    """Rectangular problem where forbidden pairs cost more than any set of allowed ones."""
    finite = matrix[admissible]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
    else:
        low = high = 0.0
    span = high - low + 1.0
    blocked = high + span * (min(matrix.shape) + 1) * 2.0
    return np.where(admissible, matrix, blocked) - low


def hungarian_match(
    cost: Any,
    *,
    threshold: float | None = None,
    backend: Literal["lap", "scipy"] = "lap",
    maximize: bool = False,
) -> MatchResult:
    """Optimal bipartite matching (Kuhn 1955; SORT, Bewley et al. 2016, uses it on ``1 - IoU``).

    With a ``threshold`` ``t`` the matching minimises
    ``sum(cost[i, j] for matches) + t / 2 * (#unmatched rows + #unmatched cols)``, i.e. it
    maximises ``sum(t - cost)`` over the matches: a pair is worth matching only if it costs
    at most ``t`` and pairs above ``t`` are never matched (a pair costing exactly ``t`` is
    matched: the unmatched penalty is raised by a relative 1e-9 to break that tie). Without a
    threshold it is the minimum-cost matching among those with the most non-forbidden pairs.
    Both backends solve the same problem, so they agree on the optimum (and on the assignment
    when it is unique).

    Args:
        cost: ``Array[N, M]`` cost (or similarity if ``maximize``); ``+inf`` forbids a pair.
            Rectangular and empty matrices are fine.
        threshold: largest admissible cost, inclusive (smallest similarity if ``maximize``);
            ``None`` admits every finite pair.
        backend: ``"lap"`` (Jonker-Volgenant ``lap.lapjv``) or ``"scipy"``
            (``scipy.optimize.linear_sum_assignment``).
        maximize: treat ``cost`` as a similarity to maximise.

    Returns:
        :class:`MatchResult` ``(matches[K, 2], unmatched_rows, unmatched_cols)``.

    Raises:
        ValueError: as for :func:`greedy_match`, or an unknown ``backend``.
    """
    if backend not in ("lap", "scipy"):
        raise ValueError(f"backend must be 'lap' or 'scipy', got {backend!r}")
    matrix, limit, admissible = _prepare(cost, threshold, maximize)
    n, m = matrix.shape
    empty = np.zeros(0, dtype=np.int64)
    if n == 0 or m == 0 or not admissible.any():
        return _result(n, m, empty, empty)
    # Rows/columns without an admissible pair are unmatched in every optimum, and a pair that
    # is the only admissible entry of both its row and its column is its own component of the
    # bipartite graph and matched in an optimum: solve only the rest (SORT's shortcut, made
    # exact).
    row_degree = admissible.sum(axis=1)
    col_degree = admissible.sum(axis=0)
    lone = admissible & (row_degree == 1)[:, None] & (col_degree == 1)[None, :]
    lone_rows, lone_cols = np.nonzero(lone)
    rest_rows = np.flatnonzero((row_degree > 0) & ~lone.any(axis=1))
    rest_cols = np.flatnonzero((col_degree > 0) & ~lone.any(axis=0))
    rows, cols = empty, empty
    if rest_rows.size and rest_cols.size:
        sub = matrix[np.ix_(rest_rows, rest_cols)]
        sub_admissible = admissible[np.ix_(rest_rows, rest_cols)]
        sub_rows, sub_cols = _solve(sub, sub_admissible, limit, backend)
        rows, cols = rest_rows[sub_rows], rest_cols[sub_cols]
    rows = np.concatenate([lone_rows, rows])
    cols = np.concatenate([lone_cols, cols])
    return _result(n, m, rows, cols)


def _solve(
    matrix: FloatArray, admissible: np.ndarray, limit: float | None, backend: str
) -> tuple[IntArray, IntArray]:
    """Solve one (reduced) problem; return admissible matched ``(rows, cols)``."""
    n, m = matrix.shape
    if limit is not None:
        problem = _augmented(matrix, admissible, limit)
        if backend == "lap":
            _, row_to_col, _ = lap.lapjv(problem, extend_cost=False)
            rows = np.arange(problem.shape[0])
            cols = np.asarray(row_to_col)
        else:
            rows, cols = linear_sum_assignment(problem)
    else:
        problem = _unthresholded(matrix, admissible)
        if backend == "lap":
            _, row_to_col, _ = lap.lapjv(problem, extend_cost=True)
            rows = np.arange(n)
            cols = np.asarray(row_to_col)
        else:
            rows, cols = linear_sum_assignment(problem)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    real = (rows < n) & (cols >= 0) & (cols < m)
    rows, cols = rows[real], cols[real]
    keep = admissible[rows, cols]
    return rows[keep], cols[keep]


def hungarian_pairs_unchecked(
    matrix: FloatArray, limit: float, backend: str = "lap"
) -> tuple[IntArray, IntArray]:
    """:func:`hungarian_match` with a threshold on a validated cost (trackers' hot path).

    ``matrix`` holds finite costs or ``+inf``; returns the matched ``(rows, cols)``, unsorted.
    Same optimum as :func:`hungarian_match` (same reduction and solver).
    """
    admissible = matrix <= limit
    if not admissible.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    row_degree = admissible.sum(axis=1)
    col_degree = admissible.sum(axis=0)
    if row_degree.max() == 1 and col_degree.max() == 1:  # only lone pairs: nothing to solve
        rows, cols = np.nonzero(admissible)
        return rows.astype(np.int64), cols.astype(np.int64)
    mutual = _mutual_best(matrix, row_degree)
    if mutual is not None:
        return mutual
    lone = admissible & (row_degree == 1)[:, None] & (col_degree == 1)[None, :]
    lone_rows, lone_cols = np.nonzero(lone)
    rest_rows = np.flatnonzero((row_degree > 0) & ~lone.any(axis=1))
    rest_cols = np.flatnonzero((col_degree > 0) & ~lone.any(axis=0))
    sub = matrix[rest_rows][:, rest_cols]
    sub_admissible = sub <= limit
    shortcut = _mutual_best(sub, sub_admissible.sum(axis=1))
    if shortcut is not None:
        sub_rows, sub_cols = shortcut
    else:
        sub_rows, sub_cols = _solve(sub, sub_admissible, limit, backend)
    rows = np.concatenate([lone_rows, rest_rows[sub_rows]]).astype(np.int64)
    cols = np.concatenate([lone_cols, rest_cols[sub_cols]]).astype(np.int64)
    return rows, cols


def _mutual_best(matrix: FloatArray, row_degree: IntArray) -> tuple[IntArray, IntArray] | None:
    """The optimum of the thresholded problem when it is plain to see, else ``None``.

    If every row with an admissible pair has a *strictly* cheapest column, and no two of these
    rows share it (each such column's cheapest row is that row), matching every such row to
    its cheapest column is the unique optimum: any other matching gives some row a strictly
    dearer column or leaves out a pair worth ``t - cost >= 0``. The solvers would return the
    same assignment, so this is an exact shortcut, not a heuristic.
    """
    rows = np.flatnonzero(row_degree)
    sub = matrix[rows]
    cols = sub.argmin(axis=1)
    if not np.array_equal(matrix[:, cols].argmin(axis=0), rows):
        return None
    best = sub[np.arange(rows.size), cols]
    if np.count_nonzero(sub == best[:, None]) != rows.size:  # a tie in some row
        return None
    return rows.astype(np.int64), cols.astype(np.int64)
