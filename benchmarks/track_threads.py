"""`trackkit track` speed by torch thread count, on the machine as it is (shared or not).

Runs ``trackkit track`` (FCOS-MAML, shipped model) on the first frames of
``../shared/data/sot/Crossing`` with ``--threads 1``, ``--threads 2``, ``--threads N`` (all
cores) and torch's own default (no ``--threads``: torch.set_num_threads is not called), in
interleaved rounds, and reports each setting's median frames per second as a ratio to
``--threads 1`` measured in the same rounds. ``--busy K`` adds K busy-looping processes (the
"shared machine" case). Output: a markdown table on stdout (and ``--out FILE``).

    python benchmarks/track_threads.py --rounds 3 --frames 30   # docs/benchmarks/track_threads.md
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPIN = "while True: pass"


def _fps(threads: str | None, frames: int, data: Path) -> float:
    cmd = [sys.executable, "-m", "trackkit.cli", "track", str(data / "img"), "--no-progress"]
    first = (data / "groundtruth.txt").read_text().splitlines()[0]
    cmd += ["--init", first, "--init-base", "1", "--max-frames", str(frames)]
    cmd += ["--threads", threads if threads is not None else "0"]  # 0: torch's default
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    match = re.search(r"([0-9.]+) frames per second", done.stderr)
    if match is None:
        raise RuntimeError(done.stderr[-400:])
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--busy", type=int, default=0, help="extra busy-looping processes")
    parser.add_argument("--data", type=Path, default=ROOT / "../shared/data/sot/Crossing")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    settings: dict[str, str | None] = {"1": "1", "2": "2", f"{cores} (all cores)": str(cores)}
    settings["torch default"] = None
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    fps: dict[str, list[float]] = {k: [] for k in settings}
    load = []
    try:
        for _ in range(args.rounds):
            for name, threads in settings.items():
                fps[name].append(_fps(threads, args.frames, args.data))
                load.append(os.getloadavg()[0])
    finally:
        for p in spinners:
            p.kill()
    ref = statistics.median(fps["1"])
    lines = [
        f"`trackkit track` FCOS-MAML, {args.frames} frames of Crossing, {cores} cores, "
        f"{args.busy} extra busy processes, load average {min(load):.1f}-{max(load):.1f} "
        f"during the runs, {args.rounds} interleaved rounds ({time.strftime('%Y-%m-%d')}).",
        "",
        "| --threads | median frames/s | vs --threads 1 | all runs |",
        "|---|---|---|---|",
    ]
    for name in settings:
        med = statistics.median(fps[name])
        runs = ", ".join(f"{v:.2f}" for v in fps[name])
        lines.append(f"| {name} | {med:.2f} | {med / ref:.2f}x | {runs} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
