"""Matchers: hand cases, brute-force optimality, backend agreement, greedy bound, thresholds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import assoc

BACKENDS = ("lap", "scipy")


@st.composite
def cost_matrices(draw: st.DrawFn, max_side: int = 5, allow_inf: bool = True):
    n = draw(st.integers(0, max_side))
    m = draw(st.integers(0, max_side))
    elements = st.floats(-5, 5, width=32)
    if allow_inf:
        elements = elements | st.just(np.inf)
    return draw(arrays(np.float64, (n, m), elements=elements))


thresholds = st.none() | st.floats(-5, 5, width=32)


def objective(cost: np.ndarray, matches: np.ndarray, threshold: float | None) -> float:
    """Sum of (cost - threshold) over matches: what the thresholded Hungarian minimises."""
    values = cost[matches[:, 0], matches[:, 1]]
    return float(np.sum(values - (0.0 if threshold is None else threshold)))


def check_valid(cost: np.ndarray, result: assoc.MatchResult, threshold: float | None) -> None:
    matches, rows, cols = result
    n, m = cost.shape
    assert matches.dtype == rows.dtype == cols.dtype == np.int64
    assert matches.shape[1] == 2
    assert len(set(matches[:, 0])) == len(matches) and len(set(matches[:, 1])) == len(matches)
    assert sorted([*matches[:, 0], *rows]) == list(range(n))
    assert sorted([*matches[:, 1], *cols]) == list(range(m))
    assert np.all(np.diff(matches[:, 0]) > 0)
    values = cost[matches[:, 0], matches[:, 1]]
    assert np.all(np.isfinite(values))
    if threshold is not None:
        assert np.all(values <= threshold)


def brute_force_best(cost: np.ndarray, threshold: float) -> float:
    """Best objective over all partial matchings with admissible pairs."""
    n, m = cost.shape
    best = 0.0
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                values = cost[list(rows), list(cols)]
                if np.all(values <= threshold):
                    best = min(best, float(np.sum(values - threshold)))
    return best


def test_hand_computed() -> None:
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    for backend in BACKENDS:
        # Optimal total 0.35 (0-1, 1-0) beats greedy's 1.0 (0-0, 1-1).
        matches, rows, cols = assoc.hungarian_match(cost, backend=backend)
        np.testing.assert_array_equal(matches, [[0, 1], [1, 0]])
        assert rows.size == cols.size == 0
    np.testing.assert_array_equal(assoc.greedy_match(cost).matches, [[0, 0], [1, 1]])
    # A threshold of 0.5 forbids 1-1, so greedy leaves row 1 unmatched.
    matches, rows, cols = assoc.greedy_match(cost, threshold=0.5)
    np.testing.assert_array_equal(matches, [[0, 0]])
    np.testing.assert_array_equal(rows, [1])
    np.testing.assert_array_equal(cols, [1])


def test_threshold_is_inclusive_and_maximize_mirrors_minimize() -> None:
    cost = np.array([[0.5, 2.0]])
    for backend in BACKENDS:
        assert assoc.hungarian_match(cost, threshold=0.5, backend=backend).matches.tolist() == [
            [0, 0]
        ]
    assert assoc.greedy_match(cost, threshold=0.5).matches.tolist() == [[0, 0]]
    assert assoc.greedy_match(cost, threshold=0.4999).matches.size == 0
    sim = np.array([[0.9, 0.1], [0.8, 0.7]])
    a = assoc.greedy_match(sim, threshold=0.5, maximize=True)
    b = assoc.greedy_match(-sim, threshold=-0.5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert a.matches.tolist() == [[0, 0], [1, 1]]
    h = assoc.hungarian_match(sim, threshold=0.75, maximize=True)
    assert h.matches.tolist() == [[0, 0]]


def test_forbidden_pairs_are_never_matched() -> None:
    cost = np.array([[np.inf, 1.0], [np.inf, 0.5]])
    for backend in BACKENDS:
        result = assoc.hungarian_match(cost, backend=backend)
        assert result.matches.tolist() == [[1, 1]]
        assert result.unmatched_cols.tolist() == [0]
    assert assoc.greedy_match(cost).matches.tolist() == [[1, 1]]
    sim = np.array([[-np.inf, 0.3]])
    assert assoc.greedy_match(sim, maximize=True).matches.tolist() == [[0, 1]]


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
def test_empty(shape: tuple[int, int]) -> None:
    cost = np.zeros(shape)
    for result in (
        assoc.greedy_match(cost, threshold=1.0),
        *(assoc.hungarian_match(cost, threshold=1.0, backend=b) for b in BACKENDS),
        *(assoc.hungarian_match(cost, backend=b) for b in BACKENDS),
    ):
        assert result.matches.shape == (0, 2)
        assert result.unmatched_rows.tolist() == list(range(shape[0]))
        assert result.unmatched_cols.tolist() == list(range(shape[1]))


@given(cost_matrices(), thresholds)
def test_backends_agree_and_beat_greedy(cost: np.ndarray, threshold: float | None) -> None:
    greedy = assoc.greedy_match(cost, threshold=threshold)
    check_valid(cost, greedy, threshold)
    results = [assoc.hungarian_match(cost, threshold=threshold, backend=b) for b in BACKENDS]
    for result in results:
        check_valid(cost, result, threshold)
    if threshold is None:
        # Maximum number of allowed pairs first, then minimum total cost.
        assert len(results[0].matches) == len(results[1].matches) >= len(greedy.matches)
        if len(results[0].matches) == len(greedy.matches):
            assert (
                objective(cost, results[0].matches, None)
                <= objective(cost, greedy.matches, None) + 1e-6
            )
    else:
        assert (
            objective(cost, results[0].matches, threshold)
            <= objective(cost, greedy.matches, threshold) + 1e-6
        )
    assert objective(cost, results[0].matches, threshold) == pytest.approx(
        objective(cost, results[1].matches, threshold), abs=1e-6
    )
    if threshold is None:
        assert len(results[0].matches) == len(results[1].matches)


@given(cost_matrices(max_side=4, allow_inf=False), st.floats(-5, 5, width=32))
def test_hungarian_is_optimal_by_brute_force(cost: np.ndarray, threshold: float) -> None:
    best = brute_force_best(cost, threshold)
    for backend in BACKENDS:
        result = assoc.hungarian_match(cost, threshold=threshold, backend=backend)
        assert objective(cost, result.matches, threshold) == pytest.approx(best, abs=1e-6)


@given(cost_matrices(max_side=4))
def test_unthresholded_hungarian_by_brute_force(cost: np.ndarray) -> None:
    """Most non-forbidden pairs first, then the least total cost."""
    n, m = cost.shape
    best = (0, 0.0)
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                values = cost[list(rows), list(cols)]
                if np.all(np.isfinite(values)):
                    best = min(best, (-k, float(values.sum())))
    for backend in BACKENDS:
        result = assoc.hungarian_match(cost, backend=backend)
        assert len(result.matches) == -best[0]
        assert objective(cost, result.matches, None) == pytest.approx(best[1], abs=1e-6)


@pytest.mark.parametrize("seed", range(20))
def test_backends_give_the_same_assignment_on_generic_costs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 40, size=2)
    cost = rng.uniform(0, 1, size=(n, m))
    for threshold in (None, 0.3, 0.8):
        lap_result = assoc.hungarian_match(cost, threshold=threshold, backend="lap")
        scipy_result = assoc.hungarian_match(cost, threshold=threshold, backend="scipy")
        for x, y in zip(lap_result, scipy_result):
            np.testing.assert_array_equal(x, y)


def test_greedy_is_best_first() -> None:
    rng = np.random.default_rng(1)
    cost = rng.uniform(size=(6, 9))
    matches = assoc.greedy_match(cost).matches
    # Reference: repeatedly take the global minimum of the remaining matrix.
    work = cost.copy()
    expected = []
    for _ in range(6):
        i, j = np.unravel_index(np.argmin(work), work.shape)
        expected.append((int(i), int(j)))
        work[i, :] = np.inf
        work[:, j] = np.inf
    assert sorted(map(tuple, matches.tolist())) == sorted(expected)


@pytest.mark.parametrize("matcher", ["greedy", "lap", "scipy"])
def test_bad_input(matcher: str) -> None:
    def run(cost: object, **kwargs: object) -> object:
        if matcher == "greedy":
            return assoc.greedy_match(cost, **kwargs)
        return assoc.hungarian_match(cost, backend=matcher, **kwargs)

    with pytest.raises(ValueError, match=r"cost.*NaN"):
        run(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"cost.*-inf"):
        run(np.array([[-np.inf]]))
    with pytest.raises(ValueError, match=r"cost.*\+inf"):
        run(np.array([[np.inf]]), maximize=True)
    with pytest.raises(ValueError, match=r"cost.*2-D"):
        run(np.zeros(3))
    with pytest.raises(ValueError, match=r"cost.*dtype"):
        run(np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="threshold"):
        run(np.zeros((2, 2)), threshold=np.inf)
    with pytest.raises(ValueError, match="threshold"):
        run(np.zeros((2, 2)), threshold="0.5")
    with pytest.raises(ValueError, match="maximize"):
        run(np.zeros((2, 2)), maximize=1)
    with pytest.raises(ValueError, match="backend"):
        assoc.hungarian_match(np.zeros((2, 2)), backend="munkres")  # type: ignore[arg-type]


@given(
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 2**31 - 1),
    st.floats(0.1, 1.0),
)
def test_unchecked_pairs_reach_hungarian_match_optimum(n: int, m: int, seed: int, limit: float):
    """The trackers' hot-path matcher solves the same thresholded problem."""
    from assoc._matching import hungarian_pairs_unchecked

    rng = np.random.default_rng(seed)
    cost = rng.random((n, m))
    cost[rng.random((n, m)) < 0.3] = np.inf
    rows, cols = hungarian_pairs_unchecked(cost, limit)
    reference = assoc.hungarian_match(cost, threshold=limit).matches
    assert len(set(rows.tolist())) == rows.size and len(set(cols.tolist())) == cols.size
    assert np.all(cost[rows, cols] <= limit)

    def objective(r, c):
        return float(np.sum(limit - cost[r, c]))

    assert objective(rows, cols) == pytest.approx(
        objective(reference[:, 0], reference[:, 1]), abs=1e-9
    )


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 2**31 - 1),
    st.floats(0.1, 1.0),
    st.booleans(),
)
def test_mutual_best_shortcut_is_exactly_the_solvers_assignment(
    n: int, m: int, seed: int, limit: float, ties: bool
) -> None:
    """Where the shortcut applies it returns the assignment both solvers return; with ties it
    steps aside (``None``)."""
    from assoc._matching import _mutual_best

    rng = np.random.default_rng(seed)
    cost = rng.random((n, m))
    if ties:
        cost = np.round(cost * 3) / 3  # few distinct values: ties in rows and columns
    cost[rng.random((n, m)) < 0.3] = np.inf
    admissible = cost <= limit
    row_degree = admissible.sum(axis=1)
    if not admissible.any():
        return
    shortcut = _mutual_best(cost, row_degree)
    if shortcut is None:
        return
    pairs = sorted(zip(shortcut[0].tolist(), shortcut[1].tolist()))
    for backend in BACKENDS:
        reference = assoc.hungarian_match(cost, threshold=limit, backend=backend).matches
        assert pairs == [tuple(p) for p in reference.tolist()]
