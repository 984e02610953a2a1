"""MAML-MOT's meta-learned layer, its cosine-similarity classification loss and checkpoints.

Chen and Deng 2024 (MAML MOT, arXiv:2405.07272) meta-learn only the last layer of the
re-identification branch of a joint detection and embedding network (Sec. II-B, C); every task is
one identity, with k support crops and one query crop from another frame (eq. 1), and the
re-identification decision is a classification by cosine similarity. Here the layer is
RetinaTrack's last embedding conv (a ``D -> E`` linear map of each anchor's feature) and a task's
classification is: which detection of a frame is the identity, by the cosine similarity of its
embedding to the identity's prototype (the normalised mean embedding of its reference crops), a
softmax over the frame's detections with a scale ``s`` (a normalised-softmax / NormFace-style
classifier, Wang, Xiang, Cheng and Yuille 2017, NormFace).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackkit._torchutil import load_checkpoint, resolve_device

__all__ = [
    "CHECKPOINT_FORMAT",
    "ROLE_ANCHOR",
    "ROLE_NEGATIVE",
    "ROLE_PAD",
    "ROLE_POSITIVE",
    "ROLE_QUERY",
    "MAMLMOTBank",
    "MAMLMOTCheckpoint",
    "ReidLayer",
    "cosine_classification_loss",
    "cosine_classification_losses",
    "file_sha256",
    "load_maml_mot_checkpoint",
    "save_maml_mot_checkpoint",
]

#: Format tag of :func:`save_maml_mot_checkpoint` files.
CHECKPOINT_FORMAT = "trackkit.maml_mot/1"

#: Roles of the rows of a task batch (``targets`` of :func:`cosine_classification_loss`).
ROLE_PAD = 0  #: unused slot (zeros), ignored
ROLE_ANCHOR = 1  #: a reference crop of the identity: forms the prototype, is not classified
ROLE_POSITIVE = 2  #: a support crop: forms the prototype and is classified against negatives
ROLE_QUERY = 3  #: the query crop: classified against negatives, not in the prototype
ROLE_NEGATIVE = 4  #: a detection of another identity (or a false positive) in the same frames

#: Finite stand-in for minus infinity in masked log-sum-exps (keeps gradients finite).
_MASKED = -1.0e4


class ReidLayer(nn.Module):
    """The meta-learned last re-identification layer: ``e = normalize(W h + b)``.

    Args:
        weight: ``Tensor[E, D]`` initial weights (RetinaTrack's trained last embedding conv).
        bias: ``Tensor[E]``.
    """

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        super().__init__()
        if weight.dim() != 2 or bias.shape != weight.shape[:1]:
            raise ValueError(
                f"weight must be Tensor[E, D] and bias Tensor[E], got {tuple(weight.shape)} and "
                f"{tuple(bias.shape)}"
            )
        self.weight = nn.Parameter(weight.detach().clone().float())
        self.bias = nn.Parameter(bias.detach().clone().float())

    def forward(self, features: Tensor) -> Tensor:
        """L2-normalised embeddings ``Tensor[..., E]`` of features ``Tensor[..., D]``."""
        return F.normalize(F.linear(features, self.weight, self.bias), dim=-1)


def cosine_classification_losses(embeddings: Tensor, roles: Tensor, *, scale: float) -> Tensor:
    """Per-row cosine-similarity classification loss of one task, ``Tensor[n]``.

    The prototype is ``c = normalize(sum of the embeddings of rows with role ANCHOR or
    POSITIVE)``. Every row ``i`` with role POSITIVE or QUERY is classified among itself and all
    NEGATIVE rows with logits ``scale * cos(e_j, c)``: ``l_i = -log(exp(s cos_i) / (exp(s cos_i)
    + sum_neg exp(s cos_neg)))``; other rows get 0. Fixed shapes and no data-dependent control
    flow, so it runs under ``torch.func.vmap`` (batched tasks and batched tracks).

    Args:
        embeddings: ``Tensor[n, E]`` L2-normalised embeddings of the task's rows.
        roles: ``Tensor[n]`` integer roles (:data:`ROLE_PAD` ... :data:`ROLE_NEGATIVE`).
        scale: the logit scale ``s`` (> 0).
    """
    ref = ((roles == ROLE_ANCHOR) | (roles == ROLE_POSITIVE)).to(embeddings.dtype)
    proto = F.normalize((embeddings * ref.unsqueeze(-1)).sum(dim=-2), dim=-1)
    logits = scale * (embeddings @ proto)  # [n]
    neg = roles == ROLE_NEGATIVE
    neg_lse = torch.logsumexp(torch.where(neg, logits, torch.full_like(logits, _MASKED)), dim=-1)
    per_row = F.softplus(neg_lse - logits)
    candidate = (roles == ROLE_POSITIVE) | (roles == ROLE_QUERY)
    return torch.where(candidate, per_row, torch.zeros_like(per_row))


def cosine_classification_loss(embeddings: Tensor, roles: Tensor, *, scale: float) -> Tensor:
    """Mean of :func:`cosine_classification_losses` over the classified rows (a scalar)."""
    per_row = cosine_classification_losses(embeddings, roles, scale=scale)
    candidate = ((roles == ROLE_POSITIVE) | (roles == ROLE_QUERY)).to(per_row.dtype)
    return per_row.sum() / candidate.sum().clamp_min(1.0)


@dataclass(frozen=True)
class MAMLMOTBank:
    """Training tasks' adapted parameters and feature summaries (Chen and Deng 2024, eqs. 6-7).

    Attributes:
        weight: ``Tensor[T, E, D]`` adapted layer weights of T training tasks.
        bias: ``Tensor[T, E]``.
        features: ``Tensor[T, k, D]`` the tasks' support features (eq. 6's ``T_ij``).
    """

    weight: Tensor
    bias: Tensor
    features: Tensor

    def __post_init__(self) -> None:
        t = self.weight.shape[0]
        if (
            self.weight.dim() != 3
            or self.bias.shape != (t, self.weight.shape[1])
            or self.features.dim() != 3
            or self.features.shape[0] != t
            or self.features.shape[2] != self.weight.shape[2]
        ):
            raise ValueError(
                "bank must hold weight [T, E, D], bias [T, E] and features [T, k, D]; got "
                f"{tuple(self.weight.shape)}, {tuple(self.bias.shape)}, "
                f"{tuple(self.features.shape)}"
            )
        if t == 0:
            raise ValueError("bank must hold at least one task")

    def __len__(self) -> int:
        return int(self.weight.shape[0])

    def params(self) -> dict[str, Tensor]:
        """Stacked parameters ``{"weight": [T, E, D], "bias": [T, E]}`` (ReidLayer names)."""
        return {"weight": self.weight, "bias": self.bias}

    def to(self, device: torch.device | str | None) -> MAMLMOTBank:
        """The bank on ``device``."""
        return MAMLMOTBank(self.weight.to(device), self.bias.to(device), self.features.to(device))


@dataclass(frozen=True)
class MAMLMOTCheckpoint:
    """A loaded MAML-MOT checkpoint.

    Attributes:
        layer: the meta-learned :class:`ReidLayer` (theta_0).
        bank: the training-task bank.
        inner_lr: inner-loop learning rate used in training (and online).
        scale: logit scale ``s`` of the loss.
        k: support size of the training tasks.
        max_negatives: negatives per frame in a task.
        detector: what the features came from: ``{"name", "sha256"}`` of the RetinaTrack
            checkpoint file.
        meta: training record (steps, seconds, losses, command).
    """

    layer: ReidLayer
    bank: MAMLMOTBank
    inner_lr: float
    scale: float
    k: int
    max_negatives: int
    detector: dict[str, str]
    meta: dict[str, Any]


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (identifies the detector a checkpoint was trained on)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_maml_mot_checkpoint(
    path: str | Path,
    layer: ReidLayer,
    bank: MAMLMOTBank,
    *,
    inner_lr: float,
    scale: float,
    k: int,
    max_negatives: int,
    detector: Mapping[str, str],
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write a checkpoint loadable with ``torch.load(weights_only=True)`` (CPU float32 tensors)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "layer": {k_: v.detach().cpu().float() for k_, v in layer.state_dict().items()},
        "bank": {k_: v.detach().cpu().float().contiguous() for k_, v in asdict(bank).items()},
        "inner_lr": float(inner_lr),
        "scale": float(scale),
        "k": int(k),
        "max_negatives": int(max_negatives),
        "detector": {str(a): str(b) for a, b in detector.items()},
        "meta": dict(meta or {}),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_maml_mot_checkpoint(
    path: str | Path, *, device: torch.device | str | None = None
) -> MAMLMOTCheckpoint:
    """Load :func:`save_maml_mot_checkpoint`'s file (``weights_only=True``) onto ``device``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a readable MAML-MOT checkpoint.
    """
    path = Path(path)
    if device is not None:
        device = resolve_device(device)  # a device that is not there fails first
    payload = load_checkpoint(path, what="MAML-MOT checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a trackkit MAML-MOT checkpoint")
    try:
        layer = ReidLayer(payload["layer"]["weight"], payload["layer"]["bias"])
        bank = MAMLMOTBank(**payload["bank"])
        out = MAMLMOTCheckpoint(
            layer=layer.to(device),
            bank=bank.to(device),
            inner_lr=float(payload["inner_lr"]),
            scale=float(payload["scale"]),
            k=int(payload["k"]),
            max_negatives=int(payload["max_negatives"]),
            detector=dict(payload["detector"]),
            meta=dict(payload.get("meta", {})),
        )
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: incomplete MAML-MOT checkpoint ({err})") from None
    if out.bank.weight.shape[1:] != layer.weight.shape:
        raise ValueError(f"{path}: bank parameters do not fit the layer")
    if not (out.inner_lr >= 0 and out.scale > 0 and math.isfinite(out.scale)):
        raise ValueError(f"{path}: bad inner_lr / scale")
    return out
