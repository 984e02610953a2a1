"""TRASFUST with the boxes of agreeing teachers averaged (round 11 of docs/history/tras.md).

TRASFUST (Dunnhofer et al. 2020, eq. 8) outputs the box of the teacher whose state has the
highest value. ``TRASTracker(average_iou=tau, average_temperature=T)``
(``distill.fuse_by_value(average_iou=, average_temperature=)``, not in the paper) outputs the
mean of that box and every other valid teacher box with IoU >= ``tau`` with it, weighted
equally or by a softmax of the values at temperature ``T``. The shipped student, value head,
pool (``meta["fusion_pool"]``) and margin (``meta["fusion_margin"]``) are kept. Teachers replay
their cached runs (``trackkit.train.tras_replay_auc``), so no teacher runs again.

Two stages, following the rule committed in ``docs/history/tras.md`` before any measurement:

- ``--stage holdout``: the 9 held-out *training* sequences of the value fit
  (``meta["value_fit"]["holdout_sequences"]``): mean TRASFUST AUC with averaging off and at
  every grid setting (``--taus`` x equal / softmax at ``--temperature``). Candidate: the best
  grid setting (ties to 4 decimals: equal weights first, then the larger ``tau``); chosen iff
  it beats ``off`` by at least ``--min-gain`` (0.005). Writes ``--json`` and the report.
- ``--stage eval``: once (refuses a second run on the same ``--json``): ``off`` and the
  chosen setting (or the candidate, reported as not chosen) on the 7 evaluation sequences
  (``trackkit.train.DEFAULT_HOLDOUT``), per sequence against the pool's oracles.

Run: ``python benchmarks/tras_average.py --stage holdout`` then
``python benchmarks/tras_average.py --stage eval`` (both write
``docs/benchmarks/tras_round11.md``). The stages and the report are
``benchmarks/tras_value_ema.py``'s (``run_round``, ``write_stage_report``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tras_value_ema import Settings, round_parser, run_round, write_stage_report

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "tras_round11.md"
OFF = "off"


def setting_name(tau: float, temperature: float | None) -> str:
    """``"tau 0.5, equal"`` / ``"tau 0.5, softmax T=0.1"``."""
    return f"tau {tau:g}, " + ("equal" if temperature is None else f"softmax T={temperature:g}")


def grid(taus: list[float], temperature: float) -> dict[str, tuple[float, float | None]]:
    """The settings of the rule: ``off`` then every ``tau`` with equal and softmax weights."""
    out: dict[str, tuple[float, float | None]] = {OFF: (0.0, None)}
    for tau in taus:
        for temp in (None, temperature):
            out[setting_name(tau, temp)] = (tau, temp)
    return out


def choose_setting(
    mean_auc: dict[str, float], settings: dict[str, tuple[float, float | None]], min_gain: float
) -> tuple[str, bool]:
    """The rule: the grid setting (all but ``off``) with the highest mean AUC, ties (equal to 4
    decimals) to equal weights, then to the larger ``tau``; chosen iff its AUC minus ``off``'s
    is at least ``min_gain``."""
    if OFF not in mean_auc or len(mean_auc) < 2:
        raise ValueError(f"need {OFF!r} and at least one grid setting, got {sorted(mean_auc)}")
    names = [n for n in mean_auc if n != OFF]
    best = max(
        names,
        key=lambda n: (round(mean_auc[n], 4), settings[n][1] is None, settings[n][0]),
    )
    return best, mean_auc[best] - mean_auc[OFF] >= min_gain - 1e-12


def _replay_settings(settings: dict[str, tuple[float, float | None]]) -> Settings:
    """``grid``'s settings as ``run_round`` takes them (``None``: equal weights, ``inf``)."""
    return {
        name: (
            {"average_iou": tau, "average_temperature": math.inf if temp is None else temp},
            {"average_iou": tau, "average_temperature": temp},
        )
        for name, (tau, temp) in settings.items()
    }


def write_report(record: dict[str, Any], path: Path) -> None:
    """The markdown report of whatever stages ``record`` holds."""
    h = record["holdout"]
    off = h["fusion"][OFF]["mean_auc"]
    cand = h["candidate"]
    rule = (
        f"Rule (docs/history/tras.md, round 11): candidate `{cand}` "
        f"({h['fusion'][cand]['mean_auc']:.4f}) against `off` {off:.4f} "
        f"(gain {h['fusion'][cand]['mean_auc'] - off:+.4f}, needed >= {h['min_gain']:g}): "
        + ("**chosen**." if h["chosen"] else "**not chosen**.")
    )
    intro = (
        "`off` = the shipped fusion (the chosen teacher's box); `tau X` = the mean of the chosen "
        "box and the valid teacher boxes with IoU >= X with it, equal or value-softmax weights "
        "(not in the paper)."
    )
    title = (
        "TRASFUST with the boxes of agreeing teachers averaged (round 11 of docs/history/tras.md)"
    )
    write_stage_report(record, path, title, intro, rule)


def main() -> int:
    parser = round_parser(__doc__, "runs/tras11/average.json", OUT)
    parser.add_argument("--taus", default="0.5,0.6,0.7,0.8", help="the grid (holdout stage)")
    parser.add_argument("--temperature", type=float, default=0.1, help="of the softmax weights")
    parser.add_argument("--min-gain", type=float, default=0.005, help="over off, to be chosen")
    args = parser.parse_args()

    def holdout() -> tuple[Settings, str]:
        settings = grid([float(t) for t in args.taus.split(",")], args.temperature)
        return _replay_settings(settings), f" --taus {args.taus} --temperature {args.temperature:g}"

    def evaluation(record: dict[str, Any]) -> Settings:
        h = record["holdout"]["fusion"]
        cand = record["holdout"]["candidate"]
        return _replay_settings(
            {OFF: (0.0, None), cand: (h[cand]["average_iou"], h[cand]["average_temperature"])}
        )

    def decide(stage: dict[str, Any]) -> dict[str, Any]:
        fusion = stage["fusion"]
        mean = {n: v["mean_auc"] for n, v in fusion.items()}
        settings = {n: (v["average_iou"], v["average_temperature"]) for n, v in fusion.items()}
        cand, chosen = choose_setting(mean, settings, args.min_gain)
        return {"candidate": cand, "chosen": chosen, "min_gain": args.min_gain}

    return run_round("tras_average.py", args, holdout, evaluation, decide, write_report)


if __name__ == "__main__":
    raise SystemExit(main())
