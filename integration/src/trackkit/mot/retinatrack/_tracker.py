"""RetinaTrack tracking: per-frame detections + embeddings, linked by an assoc tracker."""

from __future__ import annotations

import dataclasses
import itertools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

import assoc
import detheads
from trackkit.data import FrameSource, MOTRows, MOTSequence
from trackkit.mot import check_postprocess_options, postprocess_rows, track_frame_source
from trackkit.mot.retinatrack._network import (
    RetinaTrackNet,
    boxes_to_frame,
    load_retinatrack_checkpoint,
    preprocess_frames,
)
from trackkit.registry import RETINATRACK_ASSOCIATIONS, parse_tta_spec

__all__ = [
    "ACCURACY_CHECKPOINT",
    "ACCURACY_NMS_THRESHOLD",
    "ACCURACY_SCORE_THRESHOLD",
    "ACCURACY_WIDTH",
    "ASSOCIATIONS",
    "DEFAULT_CHECKPOINT",
    "EMBEDDING_GATE",
    "MOTION_BIRTH_THRESHOLD",
    "MOTION_SCORE_THRESHOLD",
    "TRACKING_IOU_SOURCE",
    "TRACKING_NMS_THRESHOLD",
    "TRACKING_SCORE_THRESHOLD",
    "DetectionTTA",
    "FrameDetections",
    "RetinaTrackMOT",
    "StageTimes",
    "detect_frames",
    "detect_passes",
    "fuse_passes",
    "load_default_network",
    "make_association",
]

#: The shipped network checkpoint (``trackkit train retinatrack``, see docs/mot.md).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "weights" / "retinatrack.pt"

#: The 640 px accuracy variant's network (docs/history/mot.md rule 6): the shipped network with a P6
#: level, fine-tuned at 640 px on 384 x 448 windows (``RetinaTrackNetConfig.extra_levels=1``).
ACCURACY_CHECKPOINT = DEFAULT_CHECKPOINT.with_name("retinatrack_p6.pt")
#: Input width of the accuracy variant.
ACCURACY_WIDTH: int = 640
#: Detection score / NMS thresholds of the accuracy variant, chosen like
#: :data:`TRACKING_SCORE_THRESHOLD` on the training sequences at 640 px (its IoU source and
#: embedding gate are the defaults', which its sweep chose too).
ACCURACY_SCORE_THRESHOLD: float = 0.4
ACCURACY_NMS_THRESHOLD: float = 0.4

#: Association choices: the paper's fused IoU + embedding similarity, its IoU-only and
#: embedding-only ablations (Lu et al. 2020, Table 3), SORT (Bewley et al. 2016), and IoU
#: with ``assoc``'s BoT-SORT-style Kalman motion model (row (e) of the benchmark, the best
#: tracker on these detections on the validation sequence, docs/mot.md), and the paper's fused
#: IoU + embedding similarity with that motion model (round 9 of docs/history/mot.md, row (g)).
#: Defined in the (torch-free) registry, which the command line reads without importing torch.
ASSOCIATIONS: tuple[str, ...] = RETINATRACK_ASSOCIATIONS

#: Associations that use ``assoc``'s BoT-SORT-style motion model by default.
_MOTION_ASSOCIATIONS: tuple[str, ...] = ("iou+motion", "iou+embedding+motion")


#: Score threshold of the tracker's detections, chosen on the *training* sequences
#: (``RETINATRACK_TRAIN_SEQUENCES``; never on validation) by ``benchmarks/retinatrack_settings.py``:
#: with :data:`TRACKING_NMS_THRESHOLD` and :data:`TRACKING_IOU_SOURCE` it maximises the mean
#: HOTA of the paper's association (``iou+embedding``) over TUD-Stadtmitte and PETS09-S3MF1 on
#: the grid score 0.4-0.7 x NMS 0.3-0.5 x IoU source (``docs/benchmarks/retinatrack_settings.md``).
TRACKING_SCORE_THRESHOLD: float = 0.55

#: NMS IoU threshold of the tracker's detections, chosen with :data:`TRACKING_SCORE_THRESHOLD`:
#: 0.4 instead of the detector's 0.5 removes second boxes on one person that otherwise start
#: extra tracks (the previous network's choice was 0.3).
TRACKING_NMS_THRESHOLD: float = 0.4

