"""benchmarks/retinatrack_smooth.py and retinatrack.py --smooth: the round-8 rule
(docs/history/mot.md)."""

from collections.abc import Callable
from types import ModuleType

import pytest


def test_choose_tau0_best_ties_to_off_then_the_smaller(
    bench_script: Callable[[str], ModuleType],
) -> None:
    choose = bench_script("retinatrack_smooth").choose_tau0
    assert choose({0.0: 0.615, 5.0: 0.617, 10.0: 0.625, 20.0: 0.570}) == 10.0
    assert choose({0.0: 0.6151, 5.0: 0.6149, 10.0: 0.61}) == 0.0  # a tie: off
    assert choose({0.0: 0.61, 5.0: 0.6204, 10.0: 0.6196, 20.0: 0.6}) == 5.0  # tie: smaller
    with pytest.raises(ValueError, match="need off"):
        choose({5.0: 0.6, 10.0: 0.7})


def test_summary_compares_each_kind_with_public_sort(
    bench_script: Callable[[str], ModuleType],
) -> None:
    bench = bench_script("retinatrack")
    name = bench.RETINATRACK_VALIDATION_SEQUENCES[0]
    tags = ["raw", "G=10, N=1", "G=10, N=1, tau0=10"]
    assert bench._post_tag([10, 1], 10.0) == tags[2] and bench._post_tag([10, 1]) == tags[1]
    rows = []
    for px, label, hotas in (
        (512, "(e)", (0.41, 0.44, 0.46)),
        (512, "(b)", (0.31, 0.30, 0.28)),
        ("-", "public", (0.45, 0.45, 0.456)),
    ):
        for tag, h in zip(tags, hotas, strict=True):
            rows.append({"sequence": name, "input px": px, "post": tag, "tracker": label,
                         "HOTA": h, "IDF1": 0.5, "MOTA": 0.3})  # fmt: skip
    lines = bench._post_summary(rows, [10, 1], 10.0)
    assert len(lines) == 3
    assert "raw: best tracker of ours (e) at 512 px, HOTA 0.410" in lines[0]
    assert "(G=10, N=1, tau0=10): best tracker of ours (e) at 512 px, HOTA 0.460" in lines[2]
    assert lines[2].endswith("raw 0.450, G=10, N=1 0.450, G=10, N=1, tau0=10 0.456.")
    assert len(bench._post_summary([r for r in rows if "tau0" not in r["post"]], [10, 1])) == 2
