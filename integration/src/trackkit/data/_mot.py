"""MOTChallenge data: annotation rows, sequences with ``seqinfo.ini`` and the folder reader.

File format (MOTChallenge, 1-based frames and pixels)::

    frame, id, bb_left, bb_top, bb_width, bb_height, conf, x, y, z        (MOT15, 10 columns)
    frame, id, bb_left, bb_top, bb_width, bb_height, consider, class, vis (MOT16/17/20 gt)
    frame, -1, bb_left, bb_top, bb_width, bb_height, score[, ...]        (det.txt)

In memory (:class:`MOTRows`) frames are **0-based frame indices** (file frame 1 -> 0, the
index into the sequence's frames) and boxes are 0-based ``xywh`` (file ``bb_left - 1``), the
trackkit convention; :func:`write_mot_rows` converts back.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.data._dataset import Dataset
from trackkit.data._sequence import FrameSource, ImageFiles
from trackkit.data._simple import list_images
from trackkit.data._text import line_of_row, read_numeric_rows

__all__ = [
    "MOT17_CLASSES",
    "MOTRows",
    "MOTSequence",
    "is_mot_sequence",
    "read_mot_rows",
    "read_motchallenge",
    "read_seqinfo",
    "write_mot_rows",
]

#: MOT16/17/20 ground-truth classes (Milan et al. 2016, table 4).
MOT17_CLASSES: dict[int, str] = {
    1: "pedestrian",
    2: "person_on_vehicle",
    3: "car",
    4: "bicycle",
    5: "motorbike",
    6: "non_mot_vehicle",
    7: "static_person",
    8: "distractor",
    9: "occluder",
    10: "occluder_on_ground",
    11: "occluder_full",
    12: "reflection",
    13: "crowd",
}


@dataclass(frozen=True)
class MOTRows:
    """Annotation or tracker rows of one sequence, column arrays of equal length ``N``.

    Attributes:
        frames: ``int64 [N]`` 0-based frame index.
        ids: ``int64 [N]`` track/object id (-1 for detections).
        boxes_xywh: ``float64 [N, 4]`` 0-based pixels.
        confidences: ``float64 [N]`` column 7: detection/track score, or in ground truth the
            "consider" flag (0 = ignore this row; MOT15 uses 1/0, PETS -1 = evaluate).
        classes: ``int64 [N]`` MOT16/17/20 class (1 = pedestrian); 1 when the file has none.
        visibility: ``float64 [N]`` MOT16/17/20 visibility ratio; 1 when the file has none.
    """

    frames: NDArray[Any]
    ids: NDArray[Any]
    boxes_xywh: NDArray[Any]
    confidences: NDArray[Any]
    classes: NDArray[Any] = field(default_factory=lambda: np.zeros(0, np.int64))
    visibility: NDArray[Any] = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = np.asarray(self.frames).shape[0]
        cols: dict[str, Any] = {
            "frames": np.asarray(self.frames, dtype=np.int64).reshape(-1),
            "ids": np.asarray(self.ids, dtype=np.int64).reshape(-1),
            "boxes_xywh": np.asarray(self.boxes_xywh, dtype=np.float64).reshape(-1, 4),
            "confidences": np.asarray(self.confidences, dtype=np.float64).reshape(-1),
        }
        classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        visibility = np.asarray(self.visibility, dtype=np.float64).reshape(-1)
        cols["classes"] = classes if classes.size == n else np.ones(n, dtype=np.int64)
        cols["visibility"] = visibility if visibility.size == n else np.ones(n)
        for name, arr in cols.items():
            if arr.shape[0] != n:
                raise ValueError(f"MOTRows.{name} has {arr.shape[0]} rows, frames has {n}")
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @classmethod
    def empty(cls) -> MOTRows:
        """No rows."""
        return cls(np.zeros(0), np.zeros(0), np.zeros((0, 4)), np.zeros(0))

    @classmethod
    def concatenate(cls, parts: list[MOTRows]) -> MOTRows:
        """Rows of several :class:`MOTRows` one after another."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.boxes_xywh for p in parts]),
            np.concatenate([p.confidences for p in parts]),
            np.concatenate([p.classes for p in parts]),
            np.concatenate([p.visibility for p in parts]),
        )

    def select(self, mask_or_index: ArrayLike) -> MOTRows:
        """Rows picked by a boolean mask or an index array."""
        idx = np.asarray(mask_or_index)
        return MOTRows(
            self.frames[idx],
            self.ids[idx],
            self.boxes_xywh[idx],
            self.confidences[idx],
            self.classes[idx],
            self.visibility[idx],
        )

    def at_frame(self, frame: int) -> MOTRows:
        """Rows of one 0-based frame."""
        return self.select(self.frames == frame)

    def split_by_frame(self, num_frames: int) -> list[NDArray[np.int64]]:
        """Row indices of each frame ``0 .. num_frames-1`` (stable order within a frame)."""
        if len(self) and (self.frames.min() < 0 or self.frames.max() >= num_frames):
            raise ValueError(
                f"rows have frames {self.frames.min()}..{self.frames.max()} (0-based) outside "
                f"0..{num_frames - 1}"
            )
        order = np.argsort(self.frames, kind="stable")
        bounds = np.searchsorted(self.frames[order], np.arange(num_frames + 1))
        return [order[bounds[t] : bounds[t + 1]] for t in range(num_frames)]

    @property
    def boxes_xyxy(self) -> NDArray[np.float64]:
        """Boxes as corners ``float64 [N, 4]``."""
        b = self.boxes_xywh
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def _check_frames(rows: MOTRows, path: str | Path, num_frames: int) -> None:
    """``ValueError`` naming file and line when a row's frame lies beyond ``num_frames``."""
    if len(rows) and rows.frames.max() >= num_frames:
        i = int(np.argmax(rows.frames))
        raise ValueError(
            f"{path}:{line_of_row(path, i)}: frame {rows.frames[i] + 1} is beyond the "
            f"sequence's {num_frames} frames (seqLength)"
        )


