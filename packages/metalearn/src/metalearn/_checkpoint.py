"""Checkpoints of a meta-learned initialisation plus its learned inner learning rates."""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any

import torch
from torch import nn

from ._checks import check_device_arg
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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
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
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {os.fspath(path)!r}: folder {folder!r} is missing")
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

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: a file that is not a readable checkpoint of this format (corrupt,
            truncated, another format), parameters or rates that do not fit `model` / `lr`,
            or a `map_location` device this machine does not have.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(map_location, (str, torch.device)):
        check_device_arg("map_location", map_location)
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"checkpoint {where!r} does not exist or is not a file")
    try:
        payload = torch.load(where, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, zipfile.BadZipFile) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{where!r} is not a readable {FORMAT} checkpoint ({reason})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{where!r} is not a {FORMAT} checkpoint")
    if "model" not in payload:
        raise ValueError(f"{where!r} holds no model parameters")
    _load_state("model", model, payload["model"])
    if isinstance(lr, LearnedLR):
        if "lr" not in payload:
            raise ValueError("checkpoint holds no learned learning rates but lr was given")
        kind, names = payload.get("lr_kind"), payload.get("lr_names")
        if kind != type(lr).__name__ or list(lr.names) != names:
            raise ValueError(
                f"checkpoint rates are {kind} over {names}, "
                f"got {type(lr).__name__} over {list(lr.names)}"
            )
        _load_state("lr", lr, payload["lr"])
    elif isinstance(lr, FixedLR):
        if "lr_fixed" not in payload:
            raise ValueError("checkpoint holds no fixed learning rate but a FixedLR was given")
        lr.lr = float(payload["lr_fixed"])
    elif lr is not None:
        raise TypeError(f"lr must be a LearnedLR, FixedLR or None, got {type(lr).__name__}")
    extra = payload.get("extra", {})
    return dict(extra)


def _load_state(what: str, module: nn.Module, state: Any) -> None:
    """``module.load_state_dict(state)`` with torch's multi-line mismatch report on one line."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        detail = " ".join(part.strip() for part in str(err).splitlines() if part.strip())
        raise ValueError(f"the checkpoint's {what} state does not fit: {detail}") from err
