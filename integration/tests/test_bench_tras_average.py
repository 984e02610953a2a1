"""benchmarks/tras_average.py: the round-11 selection rule (docs/tras.md)."""

from collections.abc import Callable
from types import ModuleType

import pytest


def test_choose_setting_best_ties_and_the_gain_over_off(
    bench_script: Callable[[str], ModuleType],
) -> None:
    bench = bench_script("tras_average")
    settings = bench.grid([0.5, 0.8], 0.1)
    assert list(settings) == [
        "off",
        "tau 0.5, equal",
        "tau 0.5, softmax T=0.1",
        "tau 0.8, equal",
        "tau 0.8, softmax T=0.1",
    ]
    assert settings["tau 0.8, softmax T=0.1"] == (0.8, 0.1)

    def choose(**auc: float) -> tuple[str, bool]:
        names = ["off", "tau 0.5, equal", "tau 0.5, softmax T=0.1", "tau 0.8, equal",
                 "tau 0.8, softmax T=0.1"]  # fmt: skip
        return bench.choose_setting(dict(zip(names, auc.values())), settings, 0.005)

    assert choose(o=0.649, a=0.650, b=0.656, c=0.652, d=0.653) == ("tau 0.5, softmax T=0.1", True)
    # a gain of 0.0049: the candidate, not chosen
    assert choose(o=0.649, a=0.6539, b=0.650, c=0.652, d=0.653) == ("tau 0.5, equal", False)
    # equal to 4 decimals: equal weights first, then the larger tau
    assert choose(o=0.6, a=0.61231, b=0.61234, c=0.61229, d=0.6) == ("tau 0.8, equal", True)
    assert choose(o=0.6, a=0.61231, b=0.61234, c=0.6, d=0.6) == ("tau 0.5, equal", True)
    with pytest.raises(ValueError, match="'off'"):
        bench.choose_setting({"tau 0.5, equal": 0.6}, settings, 0.005)