def read_mot_rows(
    path: str | Path, *, mot17_columns: bool | None = None, num_frames: int | None = None
) -> MOTRows:
    """Read a MOTChallenge ``gt.txt``, ``det.txt`` or tracker result file.

    Args:
        path: the text file (comma, tab or space separated; at least 6 columns).
        mot17_columns: whether columns 8-9 are MOT16/17/20 ``class, visibility``. ``None``
            (default) decides by the column count: exactly 9 columns -> yes; 10 (MOT15, world
            coordinates) or 7 (detections) -> no.
        num_frames: the sequence's length; a row of a later frame is then a ``ValueError``
            naming file and line (default: not checked).

    Returns :class:`MOTRows` with 0-based frames and boxes.

    Raises:
        ValueError: naming the file and line, for fewer than 6 columns, a frame number that is
            not an integer >= 1, a NaN / infinite frame, id, box coordinate or score (a NaN
            box would otherwise match nothing and be scored silently as a false positive), or a
            negative width or height.
    """
    rows = read_numeric_rows(path)
    if rows.shape[0] == 0:
        return MOTRows.empty()
    if rows.shape[1] < 6:
        raise ValueError(f"{path}: MOTChallenge rows need at least 6 columns, got {rows.shape[1]}")
    checked = rows[:, : min(rows.shape[1], 7)]
    bad = ~np.isfinite(checked).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        names = ["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf"]
        cols = [names[j] for j in np.flatnonzero(~np.isfinite(checked[i]))]
        raise ValueError(
            f"{path}:{line_of_row(path, i)}: {', '.join(cols)} is not a finite number "
            f"({int(bad.sum())} such row(s) in the file)"
        )
    bad = (rows[:, 0] < 1) | (rows[:, 0] != np.round(rows[:, 0]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}:{line_of_row(path, i)}: frame {rows[i, 0]:g}: frame numbers (column 1) must "
            "be integers >= 1 (MOTChallenge files count frames from 1)"
        )
    negative = (rows[:, 4] < 0) | (rows[:, 5] < 0)
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise ValueError(
            f"{path}:{line_of_row(path, i)}: box width {rows[i, 4]:g}, height {rows[i, 5]:g}: "
            f"a negative width or height ({int(negative.sum())} such row(s) in the file)"
        )
    if mot17_columns is None:
        mot17_columns = rows.shape[1] == 9
    n = rows.shape[0]
    conf = rows[:, 6] if rows.shape[1] > 6 else np.ones(n)
    boxes = rows[:, 2:6].copy()
    boxes[:, :2] -= 1.0
    classes = rows[:, 7].astype(np.int64) if mot17_columns else np.ones(n, dtype=np.int64)
    vis = rows[:, 8] if mot17_columns and rows.shape[1] > 8 else np.ones(n)
    out = MOTRows(rows[:, 0].astype(np.int64) - 1, rows[:, 1], boxes, conf, classes, vis)
    if num_frames is not None:
        _check_frames(out, path, num_frames)
    return out


