"""Reader for the project's simple single-object layout (``../shared/data/sot``).

Layout: ``<root>/<seq>/img/000001.jpg ...`` and ``<root>/<seq>/groundtruth.txt`` with one
``x,y,w,h`` line per image (``NaN,NaN,NaN,NaN`` = target absent), plus ``<root>/manifest.json``
whose per-sequence ``coordinate_base`` (1 for OTB/UAV123/DTB70, 0 for VOT) says how the file's
numbers are based. Boxes are converted to trackkit's 0-based convention on reading.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.data._dataset import Dataset
from trackkit.data._sequence import ImageFiles, Sequence
from trackkit.data._text import line_of_row, read_numeric_rows

__all__ = [
    "IMAGE_SUFFIXES",
    "boxes_from_rows",
    "is_image_file",
    "list_images",
    "natural_key",
    "read_simple_sot",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key putting ``2.jpg`` before ``10.jpg``: runs of digits compare as numbers, the
    text between them as text, ties (``1.jpg``, ``01.jpg``) by the whole name."""
    parts = _DIGITS.split(name)  # text, digits, text, ...: one type per position
    return (*(int(t) if i % 2 else t for i, t in enumerate(parts)), name)


def is_image_file(path: Path) -> bool:
    """An image name: one of :data:`IMAGE_SUFFIXES` (any case), not hidden (``.DS_Store``,
    macOS's ``._0001.jpg`` resource forks on copied folders, editors' ``.#`` files)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder (:func:`is_image_file`: jpg, jpeg, png, bmp, tif, tiff, webp,
    hidden files left out) in natural order (:func:`natural_key`: ``1.jpg, 2.jpg, 10.jpg``;
    zero-padded names sort as before)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"image folder not found: {folder}")
    images = [p for p in folder.iterdir() if is_image_file(p) and not p.is_dir()]
    return sorted(images, key=lambda p: natural_key(p.name))


def boxes_from_rows(
    rows: np.ndarray, *, coordinate_base: int, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Turn annotation rows ``[T, 4]`` (``x,y,w,h``) into 0-based boxes and an absence mask.

    Rows with any NaN mark an absent target. ``coordinate_base`` 1 (MATLAB-style, top-left
    pixel = (1, 1)) shifts x and y by -1; 0 keeps them. A negative width or height is an
    annotation error, not an absent target: ``ValueError`` naming the file and line (when
    ``source`` is the file the rows came from).
    """
    if coordinate_base not in (0, 1):
        raise ValueError(f"coordinate_base must be 0 or 1, got {coordinate_base!r}")
    if rows.ndim != 2 or rows.shape[1] != 4:
        got = rows.shape[1] if rows.ndim == 2 else rows.shape
        hint = " (a VOT polygon file? read it with --format vot, read_vot)" if got == 8 else ""
        raise ValueError(f"{source}: expected 4 values per line (x,y,w,h), got {got}{hint}")
    boxes = rows.astype(np.float64).copy()
    with np.errstate(invalid="ignore"):
        negative = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        where = f"{source}:{line_of_row(source, i)}" if Path(source).is_file() else source
        raise ValueError(
            f"{where}: box {rows[i].tolist()} has a negative width or height (frame {i}; "
            f"{int(negative.sum())} such box(es)); mark an absent target with NaN,NaN,NaN,NaN"
        )
    boxes[:, :2] -= coordinate_base
    absent = np.asarray(np.isnan(boxes).any(axis=1), dtype=bool)
    return boxes, absent


def _read_manifest(root: Path) -> dict[str, dict[str, Any]]:
    path = root / "manifest.json"
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of sequence entries")
    return {str(e["name"]): dict(e) for e in entries}


def read_simple_sot(
    root: str | Path,
    *,
    coordinate_base: int | None = None,
    names: list[str] | None = None,
) -> Dataset[Sequence]:
    """Read the simple layout ``<root>/<seq>/{img/, groundtruth.txt}`` as a :class:`Dataset`.

    Args:
        root: dataset folder, e.g. ``../shared/data/sot``.
        coordinate_base: origin of the file's numbers. ``None`` (default) takes each
            sequence's ``coordinate_base`` from ``<root>/manifest.json`` (an error if the
            manifest or the field is missing); 0 or 1 forces one base for every sequence.
        names: optional subset of sequence names (default: every folder with a
            ``groundtruth.txt``, sorted).

    Returns a dataset of :class:`Sequence` with 0-based boxes; the manifest entry is kept in
    ``seq.meta``.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"dataset folder not found: {root}")
    manifest = _read_manifest(root)
    available = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    if names is None:
        names = available
    missing = [n for n in names if n not in available]
    if missing:
        raise FileNotFoundError(f"{root}: no sequences {missing} (need <seq>/groundtruth.txt)")
    if not names:
        raise FileNotFoundError(f"{root}: no sequence folders with a groundtruth.txt")

    def load(name: str) -> Sequence:
        folder = root / name
        entry = manifest.get(name, {})
        base = coordinate_base
        if base is None:
            if "coordinate_base" not in entry:
                raise ValueError(
                    f"{root / 'manifest.json'}: no coordinate_base for {name!r}; pass "
                    "coordinate_base=0 or 1 (trackkit eval sot: --coordinate-base 0 or 1)"
                )
            base = int(entry["coordinate_base"])
        rows = read_numeric_rows(folder / "groundtruth.txt", min_cols=4)
        boxes, absent = boxes_from_rows(
            rows, coordinate_base=base, source=str(folder / "groundtruth.txt")
        )
        images = list_images(folder / "img")
        if len(images) != len(boxes):
            raise ValueError(f"{folder}: {len(images)} images but {len(boxes)} boxes")
        meta = dict(entry)
        meta.setdefault("benchmark", "simple")
        meta["coordinate_base_of_file"] = base
        return Sequence(name, ImageFiles(images), boxes, absent, meta=meta)

    return Dataset(root.name, list(names), load)
