"""The transfer set: trajectory filtering by IoU, 32-frame chunks (Dunnhofer et al. 2020)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._boxes import box_iou_xywh
from ._pool import TeacherTrajectory

__all__ = ["TransferChunk", "build_transfer_set", "chunk_indices", "trajectory_keep_mask"]


def trajectory_keep_mask(
    teacher_boxes_xywh: ArrayLike, gt_boxes_xywh: ArrayLike, *, beta: float = 0.5
) -> NDArray[np.bool_]:
    """Which teacher trajectories keep ``IoU(b_t, g_t) > beta`` on every frame.

    Dunnhofer et al. 2020, Sec. 4.1 ("Transfer set"): a teacher's trajectory on a video is kept only
    if ``IoU(b_t^(t), g_t) > beta`` for all ``t``; ``beta = 0.5`` is the paper's default (it also
    tries 0.6-0.9). Frames where the ground truth is absent (a NaN row) are not checked; a
    trajectory with no frame left to check is dropped. A NaN teacher box has IoU 0.

    Args:
        teacher_boxes_xywh: ``[N, T, 4]`` (or ``[T, 4]`` for one teacher) boxes.
        gt_boxes_xywh: ``[T, 4]`` ground truth, NaN rows for absent targets.
        beta: IoU threshold in ``[0, 1)``.

    Returns:
        ``[N]`` bool (a 0-d bool for ``[T, 4]`` input).
    """
    boxes = np.asarray(teacher_boxes_xywh, dtype=np.float64)
    gt = np.asarray(gt_boxes_xywh, dtype=np.float64)
    if gt.ndim != 2 or gt.shape[1] != 4:
        raise ValueError(f"gt_boxes_xywh must have shape [T, 4], got {gt.shape}")
    if boxes.ndim not in (2, 3) or boxes.shape[-2:] != gt.shape:
        raise ValueError(
            f"teacher_boxes_xywh must have shape [N, T, 4] or [T, 4] with T = {gt.shape[0]}, "
            f"got {boxes.shape}"
        )
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must lie in [0, 1), got {beta}")
    present = np.all(np.isfinite(gt), axis=-1)  # [T]
    iou = box_iou_xywh(boxes, gt)  # [N, T] or [T]
    above = (iou > beta) | ~present
    return np.asarray(np.all(above, axis=-1) & bool(present.any()))


def chunk_indices(
    num_frames: int,
    *,
    chunk_length: int = 32,
    num_chunks: int | None = None,
    rng: np.random.Generator | None = None,
) -> NDArray[np.int64]:
    """Frame indices of fixed-length chunks of a sequence.

    Dunnhofer et al. 2020 trains on 32-frame chunks (Sec. 4.1: "split in five randomly indexed
    sequences of 32 frames"; the LSTM is reset every 32 frames). With ``num_chunks=None`` the
    sequence is cut into consecutive non-overlapping chunks and a remainder shorter than
    ``chunk_length`` is dropped; with ``num_chunks=K`` (the paper uses 5) K chunks start at
    uniformly drawn frames (they may overlap) and ``rng`` is required. A sequence shorter than
    ``chunk_length`` gives no chunk.

    Returns:
        ``[K, chunk_length]`` int64 frame indices.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)):
        raise TypeError(f"num_frames must be an int, got {type(num_frames).__name__}")
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    if chunk_length < 1:
        raise ValueError(f"chunk_length must be >= 1, got {chunk_length}")
    offsets = np.arange(chunk_length, dtype=np.int64)
    if num_chunks is None:
        starts = np.arange(0, num_frames - chunk_length + 1, chunk_length, dtype=np.int64)
    else:
        if num_chunks < 0:
            raise ValueError(f"num_chunks must be >= 0 or None, got {num_chunks}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator when num_chunks is given")
        if num_frames < chunk_length:
            starts = np.zeros(0, dtype=np.int64)
        else:
            starts = rng.integers(0, num_frames - chunk_length + 1, size=num_chunks)
    return (starts[:, None] + offsets[None, :]).astype(np.int64).reshape(-1, chunk_length)


@dataclass(frozen=True)
class TransferChunk:
    """A chunk of a kept teacher trajectory (one training sample of the transfer set).

    Attributes:
        sequence: sequence name.
        teacher: teacher name.
        frame_indices: ``[L]`` indices into the sequence's frames.
        teacher_boxes_xywh: ``[L, 4]`` the teacher's boxes on those frames.
        gt_boxes_xywh: ``[L, 4]`` ground truth on those frames.
    """

    sequence: str
    teacher: str
    frame_indices: NDArray[np.int64]
    teacher_boxes_xywh: NDArray[np.float64]
    gt_boxes_xywh: NDArray[np.float64]


def build_transfer_set(
    trajectories: Mapping[str, ArrayLike | TeacherTrajectory],
    gt_boxes_xywh: ArrayLike,
    *,
    sequence: str,
    beta: float = 0.5,
    chunk_length: int = 32,
    num_chunks: int | None = None,
    rng: np.random.Generator | None = None,
) -> list[TransferChunk]:
    """Filter teacher trajectories by `trajectory_keep_mask` and cut the kept ones into chunks.

    Args:
        trajectories: ``{teacher name: [T, 4] boxes or TeacherTrajectory}`` for one sequence.
        gt_boxes_xywh: ``[T, 4]`` ground truth (NaN rows = absent).
        sequence: sequence name stored in each chunk.
        beta, chunk_length, num_chunks, rng: see `trajectory_keep_mask` and `chunk_indices`.

    Returns:
        Chunks of the kept teachers, teacher by teacher in mapping order.
    """
    gt = np.asarray(gt_boxes_xywh, dtype=np.float64)
    chunks: list[TransferChunk] = []
    for name, trajectory in trajectories.items():
        boxes = (
            trajectory.boxes_xywh
            if isinstance(trajectory, TeacherTrajectory)
            else np.asarray(trajectory, dtype=np.float64)
        )
        if not trajectory_keep_mask(boxes, gt, beta=beta):
            continue
        for indices in chunk_indices(
            len(gt), chunk_length=chunk_length, num_chunks=num_chunks, rng=rng
        ):
            chunks.append(TransferChunk(sequence, name, indices, boxes[indices], gt[indices]))
    return chunks