def write_mot_rows(path: str | Path, rows: MOTRows) -> None:
    """Write rows as a MOTChallenge tracker result file (1-based frames and pixels).

    Columns: ``frame, id, bb_left, bb_top, bb_width, bb_height, conf, -1, -1, -1``, sorted by
    frame then id.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = np.lexsort((rows.ids, rows.frames))
    lines = []
    for i in order:
        x, y, w, h = rows.boxes_xywh[i]
        lines.append(
            f"{rows.frames[i] + 1},{rows.ids[i]},{x + 1:.3f},{y + 1:.3f},{w:.3f},{h:.3f},"
            f"{rows.confidences[i]:.5g},-1,-1,-1"
        )
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


_SEQINFO_KEYS = {
    "seqlength": "seqLength",
    "imwidth": "imWidth",
    "imheight": "imHeight",
    "framerate": "frameRate",
}


def read_seqinfo(path: str | Path, *, optional_length: bool = False) -> dict[str, Any]:
    """Read a MOTChallenge ``seqinfo.ini`` (``[Sequence]`` section) with typed numbers.

    Keys are lower case (``seqlength``, ``imdir``, ...); a blank value counts as missing. A
    missing ``seqLength`` is a ``ValueError`` unless ``optional_length``; a number that is not
    one (``seqLength=five``, a negative size) is a ``ValueError`` naming the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"seqinfo.ini not found: {path}")
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8-sig"))  # a BOM from Windows editors
    except configparser.Error as err:
        raise ValueError(f"{path}: not a valid ini file ({err.__class__.__name__})") from None
    section = next((n for n in parser.sections() if n.lower() == "sequence"), None)
    if section is None:
        raise ValueError(f"{path}: no [Sequence] section")
    info: dict[str, Any] = dict(parser[section])
    for key, name in _SEQINFO_KEYS.items():
        text = str(info.pop(key, "")).strip()
        if not text:  # a blank value counts as a missing one
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < 0 or (key != "framerate" and value != int(value)):
            kind = "a number >= 0" if key == "framerate" else "an integer >= 0"
            raise ValueError(f"{path}: {name}={text!r} is not {kind}")
        info[key] = value if key == "framerate" else int(value)
    if "seqlength" not in info and not optional_length:
        raise ValueError(f"{path}: seqLength missing")
    return info


@dataclass(frozen=True)
class MOTSequence:
    """One MOTChallenge sequence.

    Attributes:
        name: sequence name.
        num_frames: ``seqLength`` of ``seqinfo.ini``.
        frames: lazy frames (``img1``) or ``None`` when the sequence has no images.
        gt: ground-truth rows or ``None``; det: public detections or ``None``.
        frame_rate: frames per second; image_size: ``(width, height)`` (0 if unknown).
        meta: the rest of ``seqinfo.ini``.
    """

    name: str
    num_frames: int
    frames: FrameSource | None
    gt: MOTRows | None
    det: MOTRows | None
    frame_rate: float = 0.0
    image_size: tuple[int, int] = (0, 0)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.num_frames


def is_mot_sequence(folder: str | Path) -> bool:
    """Whether ``folder`` is one MOTChallenge sequence: it has a ``seqinfo.ini``, or (the
    fallback of :func:`read_motchallenge` for folders without one) an ``img1/`` folder, a
    ``gt/gt.txt`` or a ``det/det.txt``."""
    folder = Path(folder)
    return (folder / "seqinfo.ini").is_file() or any(
        (folder / part).exists() for part in ("img1", "gt/gt.txt", "det/det.txt")
    )


