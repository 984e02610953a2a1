"""benchmarks/tras_value_ema.py: the round-7 selection rule (docs/tras.md)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tras_value_ema.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tras_value_ema", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["tras_value_ema"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_choose_alpha_best_ties_to_the_smaller_and_must_beat_the_shipped() -> None:
    choose = _script().choose_alpha
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
