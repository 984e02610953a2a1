"""Running several teachers over a sequence, with an on-disk trajectory cache."""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._teacher import Teacher, check_box_xywh

__all__ = ["TeacherPool", "TeacherTrajectory", "sequence_digest"]

Frame = Union[NDArray[np.uint8], str, "os.PathLike[str]"]

_CACHE_VERSION = 1


@dataclass(frozen=True)
class TeacherTrajectory:
    """One teacher's output over a sequence.

    Attributes:
        teacher: the teacher's ``name``.
        boxes_xywh: ``[T, 4]`` float64 boxes; row 0 is the initial box.
        success: ``[T]`` bool; row 0 is True, later rows are the teacher's success flags.
        seconds: wall-clock time of ``init`` plus all ``update`` calls (frame loading excluded),
            measured when the trajectory was computed (kept in the cache).
        from_cache: True when the trajectory was loaded from the cache instead of run.
    """

    teacher: str
    boxes_xywh: NDArray[np.float64]
    success: NDArray[np.bool_]
    seconds: float
    from_cache: bool = False

    @property
    def fps(self) -> float:
        """Frames per second of the original run (``T / seconds``)."""
        return float(len(self.boxes_xywh) / self.seconds) if self.seconds > 0 else float("inf")


def _load_frame(frame: Frame, index: int) -> NDArray[np.uint8]:
    if isinstance(frame, np.ndarray):
        return frame
    if isinstance(frame, (str, os.PathLike)):
        try:
            cv2 = importlib.import_module("cv2")
        except ImportError as err:
            raise ImportError(
                "frames given as paths are read with OpenCV: pip install 'trackkit-distill[opencv]'"
                " or pass decoded H x W x 3 uint8 arrays"
            ) from err
        image = cv2.imread(os.fspath(frame), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"frames[{index}]: cannot read image file {os.fspath(frame)!r}")
        return image  # type: ignore[no-any-return]
    raise TypeError(
        f"frames[{index}] must be a numpy array or an image path, got {type(frame).__name__}"
    )


def _iter_frames(frames: Sequence[Frame]) -> Iterator[NDArray[np.uint8]]:
    for index, frame in enumerate(frames):
        yield _load_frame(frame, index)


def sequence_digest(frames: Sequence[Frame], box_xywh: ArrayLike) -> str:
    """Content hash (SHA-256, hex) of a frame list and the initial box.

    Arrays contribute their shape, dtype and bytes; image paths contribute the file's bytes (not
    its name), so the same frames give the same digest wherever they are stored.
    """
    box = check_box_xywh(box_xywh)
    digest = hashlib.sha256()
    digest.update(f"distill-sequence-v{_CACHE_VERSION}:{len(frames)}".encode())
    for index, frame in enumerate(frames):
        if isinstance(frame, np.ndarray):
            digest.update(f"a{frame.shape}{frame.dtype}".encode())
            digest.update(np.ascontiguousarray(frame).tobytes())
        elif isinstance(frame, (str, os.PathLike)):
            digest.update(b"f")
            digest.update(Path(frame).read_bytes())
        else:
            raise TypeError(
                f"frames[{index}] must be a numpy array or an image path, "
                f"got {type(frame).__name__}"
            )
    digest.update(box.tobytes())
    return digest.hexdigest()


def _run_teacher(
    teacher: Teacher, frames: Sequence[Frame], box_xywh: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_], float]:
    """Run one teacher over all frames (module level so worker processes can pickle it)."""
    boxes = np.empty((len(frames), 4), dtype=np.float64)
    success = np.empty(len(frames), dtype=bool)
    boxes[0], success[0] = box_xywh, True
    seconds = 0.0
    for t, frame in enumerate(_iter_frames(frames)):
        start = time.perf_counter()
        if t == 0:
            teacher.init(frame, box_xywh)
        else:
            box, ok = teacher.update(frame)
            boxes[t], success[t] = box, bool(ok)
        seconds += time.perf_counter() - start
    return boxes, success, seconds


