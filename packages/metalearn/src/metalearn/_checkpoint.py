"""Checkpoints of a meta-learned initialisation plus its learned inner learning rates."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from ._lr import FixedLR, LearnedLR

__all__ = ["load_checkpoint", "save_checkpoint"]

FORMAT = "trackkit-metalearn/1"


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    lr: LearnedLR | FixedLR | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save `model.state_dict()` (theta_0) and the learned rates' state to `path`.

    Args:
        path: file to write.
        model: the meta-trained module.
        lr: the learned-rate module (None or `FixedLR`: nothing learned to store, a float rate is
            stored as plain number).
        extra: small plain data (numbers, strings, lists, dicts, tensors) stored under "extra".
    """
    payload: dict[str, Any] = {"format": FORMAT, "model": model.state_dict()}
    if isinstance(lr, LearnedLR):
        payload["lr"] = lr.state_dict()
        payload["lr_names"] = list(lr.names)
        payload["lr_kind"] = type(lr).__name__
    elif isinstance(lr, FixedLR):
        payload["lr_fixed"] = lr.lr
    elif lr is not None:
        raise TypeError(f"lr must be a LearnedLR, FixedLR or None, got {type(lr).__name__}")
    if extra is not None:
        payload["extra"] = extra
    torch.save(payload, path)


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    lr: LearnedLR | FixedLR | None = None,
    *,
    map_location: torch.device | str | None = None,
) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` into `model` (and `lr`) in place.

    Loading uses `torch.load(weights_only=True)`. `lr` must be built the same way as the saved
    one (same class, same adapted names, same `per_step`); mismatches raise ValueError.

    Returns:
        The `extra` dict saved with the checkpoint (empty if none).
    """
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a {FORMAT} checkpoint")
    model.load_state_dict(payload["model"])
    if isinstance(lr, LearnedLR):
        if "lr" not in payload:
            raise ValueError("checkpoint holds no learned learning rates but lr was given")
        if payload["lr_kind"] != type(lr).__name__ or list(lr.names) != payload["lr_names"]:
            raise ValueError(
                f"checkpoint rates are {payload['lr_kind']} over {payload['lr_names']}, "
                f"got {type(lr).__name__} over {list(lr.names)}"
            )
        lr.load_state_dict(payload["lr"])
    elif isinstance(lr, FixedLR):
        if "lr_fixed" not in payload:
            raise ValueError("checkpoint holds no fixed learning rate but a FixedLR was given")
        lr.lr = float(payload["lr_fixed"])
    elif lr is not None:
        raise TypeError(f"lr must be a LearnedLR, FixedLR or None, got {type(lr).__name__}")
    extra = payload.get("extra", {})
    return dict(extra)
