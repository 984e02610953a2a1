"""benchmarks/tras_ablation_seeds.py: the seed-dirs parser and the 'resolved' rule."""

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def test_parse_seed_dirs(bench_script: Callable[[str], ModuleType]) -> None:
    mod = bench_script("tras_ablation_seeds")
    assert mod.parse_seed_dirs(["0=a/b", "1=c"]) == {0: Path("a/b"), 1: Path("c")}
    for bad in (["a/b"], ["x=a"], ["0="], ["0=a", "0=b"], []):
        with pytest.raises(ValueError, match="seed"):
            mod.parse_seed_dirs(bad)


def test_compare_resolved_and_unresolved(bench_script: Callable[[str], ModuleType]) -> None:
    mod = bench_script("tras_ablation_seeds")
    # ours 0.30, 0.32 (spread 0.02); other 0.20, 0.21 (spread 0.01): +0.105, same sign, resolved
    mean_diff, diffs, same, resolved = mod.compare({0: 0.30, 1: 0.32}, {0: 0.20, 1: 0.21})
    assert mean_diff == pytest.approx(0.105)
    assert diffs == pytest.approx({0: 0.10, 1: 0.11})
    assert same and resolved
    # same sign but the difference (0.02) is inside ours' seed spread (0.10): not resolved
    mean_diff, _, same, resolved = mod.compare({0: 0.20, 1: 0.30}, {0: 0.19, 1: 0.27})
    assert mean_diff == pytest.approx(0.02)
    assert same and not resolved
    # signs disagree between seeds: not resolved, even though the means differ a lot
    mean_diff, _, same, resolved = mod.compare({0: 0.50, 1: 0.20}, {0: 0.10, 1: 0.25})
    assert mean_diff == pytest.approx(0.175)
    assert not same and not resolved
    # only the seeds both have count; fewer than two is an error
    with pytest.raises(ValueError, match="two common seeds"):
        mod.compare({0: 0.3, 1: 0.3}, {0: 0.2})


def test_compare_three_seeds(bench_script: Callable[[str], ModuleType]) -> None:
    mod = bench_script("tras_ablation_seeds")
    ours = {0: 0.30, 1: 0.26, 2: 0.28}  # range 0.04 (max - min over all three, not pairwise)
    # +0.06, +0.05, +0.07: same sign, mean +0.06 > max range 0.04 -> resolved
    mean_diff, diffs, same, resolved = mod.compare(ours, {0: 0.24, 1: 0.21, 2: 0.21})
    assert mean_diff == pytest.approx(0.06)
    assert diffs == pytest.approx({0: 0.06, 1: 0.05, 2: 0.07})
    assert same and resolved
    # one seed of three against the others: not resolved however large the mean
    mean_diff, _, same, resolved = mod.compare(ours, {0: 0.10, 1: 0.10, 2: 0.29})
    assert mean_diff > 0.1
    assert not same and not resolved
    # same sign on all three, but the other objective's range (0.12) exceeds the mean (0.05)
    mean_diff, _, same, resolved = mod.compare(ours, {0: 0.29, 1: 0.17, 2: 0.23})
    assert mean_diff == pytest.approx(0.05)
    assert same and not resolved
    # a zero per-seed difference is no agreement in sign
    _, _, same, resolved = mod.compare(ours, {0: 0.30, 1: 0.10, 2: 0.10})
    assert not same and not resolved
