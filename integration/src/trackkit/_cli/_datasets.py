"""Shared helpers of the ``trackkit`` subcommands: dataset formats, path checks, threads."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackkit.cli import CLIError
from trackkit.data import (
    Dataset,
    Sequence,
    read_got10k,
    read_lasot,
    read_otb,
    read_simple_sot,
    read_trackingnet,
    read_uav123,
    read_vot,
)
from trackkit.registry import RETINATRACK_ASSOCIATIONS, parse_tta_spec

__all__ = ["SOT_FORMATS", "existing_dir", "open_sot_dataset", "sot_tracker_options"]

#: ``--format`` choices of the single-object commands and their readers.
SOT_FORMATS: dict[str, Callable[..., Dataset[Sequence]]] = {
    "simple": read_simple_sot,
    "otb": read_otb,
    "uav123": read_uav123,
    "vot": read_vot,
    "got10k": read_got10k,
    "lasot": read_lasot,
    "trackingnet": read_trackingnet,
}

SOT_FORMAT_HELP = (
    "layout of --data: simple (trackkit's <seq>/img + groundtruth.txt + manifest.json, "
    "e.g. ../shared/data/sot), otb, uav123, vot, got10k (one split folder), lasot, "
    "trackingnet (default: simple)"
)


def existing_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a one-line :class:`CLIError`."""
    if not path.exists():
        raise CLIError(f"{what} not found: {path}")
    if not path.is_dir():
        raise CLIError(f"{what} is not a folder: {path}")
    return path


def open_sot_dataset(
    path: Path,
    fmt: str,
    *,
    names: list[str] | None = None,
    coordinate_base: int | str | None = None,
) -> Dataset[Sequence]:
    """Open a single-object dataset folder in the given ``--format``.

    ``coordinate_base`` (``--coordinate-base``) overrides the base of the ground-truth files.
    """
    existing_dir(path, "dataset folder (--data)")
    if fmt not in SOT_FORMATS:
        raise CLIError(f"unknown --format {fmt!r}; choose from {', '.join(SOT_FORMATS)}")
    kwargs: dict[str, Any] = {}
    if names:
        kwargs["names"] = names
    if coordinate_base is not None:
        kwargs["coordinate_base"] = int(coordinate_base)
    try:
        return SOT_FORMATS[fmt](path, **kwargs)
    except (FileNotFoundError, NotADirectoryError, KeyError) as err:
        raise CLIError(f"{path} does not look like a {fmt!r} dataset: {err}") from None


def add_value_ema_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--value-ema ALPHA`` (TRAST / TRASFUST fusion smoothing) to a SOT command."""
    parser.add_argument(
        "--value-ema",
        type=float,
        default=None,
        metavar="ALPHA",
        help="trast/trasfust: smooth each candidate's value by an exponential moving average "
        "with this weight of the past, in [0, 1), before choosing (not in the paper; "
        "distill.fuse_by_value); default the student's fusion_value_ema for trasfust, else 0",
    )


def add_average_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--average-iou TAU`` and ``--average-temperature T`` (TRAST / TRASFUST box
    averaging of agreeing teachers) to a SOT command."""
    parser.add_argument(
        "--average-iou",
        type=float,
        default=None,
        metavar="TAU",
        help="trast/trasfust: output the mean of the chosen box and the other candidates' "
        "boxes with IoU >= TAU with it, in [0, 1], 0 = off (not in the paper; "
        "distill.fuse_by_value); default the student's fusion_average_iou for trasfust, "
        "else off",
    )
    parser.add_argument(
        "--average-temperature",
        type=float,
        default=None,
        metavar="T",
        help="trast/trasfust with --average-iou: weight the averaged boxes by a softmax of "
        "their values at temperature T > 0 (inf = equal weights); default the student's "
        "fusion_average_temperature for trasfust, else inf",
    )