#: ``max_cosine_distance`` of the embedding associations (a pair is disallowed when its cosine
#: similarity is below ``1 - EMBEDDING_GATE = 0``): at the thresholds above and the paper's
#: equal weights, the gate of the best mean HOTA of ``iou+embedding`` on the training sequences
#: among 0.5, 1.0, 1.3, 1.6 and 2.0 (1.0-2.0 tie at 0.699, ties going to the first; 0.5:
#: 0.645). The 5th percentile of the cosine similarity of same-identity detection pairs 1-8
#: frames apart is 0.47; ``assoc``'s default 0.5 (cosine >= 0.5) vetoes 5 % of those true pairs.
EMBEDDING_GATE: float = 1.0

#: ``assoc.RetinaTrackConfig.iou_source`` of the RetinaTrack associations (``iou``,
#: ``iou+embedding``, ``embedding``): whether a detection's IoU with a track is the best over
#: the track's H stored boxes (``"history"``, the paper's reading) or with its newest box
#: (``"latest"``). Chosen with the thresholds above, by the same rule and on the same
#: training sequences (``docs/benchmarks/retinatrack_settings.md``).
TRACKING_IOU_SOURCE: str = "latest"

#: Score hysteresis of the ``iou+motion`` association (docs/mot.md, round 11): detections
#: scoring >= :data:`MOTION_SCORE_THRESHOLD` reach the tracker and may continue tracks, a new
#: track needs >= :data:`MOTION_BIRTH_THRESHOLD` (``assoc.RetinaTrackConfig.birth_threshold``,
#: ByteTrack's ``new_track_threshold``, Zhang et al. 2022). Chosen by rule 11 on the training
#: sequences (``benchmarks/retinatrack_hysteresis.py``: mean HOTA of ``iou+motion`` 0.618 vs
#: 0.603 with :data:`TRACKING_SCORE_THRESHOLD` alone, over low 0.25-0.55 x birth none / 0.55 /
#: 0.65 x ``min_hits`` 1-3); :class:`RetinaTrackMOT`'s default for ``iou+motion`` when its
#: ``score_threshold`` is left at ``"association"``. On the validation sequence it scored
#: HOTA 0.372 against 0.412 at 0.55 without a birth threshold (``score_threshold=0.55``).
MOTION_SCORE_THRESHOLD: float = 0.35
MOTION_BIRTH_THRESHOLD: float = 0.55


def make_association(name: str, **options: Any) -> Any:
    """An ``assoc`` tracker for one of :data:`ASSOCIATIONS`.

    ``iou+embedding``: ``assoc.RetinaTrackTracker`` (IoU truncated at 0.4, equal weights,
    H = 8 observations, tracks die after 40 unseen frames) with the embedding gate
    ``max_cosine_distance =`` :data:`EMBEDDING_GATE` calibrated on the training sequences;
    ``iou``: the same tracker fed no embeddings (IoU >= 0.3); both compare boxes as
    :data:`TRACKING_IOU_SOURCE` says (the same IoU for both); ``embedding``: IoU weight 0,
    embedding weight 1; ``sort``: ``assoc.SortTracker``; ``iou+motion``: ``iou`` with
    ``motion=assoc.StateLayout.botsort()`` (IoU against each track's Kalman-predicted box);
    ``iou+embedding+motion``: ``iou+embedding`` with that motion model (the predicted box
    counts as one more stored box of the track, with its newest embedding, in the fused IoU +
    embedding similarity; docs/history/mot.md round 9). ``options`` override config fields (e.g.
    ``birth_threshold`` and ``min_hits`` of the RetinaTrack associations: score hysteresis and
    online confirmation, docs/history/mot.md round 11; :class:`RetinaTrackMOT` sets ``iou+motion``'s
    birth threshold, not this function). The other
    RetinaTrack associations are the paper's tracker, without ``assoc``'s optional motion
    model (``motion=None``).
    """
    if name == "sort":
        return assoc.SortTracker(assoc.SortConfig(**options))
    if name not in ASSOCIATIONS:
        raise ValueError(f"association must be one of {ASSOCIATIONS}, got {name!r}")
    options = {
        "motion": assoc.StateLayout.botsort() if name in _MOTION_ASSOCIATIONS else None,
        "max_cosine_distance": EMBEDDING_GATE,
        "iou_source": TRACKING_IOU_SOURCE,
        **options,
    }
    if name == "embedding":
        options = {"iou_weight": 0.0, "embedding_weight": 1.0, **options}
    return assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(**options))


