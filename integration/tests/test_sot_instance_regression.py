"""The shipped FCOS-MAML / Retina-MAML give the boxes recorded before their adaptation and losses
moved into ``metalearn`` and ``detheads`` (issue 12).

``data/instance_boxes.npz`` was written by ``data/make_instance_boxes.py`` with the code of commit
cb50ad7 (trackkit's own inner loop, support buffer, targets and losses). The synthetic case always
runs; the real sequences need ``../shared/data/sot``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "data" / "instance_boxes.npz"
TOLERANCE_PX = 1e-3


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "make_instance_boxes", HERE / "data" / "make_instance_boxes.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_instance_boxes"] = mod
    spec.loader.exec_module(mod)
    return mod


SCRIPT = _script()
RECORDED = dict(np.load(FIXTURE))


@pytest.mark.parametrize("tracker", SCRIPT.TRACKERS)
def test_synthetic_boxes_unchanged(tracker: str, one_thread: None) -> None:
    frames, box = SCRIPT.synthetic_case()
    got = SCRIPT.track(tracker, frames, box)
    diff = np.abs(got - RECORDED[f"{tracker}/synthetic"]).max()
    assert diff < TOLERANCE_PX, f"{tracker}: max box difference {diff:.3g} px"


@pytest.mark.skipif(not SCRIPT.DATA.is_dir(), reason=f"{SCRIPT.DATA} not available")
@pytest.mark.parametrize("tracker", SCRIPT.TRACKERS)
def test_real_sequence_boxes_unchanged(tracker: str, one_thread: None) -> None:
    cases = SCRIPT.real_cases()
    for name, (frames, box) in cases.items():
        got = SCRIPT.track(tracker, frames, box)
        diff = np.abs(got - RECORDED[f"{tracker}/{name}"]).max()
        assert diff < TOLERANCE_PX, f"{tracker} on {name}: max box difference {diff:.3g} px"
    got = SCRIPT.track_batch(tracker, list(cases.values()))
    diff = np.abs(got - RECORDED[f"{tracker}/batch"]).max()
    assert diff < TOLERANCE_PX, (
        f"{tracker}, {len(cases)} sequences batched: max difference {diff:.3g} px"
    )
