"""benchmarks/stress.py: the pass rule applied to each tracker output, on fake trackers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def stress(bench_script):  # type: ignore[no-untyped-def]
    return bench_script("stress")


def _case(stress: Any, *, reject_at: int | None = None) -> Any:
    frames = [np.full((24, 32, 3), 100, np.uint8) for _ in range(4)]
    boxes = np.tile([[8.0, 6.0, 10.0, 8.0]], (4, 1))
    return stress.SOTCase("fake", "constant", frames, boxes, reject_at=reject_at)


class _Fixed:
    """Returns ``outputs[t - 1]`` at update ``t``; raises it if it is an exception."""

    def __init__(self, *outputs: Any, init_error: Exception | None = None) -> None:
        self.outputs, self.init_error, self.t = outputs, init_error, 0

    def init(self, frame: np.ndarray, box: np.ndarray) -> None:
        if self.init_error is not None:
            raise self.init_error
        self.t = 0

    def update(self, frame: np.ndarray) -> Any:
        out = self.outputs[min(self.t, len(self.outputs) - 1)]
        self.t += 1
        if isinstance(out, Exception):
            raise out
        return out


def test_box_problem_names_each_way_a_box_can_fail(stress: Any) -> None:
    size = (32, 24)
    assert stress.box_problem([8, 6, 10, 8], size) is None
    assert stress.box_problem([-20, -10, 10, 8], size) is None  # off the frame, not far
    assert "non-finite" in stress.box_problem([np.nan, 6, 10, 8], size)
    assert "empty" in stress.box_problem([8, 6, 0, 8], size)
    assert "far outside" in stress.box_problem([70, 6, 10, 8], size)
    assert "far outside" in stress.box_problem([8, -40, 10, 8], size)
    assert "shape" in stress.box_problem([1, 2, 3], size)


def test_sot_case_status(stress: Any) -> None:
    good = np.array([8.0, 6.0, 10.0, 8.0])
    row = stress.run_sot_case(_Fixed(good), _case(stress))
    assert row["status"] == "ok" and row["iou"] == pytest.approx(1.0) and row["lost"] == 0
    lost = stress.run_sot_case(_Fixed((good, False)), _case(stress))
    assert lost["status"] == "ok" and lost["lost"] == 3
    nan = stress.run_sot_case(_Fixed(good, good * np.nan), _case(stress))
    assert nan["status"] == "FAIL" and nan["error"].startswith("frame 2: non-finite")
    # an error after init is a failure even when it is a ValueError ...
    mid = stress.run_sot_case(_Fixed(good, ValueError("bad")), _case(stress))
    assert mid["status"] == "FAIL"
    # ... unless the case documents it at that frame; at init a one-line error is a rejection
    ok_mid = stress.run_sot_case(_Fixed(good, ValueError("bad")), _case(stress, reject_at=2))
    assert ok_mid["status"] == "rejected"
    at_init = stress.run_sot_case(_Fixed(init_error=ValueError("no")), _case(stress))
    assert at_init["status"] == "rejected"
    runtime = stress.run_sot_case(_Fixed(init_error=RuntimeError("no")), _case(stress))
    assert runtime["status"] == "FAIL"
