"""The CUDA path without a GPU: host synchronisations per frame, device placement, checkpoints.

A deep tracker may copy one thing a frame from the device to the host: its final boxes
(``trackkit.hostsync.HostSyncCounter`` counts ``.item()``/``bool()``/``int()`` of tensors,
``.cpu()``, ``.numpy()``, ``.tolist()`` and data-dependent shapes such as ``nonzero`` on any
device). Every registered tracker with a ``device`` option is held to it, at batch 1 and, if it
tracks sequences in lock step, at batch 2, over frames that include an online update.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import trackkit
from trackkit.hostsync import HostSyncCounter
from trackkit.registry import TRACKERS, make_tracker, tracker_options
from trackkit.sot.tras import DEEP_TEACHERS

REPO = Path(trackkit.__file__).resolve().parents[3]
SOURCES = [REPO / "integration" / "src", *sorted((REPO / "packages").glob("*/src"))]
#: Audited for ``.cuda()`` and ``torch.load`` as well: what users copy from (tests, benchmarks).
SCRIPTS = [
    REPO / "integration" / "tests",
    *sorted((REPO / "packages").glob("*/tests")),
    REPO / "benchmarks",
]
DEEP_SOT = [n for n, e in TRACKERS.items() if e.kind == "sot" and "device" in tracker_options(n)]
#: Frames 1..9: frame 9 is the first periodic online update of the instance trackers
#: (``update_interval`` 10, frames counted from 1); distractor updates may come earlier.
FRAMES = 10


# ------------------------------------------------------------------------------ the counter
def test_counter_counts_every_kind_of_host_read() -> None:
    x = torch.arange(6.0)
    with HostSyncCounter() as sync:
        x.sum().item()
        bool(x.max() > 2)
        int(x[0])
        x.cpu().numpy()  # one copy, not two
        x.tolist()
        (x > 2).nonzero()
        x[x > 2]
    assert dict(sync.counts) == {
        "_local_scalar_dense": 3,
        "cpu": 1,
        "tolist": 1,
        "nonzero": 1,
        "index(bool mask)": 1,
    }
    assert sync.total == 7
    assert all(where.endswith(".py:" + where.rsplit(":", 1)[1]) for _, where in sync.events)
    assert "test_device_hostsync.py" in sync.events[0][1]


def test_counter_ignores_device_side_work_and_restores_tensor_methods() -> None:
    x = torch.arange(6.0)
    cpu, numpy, to = torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.to
    with HostSyncCounter() as sync:
        y = torch.where(x > 2, x * 2, x).cumsum(0)
        y[torch.tensor([0, 2])] = 1.0
        y = y.to(x.device).index_select(0, (x > 1).long())
        torch.as_tensor(np.ones(3))  # host to device is not a sync
    assert sync.total == 0, sync.events
    assert (torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.to) == (cpu, numpy, to)
    sync.reset()
    assert sync.total == 0 and not sync.events


# ------------------------------------------------------------------------------ trackers
def _sequences(b: int) -> list[tuple[list[np.ndarray], np.ndarray]]:
    from trackkit.data import synthetic_sot_sequence

    out = []
    for i in range(b):
        seq = synthetic_sot_sequence(
            length=FRAMES, image_size=(320, 240), target_size=(48.0, 40.0), seed=11 + i,
            distractors=2, target_speed=3.0,
        )  # fmt: skip
        out.append(([seq[t] for t in range(len(seq))], np.asarray(seq.boxes_xywh[0], float)))
    return out


def _batched(tracker: object) -> bool:
    return hasattr(tracker, "init_batch") and hasattr(tracker, "update_batch")


@pytest.mark.parametrize("name", DEEP_SOT)
@pytest.mark.parametrize("batch", [1, 2])
def test_deep_tracker_makes_one_host_copy_per_frame(
    name: str, batch: int, one_thread: None
) -> None:
    tracker = make_tracker(name, device="cpu")
    if batch > 1 and not _batched(tracker):
        pytest.skip(f"{name} does not track sequences in lock step")
    cases = _sequences(batch)
    adapted: list[int] = []
    t = 0
    detector = getattr(tracker, "detector", None)
    if detector is not None and hasattr(detector, "adapt"):
        original = detector.adapt

        def counting_adapt(*args, **kwargs):  # type: ignore[no-untyped-def]
            adapted.append(t)
            return original(*args, **kwargs)

        detector.adapt = counting_adapt
    if batch > 1:
        tracker.init_batch([c[0][0] for c in cases], np.stack([c[1] for c in cases]))
    else:
        tracker.init(cases[0][0][0], cases[0][1])
    # A TRASFUST pool's deep teachers (e.g. Retina-MAML) are trackers of their own, one per
    # sequence, each making its one host copy of its box per frame: the bound counts them.
    deep = sum(s in DEEP_TEACHERS for s in getattr(tracker, "teacher_specs", ()))
    bound = 1 + deep * batch
    for t in range(1, FRAMES):
        frames = [c[0][t] for c in cases]
        with HostSyncCounter() as sync:
            out = tracker.update_batch(frames) if batch > 1 else tracker.update(frames[0])
        assert sync.total <= bound, f"{name} frame {t}: {sync.total} host syncs: {sync.events}"
        assert np.isfinite(np.asarray(out)).all()
    if detector is not None and hasattr(detector, "adapt"):
        online = [f for f in adapted if f > 0]
        assert online, f"{name}: no online update in {FRAMES} frames; the check missed it"


# ------------------------------------------------------------------------------ static audit
def _calls(path: Path) -> list[tuple[int, str, ast.Call]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            out.append((node.lineno, ast.unparse(node.func), node))
    return out


def test_no_cuda_calls_and_every_torch_load_maps_its_location() -> None:
    bad = []
    for root in SOURCES + SCRIPTS:
        for path in sorted(root.rglob("*.py")):
            for line, func, call in _calls(path):
                where = f"{path.relative_to(REPO)}:{line}"
                if func.endswith(".cuda"):
                    bad.append(f"{where}: .cuda() (use device=)")
                if func == "torch.load":
                    keys = {k.arg for k in call.keywords}
                    if not {"map_location", "weights_only"} <= keys:
                        bad.append(f"{where}: torch.load without map_location and weights_only")
    assert not bad, "\n".join(bad)


def test_modules_follow_to_device() -> None:
    """Every tensor a shipped tracker's detector owns moves with ``.to`` (no stray CPU state);
    the fixed learning rate follows its module."""
    from metalearn import FixedLR

    tracker = make_tracker("fcos-maml", device="meta")
    tensors = [*tracker.detector.parameters(), *tracker.detector.buffers()]
    assert tensors and all(t.device.type == "meta" for t in tensors)
    rate = FixedLR(0.01).to("meta").rate("w")
    assert rate.device.type == "meta"
    assert FixedLR(0.01).state_dict() == {}
