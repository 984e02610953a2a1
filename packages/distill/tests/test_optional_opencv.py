"""`import distill` works without OpenCV; OpenCV-only features say how to get it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["cv2"] = None  # any `import cv2` now raises ImportError
import numpy as np
import distill

frames = [np.zeros((8, 8, 3), np.uint8)] * 3
teacher = distill.ReplayTeacher(np.tile([1.0, 1.0, 4.0, 4.0], (3, 1)), name="r")
out = distill.TeacherPool([teacher]).run(frames, [1, 1, 4, 4], sequence="s")
assert out["r"].boxes_xywh.shape == (3, 4)
for call in (lambda: distill.OpenCVTeacher("KCF"), distill.available_opencv_kinds,
             lambda: distill.TeacherPool([teacher]).run(["a.jpg"], [1, 1, 4, 4], sequence="s")):
    try:
        call()
    except ImportError as err:
        assert "trackkit-distill[opencv]" in str(err), err
    else:
        raise SystemExit("expected ImportError")
print("ok")
"""


def test_import_and_pure_features_without_cv2() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
