"""The online support buffer of Algorithm 1 as fixed-size tensors, batched over sequences.

Paper 000, Sec. 4.3: "We buffer at most 30 training images in the support set. Earlier samples,
except the initial one, will be discarded when the number of images exceeds the limit." The
buffer stores trunk features (the trunk is frozen, so features are as good as images and much
cheaper to re-use) and the target box in crop coordinates. Slots ``0 .. n_first - 1`` hold the
augmented first frame and are never evicted; later samples cycle first-in first-out through the
remaining slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SupportBuffer"]


@dataclass
class SupportBuffer:
    """Support samples of ``B`` sequences.

    Attributes:
        features: ``Tensor[B, capacity, C, h, w]`` trunk features.
        boxes_xyxy: ``Tensor[B, capacity, 4]`` target boxes in crop pixels.
        valid: ``BoolTensor[B, capacity]`` which slots hold a sample.
        next_slot: ``LongTensor[B]`` slot the next sample goes to.
        n_first: number of permanent first-frame slots.
    """

    features: Tensor
    boxes_xyxy: Tensor
    valid: Tensor
    next_slot: Tensor
    n_first: int

    @classmethod
    def from_first_frame(
        cls, features: Tensor, boxes_xyxy: Tensor, *, capacity: int
    ) -> SupportBuffer:
        """Start buffers with the augmented first frames.

        Args:
            features: ``Tensor[B, n_first, C, h, w]``.
            boxes_xyxy: ``Tensor[B, n_first, 4]``.
            capacity: total slots (paper 000: 30), more than ``n_first``.
        """
        b, n_first = features.shape[:2]
        if boxes_xyxy.shape != (b, n_first, 4):
            raise ValueError(
                f"boxes_xyxy must be [{b}, {n_first}, 4], got {tuple(boxes_xyxy.shape)}"
            )
        if capacity <= n_first:
            raise ValueError(f"capacity must exceed n_first={n_first}, got {capacity}")
        feats = features.new_zeros((b, capacity, *features.shape[2:]))
        feats[:, :n_first] = features
        boxes = boxes_xyxy.new_zeros((b, capacity, 4))
        boxes[:, :n_first] = boxes_xyxy
        valid = torch.zeros(b, capacity, dtype=torch.bool, device=features.device)
        valid[:, :n_first] = True
        next_slot = torch.full((b,), n_first, dtype=torch.long, device=features.device)
        return cls(feats, boxes, valid, next_slot, n_first)

    @property
    def capacity(self) -> int:
        """Total number of slots."""
        return int(self.valid.shape[1])

    def add(self, features: Tensor, boxes_xyxy: Tensor, mask: Tensor) -> None:
        """Store one new sample per sequence where ``mask`` is True (first in, first out).

        Args:
            features: ``Tensor[B, C, h, w]``.
            boxes_xyxy: ``Tensor[B, 4]``.
            mask: ``BoolTensor[B]``.
        """
        rows = torch.arange(self.valid.shape[0], device=mask.device)
        slot = self.next_slot
        m = mask.to(self.features.dtype).reshape(-1, *([1] * (features.dim() - 1)))
        self.features[rows, slot] = m * features + (1 - m) * self.features[rows, slot]
        mb = mask.to(self.boxes_xyxy.dtype)[:, None]
        self.boxes_xyxy[rows, slot] = mb * boxes_xyxy + (1 - mb) * self.boxes_xyxy[rows, slot]
        self.valid[rows, slot] = self.valid[rows, slot] | mask
        span = self.capacity - self.n_first
        advanced = self.n_first + (slot - self.n_first + 1) % span
        self.next_slot = torch.where(mask, advanced, slot)

    def select(self, index: Tensor) -> SupportBuffer:
        """The buffers of sequences ``index`` (``LongTensor[b]``), as a new object (copies)."""
        return SupportBuffer(
            self.features[index],
            self.boxes_xyxy[index],
            self.valid[index],
            self.next_slot[index],
            self.n_first,
        )
