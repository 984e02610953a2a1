"""Two checks every torch entry point of trackkit shares: the ``device=`` argument and loading a
checkpoint file, each failing with one line that names what was asked for.

Private to trackkit (the subpackages and the command line import it); not part of any library.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

__all__ = ["available_devices", "load_checkpoint", "resolve_device"]


def available_devices() -> list[str]:
    """Device strings this machine can use: ``"cpu"``, then ``"cuda"``/``"cuda:i"``, ``"mps"``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        found += ["cuda"] + [f"cuda:{i}" for i in range(n)]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        found.append("xpu")
    return found


def resolve_device(device: torch.device | str | None, *, default: str = "cpu") -> torch.device:
    """A usable :class:`torch.device` from a ``device=`` argument or ``--device`` option.

    ``None`` gives ``default``. ``"meta"`` is accepted (shape-only tensors). An unknown name
    (``"foo"``), an accelerator this machine lacks (``"cuda"`` without CUDA) or an index past
    the last device (``"cuda:3"`` with one GPU) raises ``ValueError`` naming the device and
    the devices available here; torch would otherwise fail later with an ``AssertionError``
    or a long ``RuntimeError``.
    """
    if device is None:
        device = default
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    here = ", ".join(available_devices())
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"device {str(device)!r} is not a torch device name; available here: {here}"
        ) from None
    if dev.type in ("cpu", "meta"):
        return dev
    backend = {"cuda": torch.cuda, "mps": getattr(torch.backends, "mps", None)}.get(
        dev.type, getattr(torch, dev.type, None)
    )
    is_available = getattr(backend, "is_available", None)
    if not callable(is_available) or not is_available():
        raise ValueError(
            f"device {str(device)!r} is not available on this machine; available: {here}"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA "
            f"device(s); available: {here}"
        )
    return dev


_WEIGHTS_ONLY_ADVICE = re.compile(r"weights_only|Weights only", re.IGNORECASE)


def load_checkpoint(path: str | Path, *, what: str = "checkpoint") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Raises:
        FileNotFoundError: no such file (``what`` names the role, e.g. ``"detector checkpoint"``).
        ValueError: the file is a folder, truncated, corrupt, not a torch file, or holds Python
            objects that a ``weights_only`` load refuses. The message names the file and never
            repeats torch's advice to load with ``weights_only=False`` (which would execute
            arbitrary code from the file).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} not found: {p}")
    if not p.is_file():
        raise ValueError(f"{what} {p} is not a file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).splitlines()[0] if str(err) else ""
        if _WEIGHTS_ONLY_ADVICE.search(str(err)):
            raise ValueError(
                f"{what} {p} holds Python objects other than tensors, numbers, strings, lists and "
                "dicts; trackkit only loads plain-data checkpoints"
            ) from None
        raise ValueError(f"{what} {p} is corrupt or not a torch checkpoint ({first})") from None
    except (RuntimeError, EOFError, KeyError, OSError, ValueError, IndexError) as err:
        first = str(err).split(". ")[0].splitlines()[0] if str(err) else ""
        if _WEIGHTS_ONLY_ADVICE.search(first) or not re.search(r"[a-z]{3}", first):
            first = type(err).__name__  # a bare KeyError('101') says nothing
        raise ValueError(
            f"{what} {p} is truncated, corrupt or not a torch checkpoint ({first})"
        ) from None
