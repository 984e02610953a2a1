"""Readers for the standard single-object benchmark layouts.

Every reader returns a :class:`Dataset` of :class:`Sequence` (annotations are read when a
sequence is first accessed, frames when they are indexed) with boxes in trackkit's 0-based
convention. Coordinate bases of the files:

==============  ==================================================  ====
benchmark       layout                                              base
==============  ==================================================  ====
OTB-2015        ``<Seq>/img/0001.jpg``, ``groundtruth_rect[.k].txt``  1
UAV123          ``anno/UAV123/<seq>.txt``, ``data_seq/UAV123/<video>/``  1
VOT             ``<seq>/groundtruth.txt`` (4 or 8 values), images    0
                in ``<seq>/color/`` or ``<seq>/``
GOT-10k         ``<seq>/00000001.jpg``, ``groundtruth.txt``,         0
                ``absence.label``
LaSOT           ``<class>/<class>-<k>/img/``, ``groundtruth.txt``,   1
                ``full_occlusion.txt``, ``out_of_view.txt``
TrackingNet     ``TRAIN_k/anno/<seq>.txt``, ``TRAIN_k/frames/<seq>/0.jpg``  0
==============  ==================================================  ====

Each reader takes ``coordinate_base=`` to override the default. Test splits that publish only
the first box (GOT-10k test, TrackingNet test) give NaN boxes for later frames with
``absent`` False (unknown, not absent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from trackkit.data._dataset import Dataset
from trackkit.data._sequence import ImageFiles, Sequence
from trackkit.data._simple import boxes_from_rows, is_image_file, list_images
from trackkit.data._text import read_numeric_rows

__all__ = [
    "OTB_START_FRAMES",
    "polygons_to_xywh",
    "read_got10k",
    "read_lasot",
    "read_otb",
    "read_trackingnet",
    "read_uav123",
    "read_vot",
]

#: OTB-2015 sequences whose annotation starts later than image 1 (Wu et al. 2015,
#: ``configSeqs``): first image number of the annotated range.
OTB_START_FRAMES: dict[str, int] = {
    "David": 300,
    "Tiger1": 6,
    "BlurCar1": 247,
    "BlurCar3": 3,
    "BlurCar4": 18,
}

_NUMBER = re.compile(r"(\d+)")


def _numbered_images(folder: Path) -> list[tuple[int, Path]]:
    """Images of ``folder`` with the last integer of their name, sorted by that number."""
    if not folder.is_dir():
        raise NotADirectoryError(f"image folder not found: {folder}")
    out = []
    for p in folder.iterdir():
        if not is_image_file(p):
            continue
        digits = _NUMBER.findall(p.stem)
        if not digits:
            raise ValueError(f"{p}: image name has no frame number")
        out.append((int(digits[-1]), p))
    out.sort()
    return out


def _frames_from(
    folder: Path, start: int, count: int, *, source: str
) -> tuple[ImageFiles, list[int]]:
    """The ``count`` images numbered ``start, start+1, ...`` of ``folder``."""
    numbered = dict(_numbered_images(folder))
    wanted = list(range(start, start + count))
    missing = [n for n in wanted if n not in numbered]
    if missing:
        raise ValueError(
            f"{source}: {count} boxes need images {start}..{start + count - 1} in {folder}; "
            f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}"
        )
    return ImageFiles([numbered[n] for n in wanted]), wanted


def _check_base(coordinate_base: int) -> int:
    if coordinate_base not in (0, 1):
        raise ValueError(f"coordinate_base must be 0 or 1, got {coordinate_base!r}")
    return coordinate_base


def _names(root: Path, found: list[str], names: list[str] | None, what: str) -> list[str]:
    if names is None:
        names = found
    missing = [n for n in names if n not in found]
    if missing:
        raise FileNotFoundError(f"{root}: no {what} sequences {missing}")
    if not names:
        raise FileNotFoundError(f"{root}: no {what} sequences found")
    return list(names)


def _root(root: str | Path, what: str) -> Path:
    path = Path(root)
    if not path.is_dir():
        raise NotADirectoryError(f"{what} folder not found: {path}")
    return path


def _first_box_only(boxes: NDArray[np.float64], length: int) -> NDArray[np.float64]:
    if boxes.shape[0] == length:
        return boxes
    out = np.full((length, 4), np.nan)
    out[: boxes.shape[0]] = boxes
    return out


# --------------------------------------------------------------------------- OTB-2015


def read_otb(
    root: str | Path,
    *,
    names: list[str] | None = None,
    start_frames: Mapping[str, int] | None = None,
    coordinate_base: int = 1,
) -> Dataset[Sequence]:
    """Read OTB-2013/2015 (``<Seq>/img/0001.jpg`` + ``groundtruth_rect.txt``).

    Annotation values may be separated by commas, tabs or spaces. A folder with
    ``groundtruth_rect.1.txt`` / ``.2.txt`` (Jogging, Skating2, Human4) gives sequences
    ``Jogging.1``, ``Jogging.2``. The annotated frames start at image ``start_frames[name]``
    (default :data:`OTB_START_FRAMES`, e.g. David from image 300; others from 1) and run for
    as many frames as there are boxes; extra images are ignored.
    """
    base = _check_base(coordinate_base)
    root = _root(root, "OTB")
    starts = dict(OTB_START_FRAMES if start_frames is None else start_frames)
    files: dict[str, Path] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for gt in sorted(folder.glob("groundtruth_rect*.txt")):
            m = re.fullmatch(r"groundtruth_rect(?:\.(\d+))?\.txt", gt.name)
            if m is None:
                continue
            files[folder.name + (f".{m.group(1)}" if m.group(1) else "")] = gt
    selected = _names(root, sorted(files), names, "OTB")

    def load(name: str) -> Sequence:
        gt = files[name]
        video = gt.parent.name
        boxes, absent = boxes_from_rows(
            read_numeric_rows(gt, min_cols=4), coordinate_base=base, source=str(gt)
        )
        start = int(starts.get(name, starts.get(video, 1)))
        frames, numbers = _frames_from(gt.parent / "img", start, len(boxes), source=str(gt))
        meta = {"benchmark": "OTB-2015", "coordinate_base_of_file": base, "frame_numbers": numbers}
        return Sequence(name, frames, boxes, absent, meta=meta)

    return Dataset("OTB-2015", selected, load)


# --------------------------------------------------------------------------- UAV123


def read_uav123(
    root: str | Path,
    *,
    subset: str = "UAV123",
    names: list[str] | None = None,
    frame_ranges: Mapping[str, tuple[int, int]] | None = None,
    coordinate_base: int = 1,
) -> Dataset[Sequence]:
    """Read UAV123 / UAV123_10fps / UAV20L (``anno/<subset>/<seq>.txt``, ``data_seq/<subset>/``).

    A sequence ``<video>_<k>`` without its own image folder is a sub-sequence of ``<video>``.
    Its first image is ``frame_ranges[name][0]`` if given; otherwise it is inferred the way the
    benchmark's ``configSeqs`` lays sub-sequences out: ``_1`` starts at image 1 and each next
    part starts on the last image of the previous one (consecutive parts share one frame).
    NaN lines mark frames where the target is absent.
    """
    base = _check_base(coordinate_base)
    root = _root(root, "UAV123")
    anno_dir = root / "anno" / subset
    data_dir = root / "data_seq" / subset
    if not anno_dir.is_dir():
        raise NotADirectoryError(f"UAV123 annotation folder not found: {anno_dir}")
    files = {p.stem: p for p in sorted(anno_dir.glob("*.txt"))}
    ranges = dict(frame_ranges or {})
    selected = _names(root, sorted(files), names, "UAV123")

    def length_of(name: str) -> int:
        return int(read_numeric_rows(files[name], min_cols=4).shape[0])

    def start_of(name: str) -> tuple[str, int]:
        if name in ranges:
            m = re.fullmatch(r"(.+)_(\d+)", name)
            video = name if (data_dir / name).is_dir() or m is None else m.group(1)
            return video, int(ranges[name][0])
        if (data_dir / name).is_dir():
            return name, 1
        m = re.fullmatch(r"(.+)_(\d+)", name)
        if m is None or not (data_dir / m.group(1)).is_dir():
            raise NotADirectoryError(f"{data_dir}: no image folder for sequence {name!r}")
        video, part = m.group(1), int(m.group(2))
        if part == 1:
            return video, 1
        prev = f"{video}_{part - 1}"
        if prev not in files:
            raise ValueError(
                f"cannot infer where {name!r} starts without {prev!r}; pass frame_ranges"
            )
        _, prev_start = start_of(prev)
        return video, prev_start + length_of(prev) - 1

    def load(name: str) -> Sequence:
        boxes, absent = boxes_from_rows(
            read_numeric_rows(files[name], min_cols=4),
            coordinate_base=base,
            source=str(files[name]),
        )
        video, start = start_of(name)
        frames, numbers = _frames_from(data_dir / video, start, len(boxes), source=str(files[name]))
        meta = {
            "benchmark": subset,
            "coordinate_base_of_file": base,
            "video": video,
            "frame_numbers": numbers,
        }
        return Sequence(name, frames, boxes, absent, meta=meta)

    return Dataset(subset, selected, load)


# --------------------------------------------------------------------------- VOT


def polygons_to_xywh(polygons: NDArray[np.float64]) -> NDArray[np.float64]:
    """Axis-aligned bounding boxes ``[T, 4]`` of polygons ``[T, 2K]`` (``x1,y1,...,xK,yK``).

    ``x = min x_i``, ``w = max x_i - min x_i`` (same for y); NaN rows stay NaN.
    """
    poly = np.asarray(polygons, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] < 6 or poly.shape[1] % 2:
        raise ValueError(f"polygons must have shape [T, 2K] with K >= 3, got {poly.shape}")
    xs, ys = poly[:, 0::2], poly[:, 1::2]
    x0, y0 = xs.min(axis=1), ys.min(axis=1)
    return np.stack([x0, y0, xs.max(axis=1) - x0, ys.max(axis=1) - y0], axis=1)


def read_vot(
    root: str | Path, *, names: list[str] | None = None, coordinate_base: int = 0
) -> Dataset[Sequence]:
    """Read a VOT short-term dataset (``<seq>/groundtruth.txt``, images in ``color/`` or ``.``).

    Lines with 8 values are polygons, turned into their axis-aligned bounding boxes (kept in
    ``seq.meta["polygons"]``); 4 values are ``x,y,w,h``. NaN lines mark absent targets.
    ``list.txt`` gives the order when present.
    """
    base = _check_base(coordinate_base)
    root = _root(root, "VOT")
    found = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    listing = root / "list.txt"
    if names is None and listing.is_file():
        names = [n.strip() for n in listing.read_text().splitlines() if n.strip()]
    selected = _names(root, found, names, "VOT")

    def load(name: str) -> Sequence:
        folder = root / name
        rows = read_numeric_rows(folder / "groundtruth.txt")
        meta: dict[str, object] = {"benchmark": "VOT", "coordinate_base_of_file": base}
        if rows.shape[1] >= 6:
            meta["polygons"] = rows - base
            rows = polygons_to_xywh(rows)
        boxes, absent = boxes_from_rows(rows, coordinate_base=base, source=str(folder))
        img_dir = folder / "color" if (folder / "color").is_dir() else folder
        images = [p for _, p in _numbered_images(img_dir)]
        if len(images) != len(boxes):
            raise ValueError(f"{folder}: {len(images)} images but {len(boxes)} boxes")
        return Sequence(name, ImageFiles(images), boxes, absent, meta=meta)

    return Dataset("VOT", selected, load)


# --------------------------------------------------------------------------- GOT-10k


def read_got10k(
    split_root: str | Path, *, names: list[str] | None = None, coordinate_base: int = 0
) -> Dataset[Sequence]:
    """Read one GOT-10k split folder (``train``, ``val`` or ``test``).

    ``<seq>/groundtruth.txt`` and ``<seq>/00000001.jpg ...``; ``absence.label`` (1 = absent)
    sets the absence mask and ``cover.label``/``cut_by_image.label`` go to ``seq.meta``. Test
    sequences have only the first box.
    """
    base = _check_base(coordinate_base)
    root = _root(split_root, "GOT-10k split")
    found = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    listing = root / "list.txt"
    if names is None and listing.is_file():
        names = [n.strip() for n in listing.read_text().splitlines() if n.strip()]
    selected = _names(root, found, names, "GOT-10k")

    def label(path: Path, length: int) -> NDArray[np.float64] | None:
        if not path.is_file():
            return None
        values = read_numeric_rows(path).reshape(-1)
        if values.size != length:
            raise ValueError(f"{path}: {values.size} labels for {length} frames")
        return values

    def load(name: str) -> Sequence:
        folder = root / name
        images = list_images(folder)
        rows = read_numeric_rows(folder / "groundtruth.txt", min_cols=4)
        boxes, absent = boxes_from_rows(rows, coordinate_base=base, source=str(folder))
        if boxes.shape[0] not in (1, len(images)):
            raise ValueError(f"{folder}: {len(images)} images but {rows.shape[0]} boxes")
        boxes = _first_box_only(boxes, len(images))
        absent_all = np.zeros(len(images), dtype=bool)
        absent_all[: absent.size] = absent
        absence = label(folder / "absence.label", len(images))
        if absence is not None:
            absent_all |= absence > 0
        meta: dict[str, object] = {"benchmark": "GOT-10k", "coordinate_base_of_file": base}
        for key in ("cover", "cut_by_image"):
            values = label(folder / f"{key}.label", len(images))
            if values is not None:
                meta[key] = values
        return Sequence(name, ImageFiles(images), boxes, absent_all, meta=meta)

    return Dataset("GOT-10k", selected, load)


# --------------------------------------------------------------------------- LaSOT


def read_lasot(
    root: str | Path, *, names: list[str] | None = None, coordinate_base: int = 1
) -> Dataset[Sequence]:
    """Read LaSOT (``<class>/<class>-<k>/img/00000001.jpg`` + ``groundtruth.txt``).

    The target is absent where ``full_occlusion.txt`` or ``out_of_view.txt`` has a 1 (those
    frames get NaN boxes; the file's box is kept in ``seq.meta["boxes_in_file"]``).
    ``names`` may be a split, e.g. the 280 names of ``testing_set.txt``.
    """
    base = _check_base(coordinate_base)
    root = _root(root, "LaSOT")
    folders = {p.parent.name: p.parent for p in sorted(root.glob("*/*/groundtruth.txt"))}
    selected = _names(root, sorted(folders), names, "LaSOT")

    def flags(path: Path, length: int) -> NDArray[np.bool_]:
        if not path.is_file():
            return np.zeros(length, dtype=bool)
        values = read_numeric_rows(path).reshape(-1)
        if values.size != length:
            raise ValueError(f"{path}: {values.size} flags for {length} frames")
        return values > 0

    def load(name: str) -> Sequence:
        folder = folders[name]
        boxes, absent = boxes_from_rows(
            read_numeric_rows(folder / "groundtruth.txt", min_cols=4),
            coordinate_base=base,
            source=str(folder),
        )
        n = len(boxes)
        invisible = flags(folder / "full_occlusion.txt", n) | flags(folder / "out_of_view.txt", n)
        frames, _ = _frames_from(folder / "img", 1, n, source=str(folder))
        meta = {
            "benchmark": "LaSOT",
            "coordinate_base_of_file": base,
            "class": folder.parent.name,
            "boxes_in_file": boxes.copy(),
        }
        return Sequence(name, frames, boxes, absent | invisible, meta=meta)

    return Dataset("LaSOT", selected, load)


# --------------------------------------------------------------------------- TrackingNet


def read_trackingnet(
    root: str | Path,
    *,
    chunks: list[str] | None = None,
    names: list[str] | None = None,
    coordinate_base: int = 0,
) -> Dataset[Sequence]:
    """Read TrackingNet (``<chunk>/anno/<seq>.txt`` and ``<chunk>/frames/<seq>/0.jpg ...``).

    ``chunks`` selects folders such as ``["TRAIN_0", "TEST"]`` (default: every sub-folder with
    an ``anno`` folder). Frames are numbered from 0 without zero padding (sorted numerically).
    The test chunk has only the first box.
    """
    base = _check_base(coordinate_base)
    root = _root(root, "TrackingNet")
    chunk_dirs = sorted(p for p in root.iterdir() if (p / "anno").is_dir())
    if chunks is not None:
        unknown = [c for c in chunks if not (root / c / "anno").is_dir()]
        if unknown:
            raise FileNotFoundError(f"{root}: no TrackingNet chunks {unknown} (need <chunk>/anno)")
        chunk_dirs = [root / c for c in chunks]
    files = {p.stem: p for c in chunk_dirs for p in sorted((c / "anno").glob("*.txt"))}
    selected = _names(root, sorted(files), names, "TrackingNet")

    def load(name: str) -> Sequence:
        anno = files[name]
        chunk = anno.parent.parent
        images = [p for _, p in _numbered_images(chunk / "frames" / name)]
        boxes, absent = boxes_from_rows(
            read_numeric_rows(anno, min_cols=4), coordinate_base=base, source=str(anno)
        )
        if boxes.shape[0] > len(images) or (boxes.shape[0] != len(images) and len(boxes) != 1):
            raise ValueError(f"{anno}: {len(boxes)} boxes for {len(images)} images")
        absent_all = np.zeros(len(images), dtype=bool)
        absent_all[: absent.size] = absent
        meta = {"benchmark": "TrackingNet", "coordinate_base_of_file": base, "chunk": chunk.name}
        return Sequence(
            name, ImageFiles(images), _first_box_only(boxes, len(images)), absent_all, meta=meta
        )

    return Dataset("TrackingNet", selected, load)
