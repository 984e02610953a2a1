"""benchmarks/tras_value_ema.py: the round-7 selection rule (docs/tras.md)."""

from collections.abc import Callable
from types import ModuleType

import pytest


def test_choose_alpha_best_ties_to_the_smaller_and_must_beat_the_shipped(
    bench_script: Callable[[str], ModuleType],
) -> None:
    choose = bench_script("tras_value_ema").choose_alpha
    assert choose({0.0: 0.649, 0.5: 0.65, 0.8: 0.66, 0.95: 0.655}) == (0.8, True)
    # equal to 4 decimals: the smaller alpha
    assert choose({0.0: 0.6, 0.5: 0.61231, 0.8: 0.61234, 0.95: 0.6}) == (0.5, True)
    # the best grid value only ties or trails the shipped fusion: no pass
    assert choose({0.0: 0.649, 0.5: 0.64904, 0.8: 0.60, 0.95: 0.62}) == (0.5, False)
    assert choose({0.0: 0.649, 0.5: 0.63, 0.8: 0.64, 0.95: 0.62}) == (0.8, False)
    with pytest.raises(ValueError, match="alpha 0"):
        choose({0.5: 0.6, 0.8: 0.7})
    with pytest.raises(ValueError, match="grid value"):
        choose({0.0: 0.6})
