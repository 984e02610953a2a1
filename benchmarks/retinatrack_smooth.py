"""Round 8 of docs/history/mot.md: Gaussian-smoothed interpolation, chosen on the *training*
sequences.

The shipped 512 px network's detections at the tracking settings (score >=
``TRACKING_SCORE_THRESHOLD``, NMS ``TRACKING_NMS_THRESHOLD``, with embeddings) of the four
training sequences (``RETINATRACK_TRAIN_SEQUENCES``; the validation sequence is never read),
linked by the shipped default association (b) (IoU + embedding) and by (e) (IoU +
``assoc``'s motion model), post-processed with round 7's choice (``max_gap`` 10,
``min_length`` 1) and then smoothed by ``assoc.smooth_tracks`` (Du et al. 2023, StrongSORT's
GSI) for each ``tau0`` of ``TAUS`` (0 = off: round 7's output). Rule 8: the ``tau0`` with
the best mean HOTA over the 8 (tracker, sequence) pairs; ties at three decimals go to off,
then to the smaller ``tau0``. The raw output (no post-processing) is scored too: the default
of ``trackkit mot`` changes only if (b) gains >= 0.02 over it. The mean over the two long
sequences is printed for the record (it decides nothing).

Run: ``python3 benchmarks/retinatrack_smooth.py --cache runs/post_cache`` (writes
docs/benchmarks/retinatrack_smooth_settings.md; the detections are kept as .npz files,
shared with benchmarks/retinatrack_post.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retinatrack_post import TRACKERS, parse_args, score_settings, write_report

from trackkit.mot.retinatrack import (
    TRACKING_NMS_THRESHOLD,
    TRACKING_SCORE_THRESHOLD,
)

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "retinatrack_smooth_settings.md"
#: Round 7's choice (docs/benchmarks/retinatrack_post_settings.md), fixed in this round.
MAX_GAP, MIN_LENGTH = 10, 1
TAUS = (0.0, 5.0, 10.0, 20.0)
LONG = ("TUD-Stadtmitte", "PETS09-S3MF1")
RAW = "raw (G=0, N=1)"


def choose_tau0(means: dict[float, float]) -> float:
    """Rule 8: the ``tau0`` (0 = off) with the best mean HOTA; ties at three decimals go to
    off, then to the smaller ``tau0``."""
    if 0.0 not in means or len(means) < 2:
        raise ValueError(f"need off (0) and at least one tau0, got {sorted(means)}")
    return max(sorted(means), key=lambda tau: (round(means[tau], 3), -tau))


def _label(tau0: float) -> str:
    return f"G={MAX_GAP}, N={MIN_LENGTH}, " + ("off" if tau0 == 0 else f"tau0={tau0:g}")


def main() -> None:
    """Run the grid and write the Markdown report."""
    args = parse_args(__doc__, OUT_MD)
    t0 = time.perf_counter()
    options: dict[str, dict[str, Any]] = {RAW: {}} | {
        _label(tau): {"interpolate": MAX_GAP, "min_track_length": MIN_LENGTH, "smooth": tau}
        for tau in TAUS
    }
    settings = {name: (opts, {"setting": name}) for name, opts in options.items()}
    names, rows, grid = score_settings(args, settings)
    key = "mean HOTA (8 pairs)"
    tau_of = {_label(t): t for t in TAUS}
    candidates = [g for g in grid if g["setting"] in tau_of]
    chosen = choose_tau0({tau_of[g["setting"]]: g[key] for g in candidates})
    best = next(g for g in candidates if tau_of[g["setting"]] == chosen)
    off = next(g for g in grid if g["setting"] == _label(0.0))
    raw_g = next(g for g in grid if g["setting"] == RAW)
    own = {}
    for label in TRACKERS:
        col = f"{label.split(' ')[0]} HOTA (4 seqs)"
        tau = choose_tau0({tau_of[g["setting"]]: g[col] for g in candidates})
        b = next(g for g in candidates if tau_of[g["setting"]] == tau)
        own[label] = (b["setting"], b[col], off[col])
    bcol = "(b) HOTA (4 seqs)"
    gain_b = best[bcol] - raw_g[bcol]
    summary = [
        f"Chosen by rule 8: {best['setting']} (mean HOTA over the 8 pairs {best[key]:.3f}; "
        f"round 7's {off['setting']} {off[key]:.3f}; raw {raw_g[key]:.3f}).",
        f"Default tracker (b): mean HOTA over the four sequences {best[bcol]:.3f} vs raw "
        f"{raw_g[bcol]:.3f} (gain {gain_b:+.3f}; the default changes only with a gain >= 0.02: "
        f"{'yes' if gain_b >= 0.02 else 'no'}).",
    ] + [
        f"For the record, {label}'s own best: {s} (HOTA {h:.3f}; round 7 {r:.3f})."
        for label, (s, h, r) in own.items()
    ]
    header = [
        "# RetinaTrack round 8: Gaussian-smoothed interpolation chosen on the training sequences",
        "",
        f"Written by `python3 benchmarks/retinatrack_smooth.py` in "
        f"{time.perf_counter() - t0:.0f} s (see its docstring and docs/history/mot.md, rule 8). "
        "Shipped "
        f"512 px network, detections at score >= {TRACKING_SCORE_THRESHOLD}, NMS "
        f"{TRACKING_NMS_THRESHOLD}, on the training sequences {', '.join(names)} (seen by the "
        "detector in training: optimistic). The validation sequence is not read. `G=10, N=1` "
        "is round 7's post-processing (gaps of at most 10 frames filled, no track dropped); "
        "`tau0` the smoothing's length-scale parameter (`assoc.smooth_tracks`, noise 1e-4); "
        f"`{RAW}` the trackers' own output, for the default rule only.",
    ]
    write_report(args.out_md, header, summary, grid, rows)


if __name__ == "__main__":
    main()
