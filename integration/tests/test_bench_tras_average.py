"""benchmarks/tras_average.py: the round-11 selection rule (docs/history/tras.md)."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

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


def test_round_stages_choose_and_evaluate_the_candidate(
    fake_tras_round: Callable[..., tuple[dict[str, Any], str]],
) -> None:
    record, report = fake_tras_round("tras_average", "--stage", "holdout", "--taus", "0.5,0.8")
    h = record["holdout"]
    assert h["command"] == (
        "python benchmarks/tras_average.py --stage holdout --taus 0.5,0.8 --temperature 0.1"
    )
    assert list(h["fusion"]) == [
        "off",
        "tau 0.5, equal",
        "tau 0.5, softmax T=0.1",
        "tau 0.8, equal",
        "tau 0.8, softmax T=0.1",
    ]
    assert h["fusion"]["tau 0.8, softmax T=0.1"]["average_temperature"] == 0.1
    assert h["fusion"]["tau 0.8, equal"]["average_temperature"] is None  # equal: inf replayed
    assert h["fusion"]["tau 0.8, equal"]["mean_auc"] == pytest.approx(0.616 + 0.004)
    assert (h["candidate"], h["chosen"], h["min_gain"]) == ("tau 0.8, equal", True, 0.005)
    assert "candidate `tau 0.8, equal` (0.6200) against `off` 0.6040" in report
    assert "(gain +0.0160, needed >= 0.005): **chosen**." in report
    record, report = fake_tras_round("tras_average", "--stage", "eval")
    assert list(record["eval"]["fusion"]) == ["off", "tau 0.8, equal"]
    assert record["eval"]["fusion"]["tau 0.8, equal"]["mean_auc"] == pytest.approx(0.617)
    assert "| **mean** | **0.601** | **0.617** |" in report
    with pytest.raises(SystemExit, match="already holds"):
        fake_tras_round("tras_average", "--stage", "eval")
