"""OpenCV teachers: tracking a synthetic textured target, failure handling, bad input."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

from distill import OpenCVTeacher, Teacher, available_opencv_kinds, box_iou_xywh

cv2 = pytest.importorskip("cv2")


def textured_scene(
    *, seed: int = 0, frames: int = 40, height: int = 144, width: int = 192, size: int = 48
) -> tuple[list[np.ndarray], np.ndarray]:
    """A fine random-texture target moving (1.5 px/frame, sine in y) over a coarser texture.

    Both textures are blurred Gaussian noise (target sigma 1.5 px and high contrast, background
    sigma 3 px and lower contrast). MIL samples at random inside OpenCV; on this scene 45 runs
    (3 seeds x 15) never fell below mean IoU 0.82.
    """
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, width, 3)), (0, 0), 3.0)
    background = np.clip(110 + 25 * noise / noise.std(), 0, 255).astype(np.uint8)
    noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, (size, size, 3)), (0, 0), 1.5)
    target = np.clip(128 + 70 * noise / noise.std(), 0, 255).astype(np.uint8)
    images, boxes = [], []
    for t in range(frames):
        x = round(30 + 1.5 * t)
        y = round(40 + 10 * float(np.sin(t / 8)))
        image = background.copy()
        image[y : y + size, x : x + size] = target
        images.append(image)
        boxes.append([x, y, size, size])
    return images, np.asarray(boxes, dtype=np.float64)


def run(teacher: Teacher, images: list[np.ndarray], box0: np.ndarray) -> np.ndarray:
    teacher.init(images[0], box0)
    out = [box0]
    for image in images[1:]:
        box, _ok = teacher.update(image)
        assert box.shape == (4,)
        out.append(box)
    return np.asarray(out)


def test_available_kinds_include_the_issue_minimum() -> None:
    kinds = available_opencv_kinds()
    assert {"KCF", "CSRT", "MIL"} <= set(kinds)


@pytest.mark.parametrize("kind", ["KCF", "CSRT", "MIL"])
def test_tracks_synthetic_textured_target(kind: str) -> None:
    images, gt = textured_scene(seed=0)
    teacher = OpenCVTeacher(kind)
    assert isinstance(teacher, Teacher)
    assert teacher.name == f"opencv-{kind}"
    boxes = run(teacher, images, gt[0])
    mean_iou = float(box_iou_xywh(boxes, gt).mean())
    assert mean_iou > 0.7, f"{kind} mean IoU {mean_iou:.3f}"


def test_kind_is_case_insensitive_and_unknown_kind_lists_available() -> None:
    assert OpenCVTeacher("kcf").kind == "KCF"
    with pytest.raises(ValueError, match="available kinds: KCF, CSRT, MIL"):
        OpenCVTeacher("DiMP")


def test_missing_opencv_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match=r"trackkit-distill\[opencv\]"):
        OpenCVTeacher("KCF")


class _Exploding:
    def update(self, frame: np.ndarray) -> tuple[bool, tuple[int, int, int, int]]:
        raise cv2.error("simulated failure inside OpenCV")


class _Lost:
    def update(self, frame: np.ndarray) -> tuple[bool, tuple[int, int, int, int]]:
        return False, (0, 0, 0, 0)


class _Garbage:
    def update(self, frame: np.ndarray) -> tuple[bool, tuple[float, ...]]:
        return True, (float("nan"), 1.0, 0.0, 2.0)


class _OffFrame:
    """OpenCV 5.0's TLD reported success with boxes like this, far outside a 320x240 frame."""

    def update(self, frame: np.ndarray) -> tuple[bool, tuple[float, ...]]:
        return True, (906.0, 22.0, 28.0, 20.0)


@pytest.mark.parametrize("broken", [_Exploding, _Lost, _Garbage, _OffFrame])
def test_failure_returns_last_box_and_false(broken: type) -> None:
    images, gt = textured_scene(frames=3)
    teacher = OpenCVTeacher("KCF")
    teacher.init(images[0], gt[0])
    good, ok = teacher.update(images[1])
    assert ok
    teacher._tracker = broken()
    for image in images[1:]:
        box, ok = teacher.update(image)
        assert not ok
        np.testing.assert_array_equal(box, good)