def _default_thresholds(association: str, tta: DetectionTTA | None) -> tuple[float, dict[str, Any]]:
    """The detection score threshold and association options of ``score_threshold =
    "association"``: ``iou+motion`` (without a TTA score of its own) gets round 11's
    hysteresis, every other association :data:`TRACKING_SCORE_THRESHOLD`."""
    if association == "iou+motion" and (tta is None or tta.score_threshold is None):
        return MOTION_SCORE_THRESHOLD, {"birth_threshold": MOTION_BIRTH_THRESHOLD}
    return TRACKING_SCORE_THRESHOLD, {}


def _uses_embeddings(name: str) -> bool:
    return name in ("iou+embedding", "embedding", "iou+embedding+motion")


@dataclass
class StageTimes:
    """Seconds spent per stage and frames processed (for FPS and its breakdown)."""

    preprocess: float = 0.0
    trunk_fpn: float = 0.0
    head: float = 0.0
    decode_nms: float = 0.0
    association: float = 0.0
    frames: int = 0

    def per_frame_ms(self) -> dict[str, float]:
        """Milliseconds per frame of every stage and the total."""
        n = max(1, self.frames)
        parts = {
            "preprocess": self.preprocess,
            "trunk+FPN": self.trunk_fpn,
            "head": self.head,
            "decode+NMS": self.decode_nms,
            "association": self.association,
        }
        out = {k: 1000.0 * v / n for k, v in parts.items()}
        out["total"] = sum(out.values())
        return out


