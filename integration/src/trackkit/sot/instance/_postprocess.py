"""SiamRPN-style post-processing of one frame's candidate boxes, batched over sequences.

Paper 000 (Algorithm 1, lines 10-12) scores every candidate of the detector, adds "penalties and
window priors" as suggested by SiamRPN (Li et al. 2018), takes the best box and linearly
interpolates its shape with the previous one. All functions here work in search-region (crop)
pixel coordinates on tensors batched over ``B`` sequences with ``N`` candidates each.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trackkit.data import context_size

__all__ = [
    "change_penalty",
    "cosine_window",
    "distractor_ratio",
    "penalized_scores",
    "select_and_interpolate",
]


def cosine_window(height: int, width: int, *, device: torch.device | str | None = None) -> Tensor:
    """Outer product of two Hann windows, flattened row-major to ``Tensor[height * width]``.

    The window prior of SiamFC/SiamRPN: 1 in the centre of the score map, 0 at the border. A map
    of one cell gives ``[1.0]``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")

    def hann(n: int) -> Tensor:
        if n == 1:
            return torch.ones(1, device=device)
        k = torch.arange(n, dtype=torch.float32, device=device)
        return 0.5 - 0.5 * torch.cos(2.0 * torch.pi * k / (n - 1))

    return (hann(height)[:, None] * hann(width)[None, :]).reshape(-1)


def _change(r: Tensor) -> Tensor:
    return torch.maximum(r, 1.0 / r)


def change_penalty(
    boxes_wh: Tensor, prev_wh: Tensor, *, penalty_k: float = 0.055, eps: float = 1e-6
) -> Tensor:
    """Scale and aspect-ratio change penalty of SiamRPN (Li et al. 2018, eq. 13).

    ``penalty = exp(-(r_c * s_c - 1) * penalty_k)`` where ``s_c = max(s, 1/s)`` with ``s`` the
    ratio of the context-padded sizes ``sqrt((w + p)(h + p))``, ``p = (w + h) / 2``, of candidate
    and previous box, and ``r_c = max(r, 1/r)`` with ``r`` the ratio of their aspect ratios.

    Args:
        boxes_wh: ``Tensor[B, N, 2]`` candidate widths and heights (crop pixels).
        prev_wh: ``Tensor[B, 2]`` previous target width and height (same scale).
        penalty_k: DaSiamRPN's default 0.055.
        eps: sizes are clamped to at least ``eps`` so that the penalty is always finite.

    Returns:
        ``Tensor[B, N]`` in ``[0, 1]``; exactly 1 for a candidate of the previous shape.
    """
    if boxes_wh.ndim != 3 or boxes_wh.shape[-1] != 2:
        raise ValueError(f"boxes_wh must be [B, N, 2], got {tuple(boxes_wh.shape)}")
    if prev_wh.shape != (boxes_wh.shape[0], 2):
        raise ValueError(f"prev_wh must be [{boxes_wh.shape[0]}, 2], got {tuple(prev_wh.shape)}")
    wh = boxes_wh.clamp_min(eps)
    pw = prev_wh.clamp_min(eps)[:, None, :]
    s_c = _change(context_size(wh) / context_size(pw))
    r_c = _change((pw[..., 0] / pw[..., 1]) / (wh[..., 0] / wh[..., 1]))
    return torch.exp(-(r_c * s_c - 1.0) * penalty_k)


