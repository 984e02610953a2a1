"""Run ``benchmarks/retinatrack.py`` on a candidate network with its own tracking settings.

The selection rules of docs/history/mot.md (rounds 5 and 6) measure a candidate network on
TUD-Campus once, for the record, with the settings its own sweep chose on the training
sequences (``benchmarks/retinatrack_settings.py``), without changing the shipped constants.
This wrapper sets them in the modules, then runs the benchmark with the remaining arguments:

    python benchmarks/retinatrack_candidate.py SCORE NMS GATE IOU_SOURCE HIGH NEW \\
        [--iou-weight W] -- --checkpoint runs/rt6_p6/retinatrack.pt --no-speed --out-md X.md

``HIGH`` / ``NEW``: the (f') ``assoc.MotionTracker`` thresholds; ``--iou-weight``: the IoU
weight of (b) (embedding weight ``1 - W``; default the paper's 0.5). The gate and IoU source
reach the tracking rows as ``make_association`` options; the speed rows (``RetinaTrackMOT``)
keep the shipped ones, so run it with ``--no-speed``. Reproduces the 512 px rows of
docs/benchmarks/retinatrack_v6_512.md exactly (checked after the change to public imports).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import retinatrack as bench

import trackkit.mot.retinatrack as rt


def main() -> None:
    """Parse the settings, patch them in and run the benchmark."""
    if "--" not in sys.argv:
        raise SystemExit("usage: SCORE NMS GATE IOU_SOURCE HIGH NEW [--iou-weight W] -- ARGS")
    split = sys.argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("score", "nms", "gate"):
        parser.add_argument(name, type=float)
    parser.add_argument("iou_source", choices=["latest", "history"])
    parser.add_argument("high", type=float)
    parser.add_argument("new", type=float)
    parser.add_argument("--iou-weight", type=float, default=None)
    args = parser.parse_args(sys.argv[1:split])
    for mod in (rt, bench):
        mod.TRACKING_SCORE_THRESHOLD = args.score  # type: ignore[attr-defined]
        mod.TRACKING_NMS_THRESHOLD = args.nms  # type: ignore[attr-defined]
        mod.EMBEDDING_GATE = args.gate  # type: ignore[attr-defined]
        mod.TRACKING_IOU_SOURCE = args.iou_source  # type: ignore[attr-defined]
    bench.MOTION_THRESHOLDS = {"high_threshold": args.high, "new_track_threshold": args.new}
    make = rt.make_association
    weight = args.iou_weight

    def with_candidate_settings(name: str, **kw: Any) -> Any:
        # the candidate's gate and IoU source as make_association's defaults (explicit options
        # of a benchmark row still win), the optional IoU weight for the fused association
        if name != "sort":
            kw = {"max_cosine_distance": args.gate, "iou_source": args.iou_source, **kw}
        if weight is not None and name == "iou+embedding":
            kw = {"iou_weight": weight, "embedding_weight": 1.0 - weight, **kw}
        return make(name, **kw)

    bench.make_association = with_candidate_settings  # type: ignore[assignment]
    sys.argv = [bench.__file__, *sys.argv[split + 1 :]]
    bench.main()


if __name__ == "__main__":
    main()