@dataclass(frozen=True)
class FrameDetections:
    """Detections of one frame in frame pixels.

    Attributes:
        boxes_xyxy: ``float64 [D, 4]``; scores: ``float64 [D]``; embeddings: ``float32 [D, E]``.
    """

    boxes_xyxy: NDArray[np.float64]
    scores: NDArray[np.float64]
    embeddings: NDArray[np.float32]

    @classmethod
    def empty(cls, embedding_dim: int) -> FrameDetections:
        """No detections (e.g. for an unreadable frame)."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, embedding_dim), np.float32))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class DetectionTTA:
    """Test-time augmentation of the detector: several passes per frame, fused by WBF.

    Each pass runs the network on the frame resized to one of ``widths`` (``None``: the
    network's own width), and with ``flip`` also on its horizontal mirror image (mirrored back
    afterwards; a width's frames and mirrored frames go through the network as one batch). Each
    pass is decoded at ``pass_score_threshold`` and the tracker's NMS threshold; the passes of
    a frame are fused by ``detheads.weighted_box_fusion`` (Solovyev et al. 2021) at
    ``iou_threshold``: fused score = sum of the members' scores / number of passes (a pass that
    missed a person counts as 0, so detections only one pass finds are down-weighted), fused
    box = score-weighted mean, fused embedding = L2-normalised score-weighted mean. The fused
    detections then get the tracker's NMS again (WBF can leave two fused boxes that overlap more
    than the NMS threshold; not for a single pass, which comes back unchanged), the final score
    threshold
    (``score_threshold``; ``None``: the tracker's ``score_threshold``, which fused scores, on
    another scale than one pass's, may need re-choosing) and the top ``max_detections`` (each
    pass also keeps only its top ``max_detections`` at ``pass_score_threshold``).

    ``DetectionTTA.parse("flip,448,512,576")`` reads the command line's ``--tta``.
    """

    flip: bool = False
    widths: tuple[int, ...] | None = None
    iou_threshold: float = 0.55
    pass_score_threshold: float = 0.1
    score_threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.flip, bool):
            raise TypeError(f"flip must be a bool, got {type(self.flip).__name__}")
        if self.widths is not None:
            if isinstance(self.widths, (str, bytes)) or not isinstance(self.widths, (tuple, list)):
                raise TypeError(f"widths must be a tuple of ints, got {self.widths!r}")
            if len(self.widths) == 0:
                raise ValueError("widths must hold at least one width (or be None)")
            widths = tuple(_check_width(w) for w in self.widths)
            if len(set(widths)) != len(widths):
                raise ValueError(f"widths must be distinct, got {widths}")
            object.__setattr__(self, "widths", widths)
        for name in ("iou_threshold", "pass_score_threshold", "score_threshold"):
            value = getattr(self, name)
            if value is None and name == "score_threshold":
                continue
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        if self.iou_threshold <= 0.0:
            raise ValueError(f"iou_threshold must lie in (0, 1], got {self.iou_threshold!r}")

    @classmethod
    def parse(cls, spec: str) -> DetectionTTA:
        """``--tta`` text (``trackkit.registry.parse_tta_spec``): comma-separated ``flip``,
        input widths and optionally ``score=X`` (the final threshold on fused scores), e.g.
        ``flip``, ``448,512,576``, ``flip,448,512,576,score=0.45``. ``ValueError`` naming
        ``--tta`` otherwise."""
        flip, widths, score = parse_tta_spec(spec)
        try:
            return cls(flip=flip, widths=widths, score_threshold=score)
        except (TypeError, ValueError) as err:
            raise ValueError(f"--tta {spec!r}: {err}") from None

    def passes(self, default_width: int) -> list[tuple[int, bool]]:
        """The (input width, mirrored) pair of every pass, in fusion order."""
        widths = self.widths if self.widths is not None else (default_width,)
        return [(w, f) for w in widths for f in ((False, True) if self.flip else (False,))]


def _forward_decode(
    net: RetinaTrackNet,
    frames_bgr: list[NDArray[np.uint8]],
    width: int,
    times: StageTimes | None,
    score_threshold: float | None,
    nms_threshold: float | None,
) -> list[FrameDetections]:
    """One forward pass of a batch at one width; boxes in frame pixels clipped to the frame
    (boxes wholly outside it, in the padding, dropped: :func:`boxes_to_frame`)."""
    device = next(net.parameters()).device
    t0 = time.perf_counter()
    images, scale = preprocess_frames(frames_bgr, width, device=device)
    _sync(device)
    t1 = time.perf_counter()
    with torch.inference_mode():
        feats = net.features(images)
        _sync(device)
        t2 = time.perf_counter()
        outputs = net.run_head(feats)
        _sync(device)
        t3 = time.perf_counter()
        dets = net.decode(
            outputs,
            (images.shape[-2], images.shape[-1]),
            score_threshold=score_threshold,
            nms_threshold=nms_threshold,
        )
    result = []
    for d in dets:
        boxes, keep = boxes_to_frame(
            d["boxes_xyxy"].double().cpu().numpy(), scale, frames_bgr[0].shape[:2]
        )
        result.append(
            FrameDetections(
                boxes[keep],
                d["scores"].double().cpu().numpy()[keep],
                d["embeddings"].float().cpu().numpy()[keep],
            )
        )
    t4 = time.perf_counter()
    if times is not None:
        times.preprocess += t1 - t0
        times.trunk_fpn += t2 - t1
        times.head += t3 - t2
        times.decode_nms += t4 - t3
    return result


def detect_passes(
    net: RetinaTrackNet,
    frames_bgr: list[NDArray[np.uint8]],
    tta: DetectionTTA,
    *,
    nms_threshold: float | None = None,
    times: StageTimes | None = None,
) -> list[list[FrameDetections]]:
    """Every augmented pass of ``tta`` over a batch of same-size BGR frames, not yet fused.

    Returns, per frame, one :class:`FrameDetections` per pass in :meth:`DetectionTTA.passes`
    order (boxes in frame pixels, mirrored passes mirrored back), each decoded at
    ``tta.pass_score_threshold`` and ``nms_threshold`` (``None``: the network config's). One
    forward per width: the frames and their mirror images form one batch.
    """
    w_frame = frames_bgr[0].shape[1] if len(frames_bgr) else 0
    out: list[list[FrameDetections]] = [[] for _ in frames_bgr]
    for width, group in itertools.groupby(tta.passes(net.config.input_width), key=lambda p: p[0]):
        flips = [f for _, f in group]
        batch = list(frames_bgr)
        if True in flips:
            batch += [np.ascontiguousarray(f[:, ::-1]) for f in frames_bgr]
        dets = _forward_decode(net, batch, width, times, tta.pass_score_threshold, nms_threshold)
        n = len(frames_bgr)
        for i in range(n):
            for flipped in flips:
                d = dets[n + i] if flipped else dets[i]
                if flipped:
                    b = d.boxes_xyxy.copy()
                    b[:, [0, 2]] = w_frame - d.boxes_xyxy[:, [2, 0]]
                    d = FrameDetections(b, d.scores, d.embeddings)
                out[i].append(d)
    return out


def fuse_passes(
    passes: list[FrameDetections],
    *,
    iou_threshold: float = 0.55,
    nms_threshold: float = TRACKING_NMS_THRESHOLD,
    score_threshold: float = 0.0,
    max_detections: int = 100,
) -> FrameDetections:
    """One frame's detections from its augmented passes (``detheads.weighted_box_fusion``).

    The passes' detections are fused (:class:`DetectionTTA` explains the scores), then NMS at
    ``nms_threshold`` (``detheads.nms_mask``; skipped for a single pass, whose decoder applied
    it already, in network pixels before the boxes were clipped to the frame, so that one pass
    comes back unchanged), fused score >= ``score_threshold`` and the top ``max_detections``
    by fused score, as in one pass's decoding.

    Raises:
        ValueError: no passes.
    """
    if len(passes) == 0:
        raise ValueError("passes must hold at least one pass's detections")
    dim = passes[0].embeddings.shape[1]
    boxes = torch.from_numpy(np.concatenate([p.boxes_xyxy for p in passes]).reshape(-1, 4))
    scores = torch.from_numpy(np.concatenate([p.scores for p in passes]))
    emb = torch.from_numpy(np.concatenate([p.embeddings for p in passes]).reshape(-1, dim))
    index = torch.from_numpy(
        np.concatenate([np.full(len(p.scores), i) for i, p in enumerate(passes)])
    )
    fused = detheads.weighted_box_fusion(
        boxes, scores, index.long(), len(passes), iou_threshold=iou_threshold, embeddings=emb
    )
    if len(passes) > 1:
        keep = detheads.nms_mask(fused.boxes_xyxy, fused.scores, nms_threshold)
    else:  # one pass: fusion is the identity and its decoder already applied NMS
        keep = torch.ones_like(fused.scores, dtype=torch.bool)
    keep &= fused.scores >= score_threshold
    idx = torch.nonzero(keep).reshape(-1)[:max_detections]  # already sorted by fused score
    assert fused.embeddings is not None
    return FrameDetections(
        fused.boxes_xyxy[idx].numpy(),
        fused.scores[idx].numpy(),
        fused.embeddings[idx].numpy().astype(np.float32, copy=False),
    )


def detect_frames(
    net: RetinaTrackNet,
    frames_bgr: list[NDArray[np.uint8]],
    *,
    times: StageTimes | None = None,
    score_threshold: float | None = None,
    nms_threshold: float | None = None,
    input_width: int | None = None,
    tta: DetectionTTA | None = None,
) -> list[FrameDetections]:
    """Detections and embeddings of a batch of same-size BGR frames (one forward pass).

    Frames are resized to ``input_width`` pixels wide (``None``: ``net.config.input_width``,
    the width the network was trained at; the network is fully convolutional, so another
    width only changes the pixel size of the people it sees); boxes come back in frame pixels,
    clipped to the frame. ``times`` (optional) accumulates per-stage seconds.
    ``score_threshold`` / ``nms_threshold`` override the network config's (``None``: keep).
    ``tta`` (default ``None``: off, one pass): test-time augmentation, :class:`DetectionTTA`
    (one forward per width; ``input_width`` is then the width of a ``tta`` without
    ``widths``); ``score_threshold`` then applies to the fused scores unless ``tta`` sets
    its own.

    Raises:
        ValueError: a frame that is not an ``HxWx3`` uint8 image, an empty frame, or frames of
            different sizes (from :func:`preprocess_frames`).
    """
    width = net.config.input_width if input_width is None else _check_width(input_width)
    if tta is None:
        result = _forward_decode(net, frames_bgr, width, times, score_threshold, nms_threshold)
        if times is not None:
            times.frames += len(frames_bgr)
        return result
    if tta.widths is None:
        tta = dataclasses.replace(tta, widths=(width,))
    per_frame = detect_passes(net, frames_bgr, tta, nms_threshold=nms_threshold, times=times)
    t1 = time.perf_counter()
    cfg = net.config
    final = tta.score_threshold if tta.score_threshold is not None else score_threshold
    result = [
        fuse_passes(
            passes,
            iou_threshold=tta.iou_threshold,
            nms_threshold=cfg.nms_threshold if nms_threshold is None else nms_threshold,
            score_threshold=cfg.score_threshold if final is None else final,
            max_detections=cfg.max_detections,
        )
        for passes in per_frame
    ]
    if times is not None:
        times.decode_nms += time.perf_counter() - t1
        times.frames += len(frames_bgr)
    return result


def _check_width(input_width: Any) -> int:
    if isinstance(input_width, bool) or not isinstance(input_width, (int, np.integer)):
        raise TypeError(f"input_width must be an int, got {type(input_width).__name__}")
    if input_width < 32:
        raise ValueError(f"input_width must be >= 32, got {input_width}")
    return int(input_width)


def load_default_network(device: torch.device | str | None = None) -> RetinaTrackNet:
    """The shipped network (:data:`DEFAULT_CHECKPOINT`), in eval mode."""
    net, _ = load_retinatrack_checkpoint(DEFAULT_CHECKPOINT, device=device)
    return net


@dataclass
class RetinaTrackMOT:
    """RetinaTrack as an online multi-object tracker of raw frames (Lu et al. 2020, Sec. 3.5).

    Per frame: the network's detections (score threshold, NMS, top 100) with one embedding
    each, then the association tracker (:func:`make_association`). :meth:`update` tracks one
    frame; :meth:`track_frames` a whole video or image folder; :meth:`track` a MOTChallenge
    sequence (the :class:`trackkit.eval.SequenceMOTTracker` protocol of the evaluation runner).

    Args:
        net: the network; the shipped checkpoint when omitted.
        association: one of :data:`ASSOCIATIONS` (default the paper's ``iou+embedding``).
        association_options: config overrides for :func:`make_association`, e.g.
            ``{"birth_threshold": 0.55, "min_hits": 2}`` (``assoc.RetinaTrackConfig``: a new
            track needs a detection scoring >= 0.55; a track is reported from its second
            consecutive hit on, never retroactively; docs/mot.md round 11).
        score_threshold: detection score threshold, the *low* one when the association has a
            birth threshold. ``"association"`` (default): :data:`TRACKING_SCORE_THRESHOLD`,
            chosen on the training sequences, except for ``iou+motion``, which then gets
            round 11's score hysteresis (:data:`MOTION_SCORE_THRESHOLD` 0.35 and, unless
            ``association_options`` sets one, ``birth_threshold =``
            :data:`MOTION_BIRTH_THRESHOLD` 0.55; with a ``tta`` that sets its own score,
            :data:`TRACKING_SCORE_THRESHOLD` and no birth threshold). A number: that
            threshold, and no default birth threshold. ``None``: the network config's.
            After construction the attribute holds the number (or ``None``) in use.
        nms_threshold: NMS IoU threshold (default :data:`TRACKING_NMS_THRESHOLD`; ``None``:
            the network config's).
        min_score: detections scoring below this are dropped before association (on top of
            ``score_threshold``).
        input_width: frames are resized to this width before the network (``None``: the
            network's ``config.input_width``, 512 for the shipped CPU-sized variant; 640 is the
            accuracy variant of ``benchmarks/retinatrack.py``, about 1.5x slower).
        device: where the network runs (the network's device when omitted).
        progress: tqdm bar over the frames of :meth:`track` / :meth:`track_frames`.
        interpolate: offline post-processing of :meth:`track_frames` / :meth:`track`: fill
            each track's gaps of at most this many missing frames linearly
            (``assoc.interpolate_tracks``; ``None``/0: off, the default). :meth:`update`
            stays online and never post-processes.
        min_track_length: offline: drop tracks with fewer reported boxes, before
            ``interpolate`` (``assoc.drop_short_tracks``; ``None``/1: off, the default).
            Both are off by default: on the training sequences the best setting (gaps up to
            10 frames) raised the default tracker's mean HOTA by 0.007, below the 0.02 that
            docs/history/mot.md's rule 7 asked for a default.
        smooth: offline: after ``interpolate``, smooth each track's boxes by Gaussian-process
            regression with length-scale parameter ``tau0 = smooth``
            (``assoc.smooth_tracks``, Du et al. 2023; ``None``/0: off, the default: with
            gaps up to 10 frames and ``tau0`` 10, the best on the training sequences, the
            default tracker's mean HOTA rose by 0.013, below docs/history/mot.md rule 8's 0.02).
        tta: test-time augmentation of the detector (:class:`DetectionTTA`: mirrored frames
            and/or several input widths, fused by weighted box fusion; a ``--tta`` string is
            parsed by :meth:`DetectionTTA.parse`); ``None``: off, the default (one pass).
            ``score_threshold`` then applies to the fused scores unless the ``tta`` sets its
            own (docs/history/mot.md, round 10).
    """

    net: RetinaTrackNet | None = None
    association: str = "iou+embedding"
    association_options: dict[str, Any] = field(default_factory=dict)
    score_threshold: float | str | None = "association"
    nms_threshold: float | None = TRACKING_NMS_THRESHOLD
    min_score: float = 0.0
    input_width: int | None = None
    device: torch.device | str | None = None
    progress: bool = False
    interpolate: int | None = None
    min_track_length: int | None = None
    smooth: float | None = None
    tta: DetectionTTA | None = None
    times: StageTimes = field(default_factory=StageTimes)

    def __post_init__(self) -> None:
        if self.net is None:
            self.net = load_default_network(self.device)
        elif self.device is not None:
            self.net = self.net.to(self.device)
        self.net.eval()
        if self.input_width is not None:
            self.input_width = _check_width(self.input_width)
        if not np.isfinite(self.min_score):
            raise ValueError(f"min_score must be a finite number, got {self.min_score}")
        if isinstance(self.tta, str):
            self.tta = DetectionTTA.parse(self.tta)
        if self.tta is not None and not isinstance(self.tta, DetectionTTA):
            raise TypeError(f"tta must be a DetectionTTA, a --tta string or None, got {self.tta!r}")
        if not isinstance(self.association_options, dict):
            raise TypeError(
                f"association_options must be a dict, got {type(self.association_options).__name__}"
            )
        if isinstance(self.score_threshold, str):
            if self.score_threshold != "association":
                raise ValueError(
                    "score_threshold must be a number in [0, 1], None or 'association', got "
                    f"{self.score_threshold!r}"
                )
            score, defaults = _default_thresholds(self.association, self.tta)
            self.score_threshold = score
            self.association_options = {**defaults, **self.association_options}
        for name in ("score_threshold", "nms_threshold"):
            value = getattr(self, name)
            if value is not None and not (0.0 <= value <= 1.0):
                raise ValueError(f"{name} must lie in [0, 1] or be None, got {value!r}")
        check_postprocess_options(self.interpolate, self.min_track_length, self.smooth)
        self.tracker = make_association(self.association, **self.association_options)

    @classmethod
    def p6_variant(
        cls, *, device: torch.device | str | None = None, **options: Any
    ) -> RetinaTrackMOT:
        """The ``p6-640`` variant: :data:`ACCURACY_CHECKPOINT` (P3-P6) at
        :data:`ACCURACY_WIDTH` (640 px) with :data:`ACCURACY_SCORE_THRESHOLD` /
        :data:`ACCURACY_NMS_THRESHOLD`. ``options`` are the other fields (``association``,
        ``min_score``, ``progress``, ...) or overrides of those.

        Named for what it is, a P6 network at 640 px, not for a gain: on the validation
        sequence (TUD-Campus) it tracked worse than the default 512 px network (best HOTA
        0.323 vs 0.412; docs/history/mot.md, round 6). It is meant for scenes whose people are too
        tall for the default network's anchors at 512 px. (The ``ACCURACY_*`` constants keep
        their round-6 names.)"""
        net, _ = load_retinatrack_checkpoint(ACCURACY_CHECKPOINT, device=device)
        settings: dict[str, Any] = {
            "input_width": ACCURACY_WIDTH,
            "score_threshold": ACCURACY_SCORE_THRESHOLD,
            "nms_threshold": ACCURACY_NMS_THRESHOLD,
        }
        return cls(net, device=device, **{**settings, **options})

    @classmethod
    def accuracy_variant(
        cls, *, device: torch.device | str | None = None, **options: Any
    ) -> RetinaTrackMOT:
        """Deprecated name of :meth:`p6_variant` (it tracked worse than the default, so
        "accuracy" misnamed it); warns with ``DeprecationWarning``."""
        warnings.warn(
            "RetinaTrackMOT.accuracy_variant() is deprecated, use p6_variant() (the same "
            "640 px P6 network)",
            DeprecationWarning,
            stacklevel=2,
        )
        return cls.p6_variant(device=device, **options)

    def detect(self, frame_bgr: NDArray[np.uint8]) -> FrameDetections:
        """One frame's detections with this tracker's thresholds (stage times accumulate)."""
        assert self.net is not None and not isinstance(self.score_threshold, str)
        (det,) = detect_frames(
            self.net,
            [frame_bgr],
            times=self.times,
            score_threshold=self.score_threshold,
            nms_threshold=self.nms_threshold,
            input_width=self.input_width,
            tta=self.tta,
        )
        return det

    def reset(self) -> None:
        """Forget all tracks (call between sequences); stage times are kept."""
        self.tracker.reset()

    def associate(self, det: FrameDetections) -> assoc.Tracks:
        """Feed one frame's detections to the association tracker."""
        t0 = time.perf_counter()
        keep = det.scores >= self.min_score
        emb = det.embeddings[keep] if _uses_embeddings(self.association) else None
        out = self.tracker.update(det.boxes_xyxy[keep], det.scores[keep], emb)
        self.times.association += time.perf_counter() - t0
        return out  # type: ignore[no-any-return]

    def update(self, frame_bgr: NDArray[np.uint8]) -> assoc.Tracks:
        """Track one ``HxWx3`` uint8 BGR frame; ``ValueError`` for anything else."""
        return self.associate(self.detect(frame_bgr))

    def track_frames(
        self,
        frames: FrameSource,
        *,
        skip_bad_frames: bool = False,
        on_frame: Callable[[int, NDArray[np.uint8] | None, assoc.Tracks], None] | None = None,
    ) -> tuple[MOTRows, list[int]]:
        """Track every frame of ``frames`` from a fresh state.

        Args:
            frames: a frame source (``trackkit.data.open_frames``: video or image folder).
            skip_bad_frames: documented fallback for unreadable frames (a corrupt image file,
                a video frame that fails to decode, an empty image): the frame is tracked as
                a frame without detections (tracks age by one frame) and its index is
                returned. Without it such a frame raises ``ValueError`` naming it.
            on_frame: called with ``(index, frame or None, tracks)`` after every frame (the
                CLI's annotated video).

        Returns:
            ``(rows, bad_frames)``: MOTChallenge rows (0-based frames, boxes xywh, track ids,
            detection scores; post-processed when ``interpolate`` / ``min_track_length`` /
            ``smooth`` are set, while ``on_frame`` sees the online tracks) and the indices of
            skipped frames.
        """
        assert self.net is not None
        self.reset()
        dim = self.net.config.embedding_dim
        rows, bad = track_frame_source(
            frames,
            self.detect,
            self.associate,
            lambda: FrameDetections.empty(dim),
            skip_bad_frames=skip_bad_frames,
            on_frame=on_frame,
            progress=self.progress,
            desc="retinatrack",
        )
        post = postprocess_rows(
            rows,
            interpolate=self.interpolate,
            min_track_length=self.min_track_length,
            smooth=self.smooth,
        )
        return post, bad

    def track(self, sequence: MOTSequence) -> tuple[MOTRows, float]:
        """Track a MOTChallenge sequence's frames; returns the tracks and the seconds spent.

        Raises:
            ValueError: the sequence has no images (``img1/``).
        """
        if sequence.frames is None:
            raise ValueError(f"sequence {sequence.name!r} has no images (img1/) to detect on")
        t0 = time.perf_counter()
        rows, _ = self.track_frames(sequence.frames)
        return rows, time.perf_counter() - t0
