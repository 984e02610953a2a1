"""The instance trackers as a functional, stochastic step (Kim et al. 2022, Sec. 3.2).

:class:`InstanceStep` re-expresses Algorithm 1 of Wang et al. 2020 (what
:class:`InstanceTracker` runs) as ``step(state, frames, mode) -> (state, output, log_prob)``
over immutable states, the protocol of ``seqrl.run_scst_episode``. Each frame's decision is a
choice among the score map's candidates: the candidate distribution is eq. 5 of Kim et al. 2022,
``p(n) = softmax(logit(x_n) / temperature)`` over the *post-processed* scores ``x_n`` (change
penalty and cosine window applied, as the paper stresses); ``mode="argmax"`` takes the best
candidate and is exactly the test-time tracker, ``mode="sample"`` draws ``n ~ p``.

With ``differentiable=True`` the fast weights keep their graph to the meta-learned head
``theta_0`` and the learned rates ``alpha``: the first-frame adaptation runs
``metalearn.gradient_descent`` with ``first_order=True`` (the inner gradients are constants, so
``d theta_K / d theta_0 = I`` and ``alpha`` gets ``-sum_k g_k``), and an online update adds its
change as a constant (straight-through: ``d theta' / d theta = I``). The log-probabilities and
the head outputs of every frame then back-propagate into the head and the rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from metalearn import SupportBuffer
from seqrl import score_map_log_probs, select_candidates
from trackkit.sot.instance._config import TrackerConfig
from trackkit.sot.instance._crop import crop_search_regions, image_to_crop, search_scale
from trackkit.sot.instance._detector import InstanceDetector
from trackkit.sot.instance._postprocess import (
    cosine_window,
    distractor_ratio,
    penalized_scores,
    select_and_interpolate,
)
from trackkit.sot.instance._tracker import _frame_sizes, check_init_boxes

__all__ = ["InstanceStep", "InstanceStepOutput", "InstanceStepState"]

StepMode = Literal["sample", "argmax"]


@dataclass(frozen=True)
class InstanceStepState:
    """What Algorithm 1 carries between frames, for ``B`` sequences (never mutated).

    Attributes:
        center: ``Tensor[B, 2]`` tracked box centres (image pixels).
        size: ``Tensor[B, 2]`` tracked box sizes.
        params: name -> ``Tensor[B, *shape]`` fast weights (with a graph when differentiable).
        support: the support buffers (first-frame samples pinned).
        window: ``Tensor[h * w]`` cosine window of the score map.
        frame_index: frames tracked so far (0 after initialisation).
    """

    center: Tensor
    size: Tensor
    params: dict[str, Tensor]
    support: SupportBuffer
    window: Tensor
    frame_index: int


@dataclass(frozen=True)
class InstanceStepOutput:
    """One frame's decision.

    Attributes:
        boxes_xywh: ``Tensor[B, 4]`` the boxes the tracker reports (clipped to the frames).
        chosen: ``LongTensor[B]`` the chosen candidate.
        found: ``BoolTensor[B]`` False where every score was below the lost threshold (or the
            box was not finite): the previous box was kept and the choice did not count.
        outputs: the head's outputs on the search regions (``Tensor[B, h*w, ...]``, with the
            graph when differentiable), for a frame-level loss on the visited regions.
        crop_center: ``Tensor[B, 2]`` centre of each frame's search region (image pixels).
        crop_scale: ``Tensor[B]`` its scale (crop pixels per image pixel).
        score_hw: ``(h, w)`` of the score map.
    """

    boxes_xywh: Tensor
    chosen: Tensor
    found: Tensor
    outputs: dict[str, Tensor]
    crop_center: Tensor
    crop_scale: Tensor
    score_hw: tuple[int, int]


class InstanceStep:
    """Functional, optionally stochastic Retina-MAML / FCOS-MAML tracking step.

    ``init(frames, boxes_xywh) -> state``; ``step(state, frames, mode) -> (state, output,
    log_prob)``. With ``mode="argmax"`` the reported boxes are those of
    :class:`InstanceTracker` with the same detector and configuration.

    Args:
        detector: the meta-trained :class:`InstanceDetector` (its head and rates are read, never
            mutated).
        config: :class:`TrackerConfig` (e.g. :func:`tracker_config_for`).
        temperature: of the candidate distribution (Kim et al. 2022, eq. 5: 1); 0 makes the
            sampling tracker the argmax tracker.
        differentiable: keep the graph from the head's parameters and rates to the fast
            weights, head outputs and log-probabilities (training). Otherwise the adaptation is
            :meth:`InstanceDetector.adapt`, as in :class:`InstanceTracker`.
        generator: ``torch.Generator`` for sampling (default torch's global RNG).
        device: where the detector runs (default: the detector's device).
    """

    def __init__(
        self,
        detector: InstanceDetector,
        *,
        config: TrackerConfig | None = None,
        temperature: float = 1.0,
        differentiable: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(detector, InstanceDetector):
            raise TypeError(f"detector must be an InstanceDetector, got {type(detector).__name__}")
        self.config = config if config is not None else TrackerConfig()
        if not isinstance(self.config, TrackerConfig):
            raise TypeError(f"config must be a TrackerConfig, got {type(self.config).__name__}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
        if not (temperature >= 0 and np.isfinite(temperature)):
            raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
        self.detector = detector
        self.temperature = float(temperature)
        self.differentiable = bool(differentiable)
        self.generator = generator
        self.device = torch.device(device) if device is not None else detector.device

    # ------------------------------------------------------------------ adaptation
    def _adapt(
        self,
        params: dict[str, Tensor],
        support: SupportBuffer,
        steps: int,
    ) -> dict[str, Tensor]:
        feats, boxes = support.samples
        # Through the first-frame adaptation the gradient is first order (metalearn's FOMAML
        # option); without a graph (evaluation, argmax) it is the tracker's own adaptation.
        differentiable = self.differentiable and torch.is_grad_enabled()
        return self.detector.adapt(
            params, feats, boxes, support.valid, steps=steps, differentiable=differentiable
        )

    def _online_update(
        self, params: dict[str, Tensor], support: SupportBuffer, index: Tensor, steps: int
    ) -> dict[str, Tensor]:
        sub = support.select(index)
        start = {n: p[index].detach() for n, p in params.items()}
        feats, boxes = sub.samples
        new = self.detector.adapt(start, feats, boxes, sub.valid, steps=steps)
        out = {}
        for n, p in params.items():
            # Straight-through: the update's change is a constant added to the fast weights.
            delta = torch.zeros_like(p.detach()).index_copy(0, index, new[n] - start[n])
            out[n] = p + delta
        return out

    # ------------------------------------------------------------------ protocol
    def init(
        self, frames: Sequence[NDArray[np.uint8]], boxes_xywh: NDArray[np.float64]
    ) -> InstanceStepState:
        """Initialise ``B`` sequences on their first frames (Algorithm 1, lines 1-4): the
        augmented first-frame support set and ``init_steps`` adaptation steps.

        Args:
            frames: ``B`` first frames, ``uint8[H, W, 3]`` BGR.
            boxes_xywh: ``float[B, 4]`` initial boxes (0-based).
        """
        sizes = _frame_sizes(frames)
        boxes = np.asarray(boxes_xywh, dtype=np.float64)
        if boxes.shape != (len(frames), 4):
            raise ValueError(
                f"boxes_xywh must be [{len(frames)}, 4] for {len(frames)} frames, got {boxes.shape}"
            )
        check_init_boxes(boxes, sizes)
        cfg = self.config
        dev = self.device
        s_size = cfg.search.search_size
        box_t = torch.tensor(boxes, dtype=torch.float32, device=dev)
        center = box_t[:, :2] + box_t[:, 2:] / 2
        size = box_t[:, 2:].clone()
        base = search_scale(
            size, exemplar_size=cfg.search.exemplar_size, context=cfg.search.context
        )
        augs = cfg.adaptation.first_frame_augmentations()
        n_aug = len(augs)
        b = len(frames)
        zoom = torch.tensor([a[0] for a in augs], device=dev)
        shift = torch.tensor([[a[1], a[2]] for a in augs], device=dev)
        scales = base[:, None] * zoom[None, :]
        centers = center[:, None, :] - shift[None] / scales[..., None]
        crops = crop_search_regions(
            [f for f in frames for _ in range(n_aug)],
            centers.reshape(-1, 2).double().cpu().numpy(),
            scales.reshape(-1).double().cpu().numpy(),
            s_size,
        )
        feats = self.detector.features(crops)
        feats = feats.reshape(b, n_aug, *feats.shape[1:])
        box_xyxy = torch.cat([box_t[:, :2], box_t[:, :2] + box_t[:, 2:]], dim=1)
        crop_boxes = image_to_crop(
            box_xyxy[:, None, :].expand(b, n_aug, 4).reshape(-1, 4),
            centers.reshape(-1, 2),
            scales.reshape(-1),
            s_size,
        ).reshape(b, n_aug, 4)
        support = SupportBuffer.start((feats, crop_boxes), capacity=cfg.adaptation.support_capacity)
        theta0 = self.detector.initial_params()
        if self.differentiable and torch.is_grad_enabled():
            params = {n: p[None].expand(b, *p.shape) for n, p in theta0.items()}
        else:
            params = {n: p.detach()[None].expand(b, *p.shape).clone() for n, p in theta0.items()}
        params = self._adapt(params, support, cfg.adaptation.init_steps)
        h, w = feats.shape[-2:]
        return InstanceStepState(
            center=center,
            size=size,
            params=params,
            support=support,
            window=cosine_window(h, w, device=dev),
            frame_index=0,
        )

    def __call__(
        self, state: InstanceStepState, frame: Sequence[NDArray[np.uint8]], mode: StepMode
    ) -> tuple[InstanceStepState, InstanceStepOutput, Tensor]:
        """Track the next frame of every sequence (Algorithm 1, lines 5-16).

        Args:
            state: from :meth:`init` or a previous call (not modified).
            frame: ``B`` frames, one per sequence (``seqrl.StepFn``'s ``frame``).
            mode: ``"sample"`` (n ~ p, Kim et al. 2022 eq. 5) or ``"argmax"`` (the tracker).

        Returns:
            ``(new_state, output, log_prob)``; ``log_prob`` is ``Tensor[B]``, 0 where the frame
            was lost (no choice made).
        """
        if mode not in ("sample", "argmax"):
            raise ValueError(f"mode must be 'sample' or 'argmax', got {mode!r}")
        if not isinstance(state, InstanceStepState):
            raise TypeError(f"state must be an InstanceStepState, got {type(state).__name__}")
        frames = list(frame)
        sizes = _frame_sizes(frames)
        b = state.center.shape[0]
        if len(frames) != b:
            raise ValueError(f"expected {b} frames (one per sequence), got {len(frames)}")
        cfg = self.config
        pp = cfg.postprocess
        dev = self.device
        s_size = cfg.search.search_size
        frame_wh = torch.as_tensor(sizes, dtype=torch.float32, device=dev)
        frame_index = state.frame_index + 1
        scale = search_scale(
            state.size, exemplar_size=cfg.search.exemplar_size, context=cfg.search.context
        )
        crops = crop_search_regions(
            frames,
            state.center.double().cpu().numpy(),
            scale.double().cpu().numpy(),
            s_size,
        )
        feats = self.detector.features(crops)
        hw = (int(feats.shape[-2]), int(feats.shape[-1]))
        outputs = self.detector.head_outputs_batched(state.params, feats)
        boxes_c, scores = self.detector.candidates(outputs, hw)
        prev_wh_c = state.size * scale[:, None]
        pscore, _ = penalized_scores(
            scores,
            boxes_c,
            prev_wh_c,
            state.window,
            penalty_k=pp.penalty_k,
            window_influence=pp.window_influence,
        )
        # eq. 5 in float64 keeps distinct float32 scores distinct (argmax == the tracker's).
        log_probs = score_map_log_probs(
            pscore.double().clamp(0.0, 1.0), transform="logit", temperature=self.temperature
        )
        if mode == "argmax":
            chosen = pscore.detach().argmax(dim=1)
            log_prob = log_probs.gather(1, chosen[:, None])[:, 0]
        else:
            chosen, log_prob = select_candidates(log_probs, mode="sample", generator=self.generator)
        with torch.no_grad():
            center_c, size_c, best = select_and_interpolate(
                scores.detach(),
                boxes_c.detach(),
                prev_wh_c,
                state.window,
                penalty_k=pp.penalty_k,
                window_influence=pp.window_influence,
                shape_lr=pp.shape_lr,
                index=chosen,
            )
            sc = scores.detach()
            best_score = sc.gather(1, best[:, None])[:, 0]
            found = (sc.amax(dim=1) >= pp.lost_threshold) & torch.isfinite(best_score)
            new_center = (center_c - s_size / 2.0) / scale[:, None] + state.center
            new_size = size_c / scale[:, None]
            ok = found & torch.isfinite(new_center).all(1) & torch.isfinite(new_size).all(1)
            center = torch.where(ok[:, None], new_center, state.center)
            size = torch.where(ok[:, None], new_size, state.size)
            center = torch.minimum(center.clamp_min(0.0), frame_wh)
            min_size = torch.minimum(torch.full_like(frame_wh, pp.min_size), frame_wh)
            size = torch.minimum(torch.maximum(size, min_size), frame_wh)
        log_prob = torch.where(ok, log_prob, torch.zeros_like(log_prob))

        params, support = state.params, state.support
        ad = cfg.adaptation
        if ad.online_update:
            with torch.no_grad():
                ratio = distractor_ratio(
                    sc.reshape(-1, *hw), best, exclusion_radius=ad.exclusion_radius
                )
                confident = ok & (best_score >= ad.confidence_threshold)
                box_xyxy = torch.cat([center - size / 2, center + size / 2], dim=1)
                label = image_to_crop(box_xyxy, state.center, scale, s_size)
                support = support.select(torch.arange(b, device=dev))  # a copy: states persist
                support.add((feats, label), confident)
                periodic = (frame_index + 1) % ad.update_interval == 0
                due = ok & ((ratio > ad.distractor_threshold) | periodic)
                index = due.nonzero()[:, 0]
            if index.numel() > 0 and ad.update_steps > 0:
                params = self._online_update(params, support, index, ad.update_steps)
        x1y1 = torch.maximum(center - size / 2, torch.zeros_like(center))
        x2y2 = torch.minimum(center + size / 2, frame_wh)
        boxes_out = torch.cat([x1y1, (x2y2 - x1y1).clamp_min(0.0)], dim=1)
        new_state = replace(
            state,
            center=center,
            size=size,
            params=params,
            support=support,
            frame_index=frame_index,
        )
        out = InstanceStepOutput(
            boxes_xywh=boxes_out,
            chosen=chosen,
            found=ok,
            outputs=outputs,
            crop_center=state.center,
            crop_scale=scale,
            score_hw=hw,
        )
        return new_state, out, log_prob
