"""Every tracker of trackkit by name: one plain dict of constructors with keyword options.

``make_tracker("fcos-maml", device="cuda")``, ``make_tracker("opencv-csrt")``,
``make_tracker("sort", min_score=0.3)``. The CLI (``trackkit track``, ``trackkit mot``,
``trackkit eval``), the evaluation runners and the benchmarks all build trackers here; adding a
tracker adds one entry to :data:`TRACKERS`.

Kinds:

- ``"sot"``: single-object trackers, :class:`trackkit.eval.SOTTracker` (``init(frame, box)``,
  ``update(frame)``); the deep ones also track several sequences in lock step
  (``init_batch``/``update_batch``, see :func:`trackkit.eval.run_sot_benchmark`'s ``batch``).
- ``"mot"``: multi-object trackers of whole sequences, :class:`trackkit.eval.SequenceMOTTracker`
  (``track(sequence)``): the ``assoc`` trackers on the sequences' detection files, and
  ``retinatrack`` and ``maml-mot``, which detect on the frames (they also track any video or
  image folder, ``track_frames``).

Importing this module is light (no torch): a constructor imports what it needs when called.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEPRECATED_VARIANT",
    "DEPRECATED_VARIANT_NOTE",
    "POSTPROCESS_OPTIONS",
    "RETINATRACK_ASSOCIATIONS",
    "RETINATRACK_VARIANTS",
    "TRACKERS",
    "TrackerEntry",
    "make_tracker",
    "parse_tta_spec",
    "tracker_names",
    "tracker_options",
]

Kind = Literal["sot", "mot"]


@dataclass(frozen=True)
class TrackerEntry:
    """One registered tracker.

    Attributes:
        kind: ``"sot"`` or ``"mot"``.
        build: the constructor, called with keyword options only.
        help: one line for ``--help`` and the docs.
    """

    kind: Kind
    build: Callable[..., Any]
    help: str


def _instance_tracker(
    name: str,
    *,
    device: str | None = None,
    checkpoint: str | Path | None = None,
    detector: Any = None,
    online_update: bool = True,
    config: Any = None,
    amp: bool = False,
) -> Any:
    """Retina-MAML / FCOS-MAML (Wang et al. 2020) with the shipped or a given detector.

    Options: ``device`` (default: the CPU, or the given detector's device); ``checkpoint`` (a
    detector checkpoint instead of the shipped one) or ``detector`` (an already loaded
    :class:`trackkit.sot.InstanceDetector`, never mutated; its head must match ``name``);
    ``online_update`` (False: first-frame adaptation only); ``config`` (a full
    :class:`trackkit.sot.TrackerConfig` instead of the checkpoint's validated settings); ``amp``
    (the frozen trunk under autocast, see ``docs/device.md``).
    """
    from trackkit.sot import (
        InstanceDetector,
        InstanceTracker,
        load_detector,
        shipped_checkpoint,
        tracker_config_for,
    )

    if detector is not None:
        if checkpoint is not None:
            raise ValueError("give checkpoint or detector, not both")
        if not isinstance(detector, InstanceDetector):
            raise TypeError(f"detector must be an InstanceDetector, got {type(detector).__name__}")
        head = name.split("-")[0]
        if detector.config.head != head:
            raise ValueError(
                f"{name} needs a {head!r} detector, got a {detector.config.head!r} one"
            )
        det = detector
    else:
        path = checkpoint if checkpoint is not None else shipped_checkpoint(name)
        det = load_detector(path, device=device or "cpu")
    cfg = config if config is not None else tracker_config_for(det, online_update=online_update)
    return InstanceTracker(det, config=cfg, device=device, amp=amp)


def _opencv_tracker(kind: str, *, params: Mapping[str, bool | int | float] | None = None) -> Any:
    """An OpenCV tracker through ``distill.OpenCVTeacher`` (``params``: OpenCV parameters)."""
    from distill import OpenCVTeacher

    return OpenCVTeacher(kind, params=params)


def _tras_tracker(
    mode: str,
    *,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    teachers: str | Any = None,
    parallel: bool = True,
    value_ema: float | None = None,
    average_iou: float | None = None,
    average_temperature: float | None = None,
) -> Any:
    """TRAS / TRAST / TRASFUST (Dunnhofer et al. 2020) with the shipped or a given student.

    Options: ``device``; ``checkpoint`` (a student file of ``trackkit train tras``);
    ``teachers`` (``"csrt,kcf"`` or a list of names: OpenCV trackers or trackkit's deep
    ``retina-maml`` / ``fcos-maml``; TRAST default csrt, TRASFUST default the student's
    ``fusion_pool``: csrt,retina-maml for the shipped student, csrt,kcf,mil,medianflow for a
    student without one); ``parallel`` (teachers in threads while the student computes);
    ``value_ema`` (moving average of the values before the choice, ``TRASTracker``; default
    the student's ``fusion_value_ema`` for TRASFUST, else 0); ``average_iou`` and
    ``average_temperature`` (mean of the agreeing teachers' boxes, ``TRASTracker``; default
    the student's ``fusion_average_iou`` / ``fusion_average_temperature`` for TRASFUST, else
    off).
    """
    from trackkit.sot.tras import TRASTracker, load_student, parse_teachers

    names = None if teachers is None else parse_teachers(teachers)
    student = load_student(checkpoint, device=device)
    return TRASTracker(
        student,
        mode=mode,
        teachers=names,
        parallel=parallel,
        value_ema=value_ema,
        average_iou=average_iou,
        average_temperature=average_temperature,
        device=device,
    )


def _detection_tracker(which: str, *, min_score: float = 0.0, **config: Any) -> Any:
    """An ``assoc`` tracker on the sequences' det files; ``config``: its config's fields.

    ``which``: ``"sort"``, ``"retinatrack"``, ``"motion"`` (``assoc.MotionConfig()``) or a
    ``MotionConfig`` preset, ``"bytetrack"``, ``"ocsort"``, ``"botsort"`` (the preset with the
    given fields changed).
    """
    import dataclasses

    import assoc
    from trackkit.mot import DetectionTracker

    motion = which in ("motion", "bytetrack", "ocsort", "botsort")
    config_cls: Any = {"sort": assoc.SortConfig, "retinatrack": assoc.RetinaTrackConfig}.get(
        which, assoc.MotionConfig
    )
    fields = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise TypeError(
            f"tracker option(s) {', '.join(map(repr, unknown))} unknown; options: min_score, "
            f"{', '.join(fields)}"
        )
    if motion:
        base = assoc.MotionConfig() if which == "motion" else getattr(assoc.MotionConfig, which)()
        return DetectionTracker(
            assoc.MotionTracker(dataclasses.replace(base, **config)), min_score=min_score
        )
    tracker_cls: Any = assoc.SortTracker if which == "sort" else assoc.RetinaTrackTracker
    return DetectionTracker(tracker_cls(config_cls(**config)), min_score=min_score)


#: ``make_tracker("retinatrack", variant=...)``: the default 512 px network and the 640 px
#: P6 network (docs/history/mot.md round 6).
RETINATRACK_VARIANTS: tuple[str, ...] = ("cpu", "p6-640")
#: ``make_tracker("retinatrack", association=...)`` and ``--association``: how RetinaTrack links
#: its detections (``trackkit.mot.retinatrack.ASSOCIATIONS`` is this tuple; see
#: ``trackkit.mot.retinatrack.make_association``).
RETINATRACK_ASSOCIATIONS: tuple[str, ...] = (
    "iou+embedding",
    "iou",
    "embedding",
    "sort",
    "iou+motion",
    "iou+embedding+motion",
)


def parse_tta_spec(spec: str) -> tuple[bool, tuple[int, ...] | None, float | None]:
    """Read RetinaTrack's ``--tta`` text without importing torch: comma-separated ``flip``,
    input widths (ints >= 32, distinct) and optionally ``score=X`` (X in [0, 1], the final
    threshold on fused scores) -> ``(flip, widths or None, score or None)``; see
    ``trackkit.mot.retinatrack.DetectionTTA``.

    Raises:
        ValueError: a token that is none of these, a repeated token, a width below 32, a
            score outside [0, 1], or no augmentation at all; the message names ``--tta``.
    """
    flip, widths, score = False, [], None
    for tok in (t.strip() for t in str(spec).split(",")):
        if tok == "flip" and not flip:
            flip = True
        elif tok.startswith("score=") and score is None:
            try:
                score = float(tok[len("score=") :])
            except ValueError:
                score = float("nan")
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"--tta {spec!r}: score must lie in [0, 1], got {tok!r}")
        elif tok.isdigit() and int(tok) not in widths:
            if int(tok) < 32:
                raise ValueError(f"--tta {spec!r}: input widths must be >= 32, got {tok}")
            widths.append(int(tok))
        else:
            raise ValueError(
                f"--tta {spec!r}: cannot read {tok!r} (expected comma-separated 'flip', "
                "distinct input widths and optionally 'score=X', e.g. 'flip,448,512,576')"
            )
    if not flip and not widths:
        raise ValueError(f"--tta {spec!r} names no augmentation (give 'flip' and/or widths)")
    return flip, (tuple(widths) or None), score


#: The P6 variant's old name, still accepted with a ``DeprecationWarning``.
DEPRECATED_VARIANT = "accuracy"
DEPRECATED_VARIANT_NOTE = (
    "variant 'accuracy' is deprecated, use 'p6-640' (the same 640 px P6 network; it tracked "
    "worse than the default on the validation sequence)"
)


def _retinatrack(
    *,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    association: str = "iou+embedding",
    min_score: float = 0.0,
    input_width: int | None = None,
    variant: str = "cpu",
    progress: bool = False,
    tta: Any = None,
    score: float | None = None,
    birth_score: float | None = None,
    min_hits: int | None = None,
) -> Any:
    """RetinaTrack (Lu et al. 2020) on the frames: the shipped (or a given) network's detections
    and embeddings, linked by ``association`` (``iou+embedding``, ``iou``, ``embedding``,
    ``sort``, ``iou+motion``, ``iou+embedding+motion``); ``min_score`` drops weaker detections;
    ``input_width`` resizes frames to another width than the network's; ``variant``:
    ``"cpu"`` (the default 512 px network) or ``"p6-640"`` (the slower 640 px P6 network with
    its own thresholds, ``RetinaTrackMOT.p6_variant``; it tracked worse than ``"cpu"`` on the
    validation sequence; ``"accuracy"`` is its deprecated name and warns with
    ``DeprecationWarning``); ``progress`` shows a bar over frames; ``tta``: test-time
    augmentation of the detector (``trackkit.mot.retinatrack.DetectionTTA`` or a ``--tta``
    string such as ``"flip,448,512,576"``; ``None``: off, the default). Score hysteresis and
    online confirmation (docs/mot.md round 11): ``score`` is the detection score threshold
    (the low one; ``None``: the variant's, and for ``iou+motion`` on the ``cpu`` variant round
    11's 0.35 with birth threshold 0.55, ``RetinaTrackMOT``'s ``"association"`` default),
    ``birth_score`` the score a detection needs to start a track
    (``assoc.RetinaTrackConfig.birth_threshold``), ``min_hits`` the consecutive hits before a
    track is reported (online, never retroactively); ``None`` leaves them at the defaults.
    ``birth_score`` / ``min_hits`` with ``association="sort"`` are a ``ValueError``."""
    from trackkit.mot.retinatrack import (
        ACCURACY_CHECKPOINT,
        ACCURACY_NMS_THRESHOLD,
        ACCURACY_SCORE_THRESHOLD,
        ACCURACY_WIDTH,
        DEFAULT_CHECKPOINT,
        TRACKING_NMS_THRESHOLD,
        RetinaTrackMOT,
        load_retinatrack_checkpoint,
    )

    if variant == DEPRECATED_VARIANT:
        warnings.warn(DEPRECATED_VARIANT_NOTE, DeprecationWarning, stacklevel=3)
        variant = "p6-640"
    if variant not in RETINATRACK_VARIANTS:
        raise ValueError(
            f"variant must be one of {', '.join(map(repr, RETINATRACK_VARIANTS))}, got {variant!r}"
        )
    accurate = variant == "p6-640"
    default = ACCURACY_CHECKPOINT if accurate else DEFAULT_CHECKPOINT
    net, _ = load_retinatrack_checkpoint(
        checkpoint if checkpoint is not None else default, device=device
    )
    if accurate and input_width is None:
        input_width = ACCURACY_WIDTH
    options: dict[str, Any] = {}
    for name, value in (("birth_threshold", birth_score), ("min_hits", min_hits)):
        if value is not None:
            options[name] = value
    if options and association == "sort":
        raise ValueError(
            "birth_score and min_hits apply to the RetinaTrack associations, not 'sort'"
        )
    threshold: float | str = (
        score if score is not None else (ACCURACY_SCORE_THRESHOLD if accurate else "association")
    )
    return RetinaTrackMOT(
        net,
        score_threshold=threshold,
        association_options=options,
        nms_threshold=ACCURACY_NMS_THRESHOLD if accurate else TRACKING_NMS_THRESHOLD,
        association=association,
        min_score=min_score,
        input_width=input_width,
        device=device,
        progress=progress,
        tta=tta,
    )


def _maml_mot(
    *,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    detector: str | Path | None = None,
    init: str = "weighted",
    min_score: float = 0.0,
    progress: bool = False,
) -> Any:
    """MAML-MOT (Chen and Deng 2024) on the frames: the RetinaTrack network's detections (the
    shipped or a given ``detector``), one meta-learned re-identification layer per track
    (``checkpoint``: the shipped one by default), initialised by ``init`` (``weighted``: eqs.
    6-7 over the bank; ``mean``: the bank's mean; ``meta``: the meta-learned layer)."""
    from trackkit.mot.maml_mot import (
        DEFAULT_CHECKPOINT,
        DEFAULT_DETECTOR,
        MAMLMOT,
        MAMLMOTConfig,
    )

    return MAMLMOT(
        checkpoint=checkpoint if checkpoint is not None else DEFAULT_CHECKPOINT,
        detector=detector if detector is not None else DEFAULT_DETECTOR,
        config=MAMLMOTConfig(init=init),
        min_score=min_score,
        device=device,
        progress=progress,
    )


#: OpenCV tracker kinds ``distill.OpenCVTeacher`` knows; a kind the installed OpenCV lacks
#: raises ``ValueError`` naming the available ones when built.
OPENCV_KINDS: tuple[str, ...] = ("KCF", "CSRT", "MIL", "MedianFlow", "Boosting", "MOSSE", "TLD")

#: name -> :class:`TrackerEntry`; adding a tracker adds one entry.
TRACKERS: dict[str, TrackerEntry] = {
    "fcos-maml": TrackerEntry(
        "sot",
        partial(_instance_tracker, "fcos-maml"),
        "FCOS-MAML (Wang et al. 2020), shipped checkpoint",
    ),
    "retina-maml": TrackerEntry(
        "sot",
        partial(_instance_tracker, "retina-maml"),
        "Retina-MAML (Wang et al. 2020), shipped checkpoint",
    ),
    "fcos-maml-slt": TrackerEntry(
        "sot",
        partial(_instance_tracker, "fcos-maml-slt"),
        "FCOS-MAML after sequence-level training (Kim et al. 2022; two seeds weight-averaged), "
        "shipped checkpoint",
    ),
    "tras": TrackerEntry(
        "sot",
        partial(_tras_tracker, "tras"),
        "TRAS (Dunnhofer et al. 2020): the distilled and reinforced student alone",
    ),
    "trast": TrackerEntry(
        "sot",
        partial(_tras_tracker, "trast"),
        "TRAST (Dunnhofer et al. 2020): student + one teacher chosen by value (--teachers)",
    ),
    "trasfust": TrackerEntry(
        "sot",
        partial(_tras_tracker, "trasfust"),
        "TRASFUST (Dunnhofer et al. 2020): the student's value fuses a teacher pool",
    ),
    **{
        f"opencv-{kind.lower()}": TrackerEntry(
            "sot", partial(_opencv_tracker, kind), f"OpenCV's {kind} tracker"
        )
        for kind in OPENCV_KINDS
    },
    "sort": TrackerEntry(
        "mot",
        partial(_detection_tracker, "sort"),
        "SORT (Bewley et al. 2016) on det.txt: Kalman filter + Hungarian on IoU",
    ),
    "motion": TrackerEntry(
        "mot",
        partial(_detection_tracker, "motion"),
        "assoc.MotionTracker() on det.txt: ByteTrack's two stages, lost tracks matched last, "
        "OC-SORT's re-update (defaults chosen on MOT15 by leave-one-sequence-out)",
    ),
    "bytetrack": TrackerEntry(
        "mot",
        partial(_detection_tracker, "bytetrack"),
        "ByteTrack (Zhang et al. 2022) on det.txt: two-stage association on high/low scores",
    ),
    "ocsort": TrackerEntry(
        "mot",
        partial(_detection_tracker, "ocsort"),
        "OC-SORT (Cao et al. 2023) on det.txt: observation-centric momentum, recovery, re-update",
    ),
    "botsort": TrackerEntry(
        "mot",
        partial(_detection_tracker, "botsort"),
        "BoT-SORT (Aharon et al. 2022) on det.txt: ByteTrack's stages on an xywh Kalman state",
    ),
    "retinatrack-iou": TrackerEntry(
        "mot",
        partial(_detection_tracker, "retinatrack"),
        "RetinaTrack's association (Lu et al. 2020) on det.txt, IoU only (no embeddings)",
    ),
    "retinatrack": TrackerEntry(
        "mot",
        _retinatrack,
        "RetinaTrack (Lu et al. 2020) on the images: shipped detector + embeddings, "
        "IoU + embedding association",
    ),
    "maml-mot": TrackerEntry(
        "mot",
        _maml_mot,
        "MAML-MOT (Chen and Deng 2024) on the images: RetinaTrack's detections, one "
        "meta-learned re-identification layer per track, fused with IoU",
    ),
}


def tracker_names(kind: Kind | None = None) -> tuple[str, ...]:
    """Registered names, in registration order; ``kind="sot"`` or ``"mot"`` selects one kind."""
    if kind not in (None, "sot", "mot"):
        raise ValueError(f"kind must be 'sot', 'mot' or None, got {kind!r}")
    return tuple(n for n, e in TRACKERS.items() if kind is None or e.kind == kind)


def _entry(name: str) -> TrackerEntry:
    if not isinstance(name, str) or name not in TRACKERS:
        raise ValueError(f"unknown tracker {name!r}; choose from {', '.join(TRACKERS)}")
    return TRACKERS[name]


#: Options every ``"mot"`` tracker takes in :func:`make_tracker`: offline post-processing of
#: its tracks (``trackkit.mot.postprocessed``; ``None``: off).
POSTPROCESS_OPTIONS: tuple[str, ...] = ("interpolate", "min_track_length", "smooth")


def tracker_options(name: str) -> tuple[str, ...]:
    """The keyword options ``make_tracker(name, ...)`` accepts (``**`` fields not listed)."""
    entry = _entry(name)
    params = inspect.signature(entry.build).parameters.values()
    own = tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
    return own + (POSTPROCESS_OPTIONS if entry.kind == "mot" else ())


def make_tracker(name: str, **options: Any) -> Any:
    """Build the tracker registered as ``name`` with keyword ``options``.

    Every ``"mot"`` tracker also takes ``interpolate`` (fill gaps of at most this many
    missing frames), ``min_track_length`` (drop tracks with fewer reported boxes) and
    ``smooth`` (``tau0`` of the Gaussian-process smoothing of each track's boxes, Du et al.
    2023): offline post-processing of each sequence's tracks (``trackkit.mot.postprocessed``,
    ``assoc.postprocess_tracks``); ``None`` (default), 0 and 1 leave the tracker online and
    its output unchanged.

    Raises:
        ValueError: ``name`` is not registered (the message lists the names), or a bad
            post-processing option.
        TypeError: an option the tracker does not take (the message lists its options).
    """
    entry = _entry(name)
    post: dict[str, Any] = {}
    if entry.kind == "mot":
        post = {k: options.pop(k) for k in POSTPROCESS_OPTIONS if k in options}
    try:
        inspect.signature(entry.build).bind(**options)
    except TypeError:
        bad = sorted(set(options) - set(tracker_options(name)))
        raise TypeError(
            f"tracker {name!r} takes no option {', '.join(map(repr, bad))}; its options: "
            f"{', '.join(tracker_options(name)) or 'none'}"
        ) from None
    if post:  # check before building a (possibly slow to load) tracker
        from trackkit.mot import check_postprocess_options

        check_postprocess_options(**post)
    tracker = entry.build(**options)
    if post:
        from trackkit.mot import postprocessed

        tracker = postprocessed(tracker, **post)
    return tracker