def _safe(component: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", component) or "_"


class TeacherPool:
    """Runs several teachers over a sequence and caches their trajectories on disk.

    Args:
        teachers: the teachers; their ``name`` values must be unique.
        cache_dir: directory of the trajectory cache, or ``None`` for no cache. Files live at
            ``<cache_dir>/<sequence>/<teacher name>-<digest[:20]>.npz`` where the digest is
            `sequence_digest` of the frames' content and the initial box, so renamed copies of
            the same frames hit the cache and changed frames miss it.
        processes: worker processes; ``1`` runs the teachers one after another in this
            process, ``>1`` runs uncached teachers in parallel (teachers are pickled into the
            workers: `OpenCVTeacher` and `ReplayTeacher` are picklable before ``init``).
    """

    def __init__(
        self,
        teachers: Sequence[Teacher],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        processes: int = 1,
    ) -> None:
        teachers = list(teachers)
        if not teachers:
            raise ValueError("teachers must hold at least one teacher, got none")
        for index, teacher in enumerate(teachers):
            if not isinstance(teacher, Teacher):
                raise TypeError(
                    f"teachers[{index}] does not follow the Teacher protocol "
                    f"(init, update, name): {type(teacher).__name__}"
                )
        names = [t.name for t in teachers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"teacher names must be unique, repeated: {duplicates}")
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValueError(f"processes must be an int >= 1, got {processes!r}")
        self.teachers = teachers
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.processes = processes

    def cache_path(self, sequence: str, teacher_name: str, digest: str) -> Path:
        """Where the trajectory of ``teacher_name`` on ``sequence`` with ``digest`` is cached."""
        if self.cache_dir is None:
            raise ValueError("this TeacherPool has no cache_dir")
        return self.cache_dir / _safe(sequence) / f"{_safe(teacher_name)}-{digest[:20]}.npz"

    def _load(self, path: Path, name: str, digest: str, length: int) -> TeacherTrajectory | None:
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            if str(data["digest"]) != digest or str(data["teacher"]) != name:
                return None
            boxes = np.asarray(data["boxes_xywh"], dtype=np.float64)
            success = np.asarray(data["success"], dtype=bool)
            seconds = float(data["seconds"])
        if boxes.shape != (length, 4) or success.shape != (length,):
            return None
        return TeacherTrajectory(name, boxes, success, seconds, from_cache=True)

    @staticmethod
    def _save(path: Path, trajectory: TeacherTrajectory, digest: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            teacher=np.array(trajectory.teacher),
            digest=np.array(digest),
            boxes_xywh=trajectory.boxes_xywh,
            success=trajectory.success,
            seconds=np.array(trajectory.seconds),
        )
        os.replace(tmp, path)

    def run(
        self, frames: Sequence[Frame], box_xywh: ArrayLike, *, sequence: str
    ) -> dict[str, TeacherTrajectory]:
        """Run (or reload) every teacher over ``frames`` starting from ``box_xywh``.

        Args:
            frames: ``T >= 1`` frames, each an ``H x W x 3`` uint8 BGR array or an image path
                (read with OpenCV, one at a time).
            box_xywh: the initial box on ``frames[0]``.
            sequence: sequence name (first level of the cache key).

        Returns:
            ``{teacher name: TeacherTrajectory}`` in the order of ``teachers``.
        """
        if not isinstance(sequence, str) or not sequence:
            raise ValueError(f"sequence must be a non-empty string, got {sequence!r}")
        if len(frames) < 1:
            raise ValueError("frames must hold at least one frame, got none")
        box = check_box_xywh(box_xywh)
        digest = sequence_digest(frames, box) if self.cache_dir is not None else ""
        results: dict[str, TeacherTrajectory] = {}
        todo: list[Teacher] = []
        for teacher in self.teachers:
            cached = None
            if self.cache_dir is not None:
                path = self.cache_path(sequence, teacher.name, digest)
                cached = self._load(path, teacher.name, digest, len(frames))
            if cached is not None:
                results[teacher.name] = cached
            else:
                todo.append(teacher)
        if self.processes > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=min(self.processes, len(todo))) as executor:
                futures = [executor.submit(_run_teacher, t, list(frames), box) for t in todo]
                outputs = [f.result() for f in futures]
        else:
            outputs = [_run_teacher(t, frames, box) for t in todo]
        for teacher, (boxes, success, seconds) in zip(todo, outputs):
            trajectory = TeacherTrajectory(teacher.name, boxes, success, seconds)
            if self.cache_dir is not None:
                self._save(self.cache_path(sequence, teacher.name, digest), trajectory, digest)
            results[teacher.name] = trajectory
        return {t.name: results[t.name] for t in self.teachers}