def _sequence_images(img_dir: Path, ext: str | None) -> list[Path]:
    """The frames of ``img_dir``: the files with seqinfo's ``imExt`` when there are any (a
    stray thumbnail of another type is left out), else every image (:func:`list_images`)."""
    images = list_images(img_dir)
    if ext:
        suffix = ext.strip().lower()
        suffix = suffix if suffix.startswith(".") else f".{suffix}"
        same = [p for p in images if p.suffix.lower() == suffix]
        if same:
            return same
    return images


def read_motchallenge(
    root: str | Path, *, names: list[str] | None = None, mot17_columns: bool | None = None
) -> Dataset[MOTSequence]:
    """Read MOTChallenge sequences ``<root>/<SEQ>/{seqinfo.ini, gt/gt.txt, det/det.txt, img1/}``.

    Sequences are the sub-folders with a ``seqinfo.ini``; ``gt``, ``det`` and images are
    optional (MOT15 association-only data has no images). ``mot17_columns`` is passed to
    :func:`read_mot_rows` for ``gt.txt``. The frames are the images of ``imDir`` (default
    ``img1``) in natural order, only those with ``imExt`` when it is given and some have it.

    Fallback for sequences without ``seqinfo.ini`` (or without ``seqLength`` in it): a
    sub-folder with ``img1/``, ``gt/gt.txt`` or ``det/det.txt`` is a sequence too
    (:func:`is_mot_sequence`); its length is the number of images in ``img1/``, else the last
    frame of ``gt.txt`` and ``det.txt``. ``seq.meta["seqlength_from"]`` then says which
    (``"img1"`` or ``"gt/det"``), and the frame rate and image size are 0 (unknown).
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"MOTChallenge folder not found: {root}")
    available = sorted(p.name for p in root.iterdir() if p.is_dir() and is_mot_sequence(p))
    if names is None:
        names = available
    missing = [n for n in names if n not in available]
    if missing:
        raise FileNotFoundError(
            f"{root}: no sequences {missing} (need <SEQ>/seqinfo.ini, <SEQ>/img1/, "
            "<SEQ>/gt/gt.txt or <SEQ>/det/det.txt)"
        )
    if not names:
        raise FileNotFoundError(
            f"{root}: no sequence folders (<SEQ>/ with seqinfo.ini, img1/, gt/gt.txt or "
            "det/det.txt)"
        )

    def load(name: str) -> MOTSequence:
        folder = root / name
        ini = folder / "seqinfo.ini"
        info = read_seqinfo(ini, optional_length=True) if ini.is_file() else {"name": name}
        gt_path, det_path = folder / "gt" / "gt.txt", folder / "det" / "det.txt"
        gt = read_mot_rows(gt_path, mot17_columns=mot17_columns) if gt_path.is_file() else None
        det = read_mot_rows(det_path, mot17_columns=False) if det_path.is_file() else None
        img_dir = folder / str(info.get("imdir", "img1")).strip()
        images = _sequence_images(img_dir, info.get("imext")) if img_dir.is_dir() else None
        if "seqlength" not in info:  # the documented fallback
            if images is not None:
                info["seqlength"], info["seqlength_from"] = len(images), "img1"
            else:
                last = [int(r.frames.max()) + 1 for r in (gt, det) if r is not None and len(r)]
                info["seqlength"], info["seqlength_from"] = max(last, default=0), "gt/det"
        length = int(info["seqlength"])
        if length < 1:
            raise ValueError(
                f"{folder}: no frames (seqLength {length}; no images in {img_dir.name}/ and no "
                "rows in gt.txt or det.txt)"
            )
        for path, rows in ((gt_path, gt), (det_path, det)):
            if rows is not None:
                _check_frames(rows, path, length)
        frames = None
        if images is not None:
            if len(images) < length:
                raise ValueError(f"{img_dir}: {len(images)} images for seqLength {length}")
            frames = ImageFiles(images[:length])
        return MOTSequence(
            name=name,
            num_frames=length,
            frames=frames,
            gt=gt,
            det=det,
            frame_rate=float(info.get("framerate", 0.0)),
            image_size=(int(info.get("imwidth", 0)), int(info.get("imheight", 0))),
            meta=info,
        )

    return Dataset(root.name, list(names), load)
