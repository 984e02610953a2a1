"""Shared helpers of the ``trackkit`` subcommands: dataset formats, path checks, threads."""

from __future__ import annotations

import argparse
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trackkit.cli import CLIError
from trackkit.data import (
    Dataset,
    MOTSequence,
    Sequence,
    is_mot_sequence,
    read_got10k,
    read_lasot,
    read_otb,
    read_simple_sot,
    read_trackingnet,
    read_uav123,
    read_vot,
)
from trackkit.registry import RETINATRACK_ASSOCIATIONS, parse_tta_spec

__all__ = [
    "SOT_FORMATS",
    "THREADS_HELP",
    "VIDEO_OUT_SUFFIXES",
    "add_threads_argument",
    "existing_dir",
    "mot_fallback_notes",
    "open_mot_dataset",
    "open_sot_dataset",
    "set_torch_threads",
    "sot_tracker_options",
    "writable_dir",
    "writable_file",
    "writable_video",
]

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

#: ``--threads`` help of the training recipes, which keep torch's default unless told.
THREADS_HELP = (
    "torch CPU threads (default: torch's own, normally one per core; the tracking commands "
    "track, demo, mot and eval default to 1)"
)

#: Why the tracking commands default to one thread (measured: benchmarks/track_threads.py).
THREADS_WHY = (
    "One thread because torch's default (one per core) collapses when the machine is shared: "
    "on a loaded 2-core machine --threads 1 ran 2.3 frames/s, 2 threads 0.2-0.3 "
    "(docs/benchmarks/track_threads.md); try 0 on an idle many-core machine."
)

#: Suffixes of annotated-video outputs that OpenCV's ``mp4v`` writer produces a readable file
#: for (checked by writing and reading back one frame: .webm, .gif and no suffix fail to open,
#: an image suffix such as .png opens OpenCV's image-sequence writer and writes no video).
VIDEO_OUT_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")


def existing_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a one-line :class:`CLIError`."""
    if not path.exists():
        raise CLIError(f"{what} not found: {path}")
    if not path.is_dir():
        raise CLIError(f"{what} is not a folder: {path}")
    return path


def _nearest_existing(path: Path) -> Path:
    """``path`` or its deepest ancestor that exists (``.`` for a relative path's first part)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _probe_folder(folder: Path, flag: str, path: Path) -> None:
    """Create (and at once delete) a nameless temporary file in ``folder``: the only test that
    also holds for root, read-only file systems and pseudo file systems such as /proc, where
    ``os.access`` says yes and writing fails."""
    if not folder.is_dir():
        raise CLIError(f"{flag} {path}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise CLIError(
            f"{flag} {path} cannot be written: nothing can be created in {folder} "
            f"({err.strerror or err})"
        ) from None


def writable_file(path: Path | str | None, flag: str, *, make_parents: bool = True) -> None:
    """Check, before any work, that the command can write the output file ``path`` later.

    One-line :class:`CLIError` naming ``flag`` and ``path`` when ``path`` is a folder, an
    existing file that cannot be opened for writing, or lies in a folder in which no file can be
    created (an ancestor that is a file, a read-only or pseudo file system such as /proc). The
    writers of the commands create missing parent folders; ``make_parents=False`` (the
    annotated-video writer) requires the parent to exist. Leaves nothing behind: an existing
    file is opened for appending and closed unchanged, a new one is probed with a nameless
    temporary file in the deepest existing ancestor. ``None`` (no such output) passes.
    """
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{flag} {path} is a folder; give a file name")
    if path.exists():
        if not stat.S_ISREG(path.stat().st_mode):
            return  # a device or a pipe (/dev/null, a FIFO): opening it could block or consume
        try:
            with open(path, "ab"):
                pass
        except OSError as err:
            raise CLIError(f"{flag} {path} cannot be written ({err.strerror or err})") from None
        return
    folder = _nearest_existing(path.parent)
    _probe_folder(folder, flag, path)
    if not make_parents and folder != path.parent:
        raise CLIError(f"{flag} {path}: output folder {path.parent} does not exist")


def writable_video(path: Path | str | None, flag: str, *, make_parents: bool = True) -> None:
    """:func:`writable_file` for an annotated video, whose suffix must also be one OpenCV's
    ``mp4v`` writer turns into a video (:data:`VIDEO_OUT_SUFFIXES`): found before the work,
    where the writer failed after it. ``None`` passes."""
    if path is None:
        return
    path = Path(path)
    writable_file(path, flag, make_parents=make_parents)
    if path.suffix.lower() not in VIDEO_OUT_SUFFIXES:
        raise CLIError(
            f"{flag} {path}: an annotated video needs one of the suffixes "
            f"{', '.join(VIDEO_OUT_SUFFIXES)}"
        )


def writable_dir(path: Path | str | None, flag: str) -> None:
    """Check, before any work, that the command can create and fill the output folder ``path``.

    One-line :class:`CLIError` naming ``flag`` and ``path`` when ``path`` is a file or no file
    can be created in it (or, while it does not exist yet, in its deepest existing ancestor,
    where the command would create it). Creates nothing. ``None`` passes.
    """
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"{flag} {path} is a file; give a folder")
    _probe_folder(_nearest_existing(path), flag, path)


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