def test_bad_initial_boxes() -> None:
    images, _ = textured_scene(frames=1)
    teacher = OpenCVTeacher("KCF")
    with pytest.raises(ValueError, match="entirely outside"):
        teacher.init(images[0], [500.0, 10.0, 20.0, 20.0])
    with pytest.raises(ValueError, match="entirely outside"):
        teacher.init(images[0], [-30.0, 10.0, 20.0, 20.0])
    with pytest.raises(ValueError, match="positive width and height"):
        teacher.init(images[0], [10.0, 10.0, 0.0, 20.0])
    with pytest.raises(ValueError, match="finite"):
        teacher.init(images[0], [np.nan, 10.0, 5.0, 20.0])
    with pytest.raises(ValueError, match="shape"):
        teacher.init(images[0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("kind", "too_small", "smallest"),
    [
        ("CSRT", (1.0, 50.0), (2.0, 2.0)),
        ("MOSSE", (0.5, 0.5), (2.0, 2.0)),
        ("TLD", (1.0, 1.0), None),
        ("MIL", (4.0, 4.0), (3.0, 6.0)),
        ("Boosting", (2.0, 9.0), (6.0, 3.0)),
    ],
)
def test_boxes_too_small_for_a_kind_are_rejected_before_opencv(
    kind: str, too_small: tuple[float, float], smallest: tuple[float, float] | None
) -> None:
    """Below these sizes OpenCV 5.0 raised (CSRT, MOSSE) or never returned from init (TLD,
    MIL, Boosting: this test hung before the check)."""
    if kind not in available_opencv_kinds():
        pytest.skip(f"OpenCV lacks {kind}")
    images, _ = textured_scene(frames=2)
    teacher = OpenCVTeacher(kind)
    with pytest.raises(ValueError, match=f"OpenCV {kind} needs an initial box"):
        teacher.init(images[0], [40.0, 40.0, *too_small])
    # clipping by the frame border counts: 1 px of this box lies inside the frame
    with pytest.raises(ValueError, match="needs an initial box"):
        teacher.init(images[0], [-29.0, 40.0, 30.0, 30.0])
    if smallest is not None:
        teacher.init(images[0], [40.0, 40.0, *smallest])
        box, _ = teacher.update(images[1])
        assert np.all(np.isfinite(box))
    kcf = OpenCVTeacher("KCF")  # starts on any box
    kcf.init(images[0], [40.0, 40.0, *too_small])


def test_a_box_opencv_cannot_start_on_is_a_one_line_value_error() -> None:
    """MIL asserts inside OpenCV on a box spanning the frame (no room for its negative
    samples): a one-line ``ValueError`` naming the box, not a multi-line ``RuntimeError``."""
    if "MIL" not in available_opencv_kinds():
        pytest.skip("OpenCV lacks MIL")
    images, _ = textured_scene(frames=1)
    height, width = images[0].shape[:2]
    with pytest.raises(ValueError, match=rf"OpenCV MIL cannot start on box \(0, 0, {width}") as err:
        OpenCVTeacher("MIL").init(images[0], [0.0, 0.0, float(width), float(height)])
    assert "\n" not in str(err.value)


def test_partly_outside_box_is_clipped_and_tracks() -> None:
    images, gt = textured_scene(frames=5)
    teacher = OpenCVTeacher("CSRT")
    teacher.init(images[0], [gt[0, 0] - 200, gt[0, 1], gt[0, 2] + 200, gt[0, 3]])
    box, _ok = teacher.update(images[1])
    assert box.shape == (4,)
    assert box[0] >= 0  # OpenCV only saw the clipped box


def test_grayscale_and_wrong_frames_rejected() -> None:
    images, gt = textured_scene(frames=2)
    gray = cv2.cvtColor(images[0], cv2.COLOR_BGR2GRAY)
    teacher = OpenCVTeacher("KCF")
    with pytest.raises(ValueError, match=r"grayscale.*COLOR_GRAY2BGR"):
        teacher.init(gray, gt[0])
    with pytest.raises(ValueError, match="grayscale"):
        teacher.init(gray[..., None], gt[0])
    with pytest.raises(TypeError, match="uint8"):
        teacher.init(images[0].astype(np.float32), gt[0])
    with pytest.raises(RuntimeError, match="before update"):
        teacher.update(images[1])
    teacher.init(images[0], gt[0])
    with pytest.raises(ValueError, match="grayscale"):
        teacher.update(cv2.cvtColor(images[1], cv2.COLOR_BGR2GRAY))
    with pytest.raises(ValueError, match="track started on"):
        teacher.update(images[1][:100])


def test_pickles_before_and_after_init() -> None:
    images, gt = textured_scene(frames=4)
    teacher = OpenCVTeacher("MedianFlow" if "MedianFlow" in available_opencv_kinds() else "KCF")
    teacher.init(images[0], gt[0])
    copy = pickle.loads(pickle.dumps(teacher))
    with pytest.raises(RuntimeError, match="before update"):
        copy.update(images[1])
    np.testing.assert_allclose(run(copy, images, gt[0]), run(teacher, images, gt[0]))


def test_params_reach_opencv_and_name_the_teacher() -> None:
    images, gt = textured_scene(frames=3)
    strict = OpenCVTeacher("KCF", params={"detect_thresh": 10.0})  # peak response never > 1
    assert strict.name == "opencv-KCF(detect_thresh=10.0)"
    strict.init(images[0], gt[0])
    first, _ = strict.update(images[1])  # OpenCV's KCF skips the check on its first update
    box, ok = strict.update(images[2])
    assert not ok
    np.testing.assert_array_equal(box, first)
    default = OpenCVTeacher("KCF")
    default.init(images[0], gt[0])
    assert default.update(images[1])[1] and default.update(images[2])[1]
    copy = pickle.loads(pickle.dumps(strict))
    assert copy.params == {"detect_thresh": 10.0}


def test_bad_params() -> None:
    with pytest.raises(
        ValueError, match=r"not a field of TrackerKCF_Params; fields: .*detect_thresh"
    ):
        OpenCVTeacher("KCF", params={"detect_threshold": 0.1})
    with pytest.raises(TypeError, match="rejected by OpenCV"):
        OpenCVTeacher("KCF", params={"detect_thresh": "low"})
    with pytest.raises(ValueError, match="no TrackerMOSSE_Params"):
        OpenCVTeacher("MOSSE", params={"x": 1})
    with pytest.raises(TypeError, match="mapping"):
        OpenCVTeacher("KCF", params=[("detect_thresh", 0.1)])  # type: ignore[arg-type]