def penalized_scores(
    scores: Tensor,
    boxes_xyxy: Tensor,
    prev_wh: Tensor,
    window: Tensor,
    *,
    penalty_k: float = 0.055,
    window_influence: float = 0.42,
) -> tuple[Tensor, Tensor]:
    """Scores after the change penalty and the cosine-window prior (SiamRPN, DaSiamRPN defaults).

    ``pscore = (1 - window_influence) * penalty * score + window_influence * window``.

    Args:
        scores: ``Tensor[B, N]`` detector confidences in ``[0, 1]``.
        boxes_xyxy: ``Tensor[B, N, 4]`` candidate boxes in crop pixels.
        prev_wh: ``Tensor[B, 2]`` previous target size in crop pixels.
        window: ``Tensor[N]`` window prior, e.g. :func:`cosine_window` of the score map.
        penalty_k: change-penalty strength (DaSiamRPN: 0.055).
        window_influence: weight of the window (DaSiamRPN: 0.42).

    Returns:
        ``(pscore, penalty)``, both ``Tensor[B, N]``.
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be [B, N], got {tuple(scores.shape)}")
    if boxes_xyxy.shape != (*scores.shape, 4):
        raise ValueError(
            f"boxes_xyxy must be [B, N, 4] = {(*scores.shape, 4)}, got {tuple(boxes_xyxy.shape)}"
        )
    if window.shape != scores.shape[1:]:
        raise ValueError(f"window must be [{scores.shape[1]}], got {tuple(window.shape)}")
    if not 0.0 <= window_influence <= 1.0:
        raise ValueError(f"window_influence must be in [0, 1], got {window_influence}")
    wh = boxes_xyxy[..., 2:] - boxes_xyxy[..., :2]
    penalty = change_penalty(wh, prev_wh, penalty_k=penalty_k)
    pscore = (1.0 - window_influence) * penalty * scores + window_influence * window[None, :]
    return pscore, penalty


def select_and_interpolate(
    scores: Tensor,
    boxes_xyxy: Tensor,
    prev_wh: Tensor,
    window: Tensor,
    *,
    penalty_k: float = 0.055,
    window_influence: float = 0.42,
    shape_lr: float = 0.295,
) -> tuple[Tensor, Tensor, Tensor]:
    """Pick the best candidate per sequence and interpolate its shape with the previous one.

    The centre moves to the chosen candidate's centre; the size moves from ``prev_wh`` towards
    the candidate's size by ``lr = penalty * score * shape_lr`` (SiamRPN; DaSiamRPN's
    ``shape_lr`` 0.295), Wang et al. 2020, Algorithm 1 line 12.

    Args:
        scores, boxes_xyxy, prev_wh, window, penalty_k, window_influence: see
            :func:`penalized_scores`.
        shape_lr: interpolation rate of the shape.

    Returns:
        ``(center_xy, size_wh, best_index)``: ``Tensor[B, 2]``, ``Tensor[B, 2]`` in crop pixels
        and ``LongTensor[B]`` index of the chosen candidate.
    """
    pscore, penalty = penalized_scores(
        scores,
        boxes_xyxy,
        prev_wh,
        window,
        penalty_k=penalty_k,
        window_influence=window_influence,
    )
    best = pscore.argmax(dim=1)  # [B]
    rows = torch.arange(scores.shape[0], device=scores.device)
    box = boxes_xyxy[rows, best]  # [B, 4]
    lr = (penalty[rows, best] * scores[rows, best] * shape_lr)[:, None]  # [B, 1]
    center = (box[:, :2] + box[:, 2:]) * 0.5
    size = prev_wh * (1.0 - lr) + (box[:, 2:] - box[:, :2]) * lr
    return center, size, best


def distractor_ratio(score_map: Tensor, best_index: Tensor, *, exclusion_radius: int = 3) -> Tensor:
    """Peak-to-sidelobe ratio used by Wang et al. 2020 to detect a distracting peak.

    Ratio of the highest score outside a square neighbourhood of the chosen peak (Chebyshev
    distance ``> exclusion_radius`` cells) to the score at the peak. Paper 000 performs an online
    update "when a distracting peak is detected (when the peak-to-sidelobe is greater than 0.7)";
    this is that quantity: 0 with a single clean peak, close to 1 with an equally strong second
    object. A map with no cell outside the neighbourhood gives 0.

    Args:
        score_map: ``Tensor[B, H, W]`` raw detector scores in ``[0, 1]``.
        best_index: ``LongTensor[B]`` flattened index of the chosen peak.
        exclusion_radius: half side of the excluded neighbourhood, in cells.

    Returns:
        ``Tensor[B]`` ratio, finite, ``>= 0``.
    """
    if score_map.ndim != 3:
        raise ValueError(f"score_map must be [B, H, W], got {tuple(score_map.shape)}")
    if exclusion_radius < 0:
        raise ValueError(f"exclusion_radius must be >= 0, got {exclusion_radius}")
    b, h, w = score_map.shape
    ys = torch.arange(h, device=score_map.device)[None, :, None]
    xs = torch.arange(w, device=score_map.device)[None, None, :]
    py = (best_index // w)[:, None, None]
    px = (best_index % w)[:, None, None]
    outside = ((ys - py).abs() > exclusion_radius) | ((xs - px).abs() > exclusion_radius)
    flat = score_map.reshape(b, -1)
    peak = flat.gather(1, best_index[:, None])[:, 0]
    side = torch.where(outside, score_map, torch.zeros_like(score_map)).reshape(b, -1).amax(dim=1)
    return side / peak.clamp_min(1e-6)