def add_association_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--association`` (how RetinaTrack links its detections) to a MOT command."""
    parser.add_argument(
        "--association",
        choices=RETINATRACK_ASSOCIATIONS,  # trackkit.registry's (no torch import)
        default=None,
        help="retinatrack: how detections are linked (default iou+embedding, the paper's; "
        "iou+motion: IoU against Kalman-predicted boxes, the best on the validation sequence "
        "with --score 0.55 (its default since round 11 is --score 0.35 --birth-score 0.55, "
        "chosen on the training sequences, docs/mot.md); iou+embedding+motion: the paper's "
        "IoU + embedding with the IoU against Kalman-predicted boxes, docs/mot.md round 9)",
    )


def _tta_text(text: str) -> str:
    try:
        parse_tta_spec(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_tta_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--tta`` (RetinaTrack's test-time augmentation of the detector) to a MOT command."""
    parser.add_argument(
        "--tta",
        type=_tta_text,
        default=None,
        metavar="SPEC",
        help="retinatrack: test-time augmentation of the detector, comma-separated 'flip' "
        "and/or input widths, optionally 'score=X' (threshold on the fused scores), e.g. "
        "'flip,448,512,576'; passes fused by weighted box fusion (default off; several times "
        "slower; docs/mot.md round 10)",
    )


def _unit_score(flag: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"{flag} must be a number in [0, 1], got {text!r}")
        return value

    return parse


def _min_hits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--min-hits must be an integer >= 1, got {text!r}")
    return value


def add_hysteresis_arguments(parser: argparse.ArgumentParser) -> None:
    """Add RetinaTrack's ``--score``, ``--birth-score`` and ``--min-hits`` (score hysteresis
    and online confirmation, docs/mot.md round 11) to a MOT command."""
    parser.add_argument(
        "--score",
        type=_unit_score("--score"),
        default=None,
        metavar="LOW",
        help="retinatrack: detection score threshold, the low one with --birth-score "
        "(default 0.55, chosen on the training sequences; --association iou+motion: 0.35 "
        "with a birth score of 0.55, docs/mot.md round 11; --variant p6-640: 0.4)",
    )
    parser.add_argument(
        "--birth-score",
        type=_unit_score("--birth-score"),
        default=None,
        metavar="HIGH",
        help="retinatrack: a detection scoring below HIGH may continue a track but starts no "
        "new one (score hysteresis, ByteTrack's new-track threshold; default none; 0.55 for "
        "--association iou+motion when --score is not given)",
    )
    parser.add_argument(
        "--min-hits",
        type=_min_hits,
        default=None,
        metavar="N",
        help="retinatrack: report a track from its N-th consecutive matched frame on (online: "
        "its first N-1 boxes are never written; default 1)",
    )


def set_torch_threads(threads: int | None) -> None:
    """Apply a ``--threads`` option: ``None`` or 0 keeps torch's default (one thread per core),
    otherwise it must be >= 1."""
    if threads is None or threads == 0:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1 (or 0 for torch's default), got {threads}")
    import torch

    torch.set_num_threads(threads)


def sot_tracker_options(name: str, **options: Any) -> dict[str, Any]:
    """The command-line options that tracker ``name`` takes (``--device`` etc. apply to the deep
    trackers only; options left at ``None``/default are dropped for the others)."""
    from trackkit.registry import tracker_options

    takes = set(tracker_options(name))
    return {k: v for k, v in options.items() if k in takes}


def add_postprocess_arguments(parser: argparse.ArgumentParser) -> None:
    """``--interpolate``, ``--min-track-length`` and ``--smooth`` (shared with ``trackkit eval
    mot``)."""
    parser.add_argument(
        "--interpolate",
        type=int,
        default=None,
        metavar="MAX_GAP",
        help="offline: fill each track's gaps of at most MAX_GAP missing frames linearly "
        "(assoc.interpolate_tracks; default off, 0 = off). The output is final only at the "
        "end of the sequence",
    )
    parser.add_argument(
        "--min-track-length",
        type=int,
        default=None,
        metavar="N",
        help="offline: drop tracks with fewer than N reported boxes, before --interpolate "
        "(assoc.drop_short_tracks; default off, 1 = off)",
    )
    parser.add_argument(
        "--smooth",
        type=float,
        default=None,
        metavar="TAU0",
        help="offline: after --interpolate, smooth each track's boxes over time by "
        "Gaussian-process regression with length scale TAU0*ln(TAU0^3/track length) frames "
        "(assoc.smooth_tracks, StrongSORT's GSI, which uses 10; default off, 0 = off)",
    )
