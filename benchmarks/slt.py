"""Sequence-level training (Kim et al. 2022): base vs SLT-fine-tuned instance trackers.

Tracks two sets of ``../shared/data/sot`` sequences that SLT never trains on:

- *validation*: ``trackkit.train.SLT_VALIDATION_SEQUENCES`` (eight sequences, the set the ship
  decision uses; the base model's MAML training sampled 40 frames of each, SLT none);
- *held-out*: ``trackkit.train.DEFAULT_HOLDOUT`` (never used for training or selection by
  either model);

under four protocols: OPE, TRE (``trackkit.eval.tre_segments``, 3 segments, averaged over all
segments as OTB does) and the low-frame-rate protocol of Kim et al. 2022, Table 6 (track every
i-th frame, i = 2, 3). Reports success AUC, precision@20px and AO per sequence and on average.

One tracker per call (runs can go in parallel), then a report::

    python3 benchmarks/slt.py run base-fcos --checkpoint fcos-maml
    python3 benchmarks/slt.py run fcos-slt --checkpoint runs/fcos_slt/detector.pt \\
        --sets validation
    python3 benchmarks/slt.py report base-fcos fcos-slt      # -> docs/benchmarks/slt.md

Each SLT run is compared with the base run of its head (the run of a shipped checkpoint). A
weight-averaged checkpoint (``trackkit train soup``) is an SLT run whose record names the seeds
of its members.

Per-run scores go to ``docs/benchmarks/slt/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trackkit.data import Sequence, default_data_root, read_simple_sot
from trackkit.eval import run_sot_benchmark, tre_segments
from trackkit.registry import make_tracker
from trackkit.sot import SHIPPED_MODELS, load_detector, shipped_checkpoint, tracker_config_for
from trackkit.train import DEFAULT_HOLDOUT, SLT_VALIDATION_SEQUENCES

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "docs" / "benchmarks" / "slt"
OUT_MD = ROOT / "docs" / "benchmarks" / "slt.md"
SETS = {"validation": SLT_VALIDATION_SEQUENCES, "held-out": DEFAULT_HOLDOUT}
PROTOCOLS = ("OPE", "TRE", "i=2", "i=3")
TRE_SEGMENTS = 3
SLT_KEYS = (
    "episodes",
    "length",
    "max_interval",
    "objective",
    "temperature",
    "head_lr",
    "bbox_weight",
    "seed",
)


def protocol_sequences(seqs: list[Sequence], protocol: str) -> list[Sequence]:
    """The sequences a protocol tracks (TRE: every segment; i=k: every k-th frame)."""
    if protocol == "OPE":
        return seqs
    if protocol == "TRE":
        return [seg for s in seqs for seg in tre_segments(s, TRE_SEGMENTS)]
    step = int(protocol.split("=")[1])
    return [s[::step] for s in seqs]


def run(
    name: str,
    checkpoint: str,
    batch: int,
    sets: tuple[str, ...] = tuple(SETS),
    protocols: tuple[str, ...] = PROTOCOLS,
) -> None:
    path = shipped_checkpoint(checkpoint) if checkpoint in SHIPPED_MODELS else Path(checkpoint)
    det = load_detector(path)
    tracker_name = f"{det.config.head}-maml"
    config = tracker_config_for(det)
    root = default_data_root()
    slt = det.meta.get("slt_config")
    slt = slt if isinstance(slt, dict) else None
    out: dict[str, Any] = {
        "name": name,
        "checkpoint": str(checkpoint),
        "head": det.config.head,
        # a base is a shipped checkpoint that was not itself SLT-fine-tuned (fcos-maml-slt is
        # shipped but compared with fcos-maml)
        "base": checkpoint in SHIPPED_MODELS and slt is None,
        "slt": None
        if slt is None
        else {k: slt.get(k) for k in SLT_KEYS} | {"steps": det.meta.get("slt_steps")},
        "lost_threshold": config.postprocess.lost_threshold,
        "scores": {},
    }
    soup = det.meta.get("soup")
    if isinstance(soup, dict):
        # a weight average of fine-tuned checkpoints (`trackkit train soup`): its members and
        # their seeds (the member metas' differences)
        out["soup"] = {
            "members": soup.get("members"),
            "weights": soup.get("weights"),
            "seeds": [(m.get("slt_config") or {}).get("seed") for m in soup.get("member_meta", [])],
        }
    t0 = time.perf_counter()
    RUNS.mkdir(parents=True, exist_ok=True)
    previous = RUNS / f"{name}.json"
    if previous.is_file():
        # later calls add sets / protocols to a run of the same checkpoint
        old = json.loads(previous.read_text())
        if old.get("checkpoint") == out["checkpoint"]:
            out["scores"] = old["scores"]
            t0 -= float(old.get("seconds", 0.0))
    for set_name, names in SETS.items():
        for protocol in PROTOCOLS:
            if set_name not in sets or protocol not in protocols:
                continue
            key = f"{set_name}/{protocol}"
            # sequences this checkpoint has not tracked under this protocol yet (a set that
            # grew is completed, not tracked again: the trackers are deterministic)
            done = out["scores"].get(key, {})
            todo = [n for n in names if n not in done]
            if not todo:
                continue
            seqs = list(read_simple_sot(root, names=todo))
            tracked = protocol_sequences(seqs, protocol)
            res = run_sot_benchmark(
                lambda: make_tracker(tracker_name, detector=det, config=config),
                tracked,
                name=f"{name} {set_name} {protocol}",
                progress=False,
                batch=batch,
            )
            per: dict[str, dict[str, list[float]]] = {}
            for run_ in res.runs.values():
                base = run_.sequence.split("@")[0]
                d = per.setdefault(base, {"auc": [], "precision": [], "ao": []})
                d["auc"].append(run_.scores.auc)
                d["precision"].append(run_.scores.precision)
                d["ao"].append(run_.scores.ao)
            scores = done | {
                seq: {k: float(np.mean(v)) for k, v in d.items()} for seq, d in per.items()
            }
            out["scores"][key] = {n: scores[n] for n in names if n in scores}
            print(
                f"{name} {set_name:10s} {protocol:4s} AUC {res.mean.auc:.3f} ({len(todo)} seq) "
                f"({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            # written after every protocol: a run cut short keeps what it measured
            out["seconds"] = round(time.perf_counter() - t0, 1)
            out["machine"] = f"{platform.machine()}, torch {torch.__version__}, 1 thread"
            (RUNS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")


def _paired(
    run: dict[str, dict[str, float]], base: dict[str, dict[str, float]] | None, metric: str
) -> tuple[float, float | None, int]:
    """Mean ``metric`` of a run over its sequences, the base's mean over the same sequences
    (None without a base) and their number (TRE: each sequence's segments averaged first)."""
    seqs = [q for q in run if base is None or q in base]
    mean = float(np.mean([run[q][metric] for q in seqs]))
    return (
        mean,
        None if base is None else float(np.mean([base[q][metric] for q in seqs])),
        len(seqs),
    )


def _describe(r: dict[str, Any]) -> str:
    c = r.get("slt")
    soup = r.get("soup")
    if not c and soup:
        # a weight average whose members do not share one SLT record (e.g. WiSE-FT: the base
        # and fine-tuned seeds): name the members and their weights
        members = soup.get("members") or []
        weights = soup.get("weights") or [None] * len(members)
        # a member file is named by its run folder (runs/<run>/detector.pt), a shipped model
        # by its name
        labels = [Path(str(m)).parent.name if str(m).endswith(".pt") else str(m) for m in members]
        parts = [label + ("" if w is None else f" x {w:.3g}") for label, w in zip(labels, weights)]
        return "weight average of " + ", ".join(parts)
    if not c:
        return "base (shipped)"
    ablation = "+SS" if c["objective"] == "frame" else "+SS+SO"
    if c["max_interval"] > 1:
        ablation += "+SA"
    extra = "".join(
        f", {label} {c[k]}"
        for k, label in (("head_lr", "head lr"), ("bbox_weight", "bbox weight"))
        if c.get(k) is not None
    )
    seeds = (
        f"uniform weight average (model soup) of seeds {', '.join(map(str, soup['seeds']))}"
        if soup
        else f"seed {c['seed']}"
    )
    return (
        f"{ablation}, {c['steps']} it x k={c['episodes']} x T={c['length']}, "
        f"max interval {c['max_interval']}, temperature {c['temperature']}{extra}, {seeds}"
    )


def report(names: list[str]) -> None:
    """Compare every SLT run with the base run of its head (the run of a shipped checkpoint),
    on the sequences both tracked."""
    runs = {n: json.loads((RUNS / f"{n}.json").read_text()) for n in names}
    bases = {r["head"]: n for n, r in runs.items() if r["base"]}
    others = [n for n, r in runs.items() if not r["base"]]
    for n in others:
        if runs[n]["head"] not in bases:
            raise ValueError(f"run {n!r} ({runs[n]['head']}) has no base run of its head")
    first = runs[names[0]]
    lines = [
        "# Sequence-level training (Kim et al. 2022): base vs SLT",
        "",
        f"Generated by `benchmarks/slt.py report` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
        f"UTC ({first['machine']}). One tracking run per checkpoint; the machine was shared, so "
        "no timings. Verdict, commands and training wall times: "
        "[../sot.md](../sot.md#sequence-level-training-trackkit-train-slt).",
        "",
        "Sets: validation = "
        f"{', '.join(SLT_VALIDATION_SEQUENCES)} (`trackkit.train.SLT_VALIDATION_SEQUENCES`; "
        "model comparison and the ship decision; the base's MAML training sampled 40 frames of "
        "each, SLT never trains on them); held-out = "
        f"{', '.join(DEFAULT_HOLDOUT)} (never used for training or selection). Protocols: OPE; "
        f"TRE with {TRE_SEGMENTS} segments (`trackkit.eval.tre_segments`, each sequence's "
        "segments averaged, then the sequences); i=2, 3: every i-th frame only (Kim et al. "
        "2022, Table 6). AUC = success AUC, P = precision@20px, AO = average overlap; all "
        "means over sequences; each change against the base is over the sequences both runs "
        "tracked (`n`; runs of an earlier session tracked only the first four validation "
        "sequences). `+SS` = sequence-level sampling with the frame-level loss, `+SO` "
        "= the sequence-level objective (SCST, eq. 6, + box regression), `+SA` = frame-interval "
        "augmentation (max interval 7) (Kim et al. 2022, Table 5).",
        "",
        "## Runs",
        "",
        "| run | head | checkpoint | training |",
        "|---|---|---|---|",
    ]
    for n, r in runs.items():
        lines.append(f"| {n} | {r['head']} | `{r['checkpoint']}` | {_describe(r)} |")
    keys = [k for k in first["scores"] if any(k in r["scores"] for r in runs.values())]
    lines += [
        "",
        "## Success AUC (change against the base of the same head; [better/worse sequences])",
        "",
        "| run | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for n, r in runs.items():
        b = runs[bases[r["head"]]]
        cells = []
        for k in keys:
            if k not in r["scores"]:
                cells.append("")
                continue
            if r["base"] or k not in b["scores"]:
                auc, _, _ = _paired(r["scores"][k], None, "auc")
                cells.append(f"{auc:.3f}")
                continue
            auc, base_auc, m = _paired(r["scores"][k], b["scores"][k], "auc")
            assert base_auc is not None
            d = [r["scores"][k][q]["auc"] - b["scores"][k][q]["auc"] for q in r["scores"][k]]
            up, down = sum(x > 0.0005 for x in d), sum(x < -0.0005 for x in d)
            cells.append(f"{auc:.3f} ({auc - base_auc:+.3f}) [{up}/{down}]")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Means",
        "",
        "| set | protocol | run | n | AUC | P | AO | base AUC | dAUC vs base | dAO vs base |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        set_name, protocol = key.split("/")
        for n, r in runs.items():
            if key not in r["scores"]:
                continue
            d = r["scores"][key]
            b = None if r["base"] else runs[bases[r["head"]]]["scores"].get(key)
            auc, base_auc, m = _paired(d, b, "auc")
            p, _, _ = _paired(d, b, "precision")
            ao, base_ao, _ = _paired(d, b, "ao")
            cells = ["", "", ""]
            if base_auc is not None and base_ao is not None:
                cells = [f"{base_auc:.3f}", f"{auc - base_auc:+.3f}", f"{ao - base_ao:+.3f}"]
            lines.append(
                f"| {set_name} | {protocol} | {n} | {m} | {auc:.3f} | {p:.3f} | {ao:.3f} | "
                + " | ".join(cells)
                + " |"
            )
    lines += ["", "## Per sequence (AUC; sign and size of the change)", ""]
    for other in others:
        base_name = bases[runs[other]["head"]]
        base = runs[base_name]
        lines += [
            f"`{other}` minus `{base_name}`, success AUC per sequence:",
            "",
            "| set | protocol | sequence | base | " + other + " | delta |",
            "|---|---|---|---|---|---|",
        ]
        for key in keys:
            if key not in runs[other]["scores"] or key not in base["scores"]:
                continue
            set_name, protocol = key.split("/")
            for seq, o in runs[other]["scores"][key].items():
                if seq not in base["scores"][key]:
                    continue
                b_auc = base["scores"][key][seq]["auc"]
                lines.append(
                    f"| {set_name} | {protocol} | {seq} | {b_auc:.3f} | {o['auc']:.3f} | "
                    f"{o['auc'] - b_auc:+.3f} |"
                )
        lines.append("")
    OUT_MD.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT_MD}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="track every set and protocol with one checkpoint")
    r.add_argument("name")
    r.add_argument("--checkpoint", required=True, help="shipped name or detector file")
    r.add_argument("--batch", type=int, default=4, help="sequences tracked in lock step")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--sets", default=",".join(SETS), help="comma-separated sets")
    r.add_argument("--protocols", default=",".join(PROTOCOLS), help="comma-separated protocols")
    rep = sub.add_parser("report", help="write docs/benchmarks/slt.md from saved runs")
    rep.add_argument(
        "names", nargs="+", help="runs (each SLT run is compared with its head's base)"
    )
    args = parser.parse_args()
    if args.cmd == "run":
        torch.set_num_threads(args.threads)
        run(
            args.name,
            args.checkpoint,
            args.batch,
            tuple(args.sets.split(",")),
            tuple(args.protocols.split(",")),
        )
    else:
        report(args.names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