def open_mot_dataset(
    path: Path, flag: str, *, names: list[str] | None = None
) -> tuple[Dataset[MOTSequence], Path]:
    """Open ``path`` (the ``flag`` option) as MOTChallenge data: a folder of sequences or one
    sequence folder (``trackkit.data.is_mot_sequence``). Returns the dataset and the folder
    that holds its sequences; one-line :class:`CLIError` for a folder in another layout."""
    data = existing_dir(path, f"data folder ({flag})")
    one = (data / "seqinfo.ini").is_file() or (
        is_mot_sequence(data)  # without seqinfo.ini: unless it holds sequences itself
        and not any(p.is_dir() and is_mot_sequence(p) for p in data.iterdir())
    )
    if one:
        if names:
            raise CLIError(f"--sequences needs a folder of sequences, {flag} is one sequence")
        names, data = [data.name], data.parent
    from trackkit.data import read_motchallenge  # looked up now: tests replace it

    try:
        return read_motchallenge(data, names=names), data
    except (FileNotFoundError, NotADirectoryError) as err:
        raise CLIError(f"{data} is not a MOTChallenge folder: {err}") from None


def mot_fallback_notes(seqs: Iterable[MOTSequence]) -> None:
    """Print one note per sequence whose length was not in a ``seqinfo.ini`` (the reader's
    fallback), so that a missing file does not pass unnoticed."""
    for seq in seqs:
        source = seq.meta.get("seqlength_from")
        if source is None:
            continue
        where = "its images in img1/" if source == "img1" else "the last frame of gt.txt/det.txt"
        print(
            f"trackkit: note: {seq.name}: no seqLength (seqinfo.ini missing or without it); "
            f"{seq.num_frames} frames, from {where}",
            file=sys.stderr,
        )


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
        "IoU + embedding with the IoU against Kalman-predicted boxes, docs/history/mot.md round 9)",
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
        "slower; docs/history/mot.md round 10)",
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


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (default 1, 0 = torch's default) to a tracking command (track,
    demo, mot, eval sot, eval mot); the training recipes keep torch's default
    (:data:`THREADS_HELP`)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help=f"torch CPU threads (default 1; 0 = torch's default, one per core). {THREADS_WHY}",
    )


def set_torch_threads(threads: int | None, *, if_loaded: bool = False) -> None:
    """Apply a ``--threads`` option: ``None`` or 0 keeps torch's default (one thread per core),
    otherwise it must be >= 1 (checked first, in every case).

    ``if_loaded``: leave torch alone when it is not imported yet (the association-only MOT
    trackers run without torch; call this after building the tracker, which imports it when
    it needs it).
    """
    if threads is None or threads == 0:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1 (or 0 for torch's default), got {threads}")
    if if_loaded and "torch" not in sys.modules:
        return
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


def add_sot_training_data(p: argparse.ArgumentParser, *, no_data: bool = False) -> None:
    """Add the SOT training-data options of ``train maml``, ``slt``, ``tras`` and ``tras-value``.

    ``--data`` (simple-layout SOT folder), with ``no_data`` also ``--no-data`` (synthetic
    sequences only), then ``--mot`` / ``--no-mot`` (pedestrian identities of a MOTChallenge
    folder added as training sequences).
    """
    p.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=None,
        help="simple-layout SOT folder (default $TRACKKIT_DATA/sot or ../shared/data/sot)",
    )
    if no_data:
        p.add_argument("--no-data", action="store_true", help="synthetic sequences only")
    p.add_argument(
        "--mot",
        metavar="DIR",
        type=Path,
        default=None,
        help="MOTChallenge folder with images whose pedestrian identities are added as training "
        "sequences (default $TRACKKIT_DATA/mot or ../shared/data/mot when it exists)",
    )
    p.add_argument("--no-mot", action="store_true", help="do not add MOT identities")
