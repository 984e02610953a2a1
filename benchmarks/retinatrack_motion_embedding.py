"""Round 9 of docs/history/mot.md: IoU + embedding with the motion model, on the *training*
sequences.

The shipped 512 px network's detections at the tracking settings (score >=
``TRACKING_SCORE_THRESHOLD``, NMS ``TRACKING_NMS_THRESHOLD``, with embeddings) of the four
training sequences (``RETINATRACK_TRAIN_SEQUENCES``, seen by the detector in training; the
validation sequence is never read), linked by the default association (b) (``iou+embedding``,
Lu et al. 2020), by (e) (``iou+motion``) and by the candidate (g) (``iou+embedding+motion``:
(b) with ``assoc``'s BoT-SORT-style Kalman motion model). Rule 9: (g) becomes the default
association of ``retinatrack`` only if its mean HOTA over the four sequences, raw online
output, beats (b)'s by at least ``MARGIN``. (e)'s mean and round 8's post-processing (G = 10,
N = 1, ``tau0`` 10) are printed for the record (they decide nothing).

Run: ``python3 benchmarks/retinatrack_motion_embedding.py --cache runs/post_cache`` (writes
docs/benchmarks/retinatrack_motion_embedding_settings.md; the detections are kept as .npz
files, shared with benchmarks/retinatrack_post.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retinatrack_post import parse_args, score_settings, write_report

from trackkit.mot.retinatrack import (
    TRACKING_NMS_THRESHOLD,
    TRACKING_SCORE_THRESHOLD,
    make_association,
)

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "retinatrack_motion_embedding_settings.md"
#: Rounds 7 and 8's margin for changing a default.
MARGIN = 0.02
RAW = "raw"
POST = "G=10, N=1, tau0=10 (record)"
TRACKERS: dict[str, Any] = {
    "(b) IoU + embedding (default)": (lambda: make_association("iou+embedding"), True),
    "(e) IoU + motion model": (lambda: make_association("iou+motion"), False),
    "(g) IoU + embedding + motion model": (
        lambda: make_association("iou+embedding+motion"),
        True,
    ),
}


def main() -> None:
    """Score (b), (e) and (g) and write the Markdown report."""
    args = parse_args(__doc__, OUT_MD)
    t0 = time.perf_counter()
    options: dict[str, dict[str, Any]] = {
        RAW: {},
        POST: {"interpolate": 10, "min_track_length": 1, "smooth": 10.0},
    }
    settings = {name: (opts, {"setting": name}) for name, opts in options.items()}
    names, rows, grid = score_settings(args, settings, TRACKERS)
    raw = next(g for g in grid if g["setting"] == RAW)
    post = next(g for g in grid if g["setting"] == POST)
    b, e, g = (raw[f"{s} HOTA (4 seqs)"] for s in ("(b)", "(e)", "(g)"))
    gain = g - b
    summary = [
        f"Rule 9, raw online output, mean HOTA over the four training sequences: (g) {g:.3f}, "
        f"(b) {b:.3f}, gain {gain:+.3f} (the default becomes (g) only with a gain >= {MARGIN}: "
        f"{'yes' if gain >= MARGIN else 'no'}).",
        f"For the record: (e) {e:.3f} raw; with round 8's post-processing (b) "
        f"{post['(b) HOTA (4 seqs)']:.3f}, (e) {post['(e) HOTA (4 seqs)']:.3f}, (g) "
        f"{post['(g) HOTA (4 seqs)']:.3f}. IDF1 raw: (b) {raw['(b) IDF1 (4 seqs)']:.3f}, (e) "
        f"{raw['(e) IDF1 (4 seqs)']:.3f}, (g) {raw['(g) IDF1 (4 seqs)']:.3f}.",
    ]
    header = [
        "# RetinaTrack round 9: IoU + embedding + motion model on the training sequences",
        "",
        "Written by `python3 benchmarks/retinatrack_motion_embedding.py` in "
        f"{time.perf_counter() - t0:.0f} s (see its docstring and docs/history/mot.md, rule 9). "
        "Shipped "
        f"512 px network, detections at score >= {TRACKING_SCORE_THRESHOLD}, NMS "
        f"{TRACKING_NMS_THRESHOLD}, on the training sequences {', '.join(names)} (seen by the "
        "detector in training: optimistic). The validation sequence is not read.",
    ]
    write_report(args.out_md, header, summary, grid, rows)


if __name__ == "__main__":
    main()
