"""SiamRPN post-processing and crop geometry against slow references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from trackkit.sot import (
    change_penalty,
    cosine_window,
    crop_search_regions,
    crop_to_image,
    distractor_ratio,
    image_to_crop,
    penalized_scores,
    search_scale,
    select_and_interpolate,
)


def _ref_penalty(w: float, h: float, pw: float, ph: float, k: float) -> float:
    def sz(a: float, b: float) -> float:
        pad = (a + b) / 2
        return math.sqrt((a + pad) * (b + pad))

    s = sz(w, h) / sz(pw, ph)
    r = (pw / ph) / (w / h)
    return math.exp(-(max(r, 1 / r) * max(s, 1 / s) - 1) * k)


def _random_case(seed: int, b: int = 3, h: int = 5, w: int = 6):
    g = torch.Generator().manual_seed(seed)
    n = h * w
    xy = torch.rand(b, n, 2, generator=g) * 200
    wh = torch.rand(b, n, 2, generator=g) * 80 + 5
    boxes = torch.cat([xy, xy + wh], dim=-1)
    scores = torch.rand(b, n, generator=g)
    prev = torch.rand(b, 2, generator=g) * 80 + 5
    return boxes, scores, prev, cosine_window(h, w)


def test_cosine_window_is_outer_hann() -> None:
    win = cosine_window(5, 7).reshape(5, 7).numpy()
    ref = np.outer(np.hanning(5), np.hanning(7))
    np.testing.assert_allclose(win, ref, atol=1e-6)
    assert cosine_window(1, 1).tolist() == [1.0]
    with pytest.raises(ValueError, match="height and width"):
        cosine_window(0, 3)


def test_change_penalty_matches_reference() -> None:
    boxes, _, prev, _ = _random_case(0)
    wh = boxes[..., 2:] - boxes[..., :2]
    fast = change_penalty(wh, prev, penalty_k=0.055)
    for bi in range(wh.shape[0]):
        for ni in range(wh.shape[1]):
            ref = _ref_penalty(*wh[bi, ni].tolist(), *prev[bi].tolist(), 0.055)
            assert fast[bi, ni].item() == pytest.approx(ref, rel=1e-5)


@given(st.floats(1, 500), st.floats(1, 500), st.floats(1, 500), st.floats(1, 500), st.floats(0, 1))
def test_change_penalty_properties(w: float, h: float, pw: float, ph: float, k: float) -> None:
    p = change_penalty(
        torch.tensor([[[w, h]]], dtype=torch.float64),
        torch.tensor([[pw, ph]], dtype=torch.float64),
        penalty_k=k,
    )
    assert 0 <= p.item() <= 1 + 1e-12  # may underflow to 0 for extreme shape changes
    same = change_penalty(
        torch.tensor([[[pw, ph]]], dtype=torch.float64),
        torch.tensor([[pw, ph]], dtype=torch.float64),
        penalty_k=k,
    )
    assert same.item() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_select_and_interpolate_matches_loop(seed: int) -> None:
    boxes, scores, prev, window = _random_case(seed)
    center, size, best = select_and_interpolate(
        scores, boxes, prev, window, penalty_k=0.055, window_influence=0.42, shape_lr=0.295
    )
    for bi in range(boxes.shape[0]):
        best_ps, best_i = -1.0, -1
        for ni in range(boxes.shape[1]):
            x1, y1, x2, y2 = boxes[bi, ni].tolist()
            pen = _ref_penalty(x2 - x1, y2 - y1, *prev[bi].tolist(), 0.055)
            ps = pen * scores[bi, ni].item() * 0.58 + window[ni].item() * 0.42
            if ps > best_ps:
                best_ps, best_i, best_pen = ps, ni, pen
        assert best[bi].item() == best_i
        x1, y1, x2, y2 = boxes[bi, best_i].tolist()
        lr = best_pen * scores[bi, best_i].item() * 0.295
        assert center[bi].tolist() == pytest.approx([(x1 + x2) / 2, (y1 + y2) / 2], rel=1e-5)
        pw, ph = prev[bi].tolist()
        exp_size = [pw * (1 - lr) + (x2 - x1) * lr, ph * (1 - lr) + (y2 - y1) * lr]
        assert size[bi].tolist() == pytest.approx(exp_size, rel=1e-5)


def test_window_influence_one_picks_window_peak() -> None:
    boxes, scores, prev, window = _random_case(4)
    _, _, best = select_and_interpolate(scores, boxes, prev, window, window_influence=1.0)
    assert torch.all(best == window.argmax())


def test_penalized_scores_rejects_bad_shapes() -> None:
    boxes, scores, prev, window = _random_case(5)
    with pytest.raises(ValueError, match="boxes_xyxy"):
        penalized_scores(scores, boxes[:, :-1], prev, window)
    with pytest.raises(ValueError, match="window"):
        penalized_scores(scores, boxes, prev, window[:-1])
    with pytest.raises(ValueError, match="window_influence"):
        penalized_scores(scores, boxes, prev, window, window_influence=1.5)


def test_distractor_ratio_matches_loop() -> None:
    g = torch.Generator().manual_seed(7)
    maps = torch.rand(4, 9, 11, generator=g)
    best = maps.reshape(4, -1).argmax(1)
    fast = distractor_ratio(maps, best, exclusion_radius=2)
    for b in range(4):
        py, px = divmod(int(best[b]), 11)
        side = 0.0
        for y in range(9):
            for x in range(11):
                if abs(y - py) > 2 or abs(x - px) > 2:
                    side = max(side, float(maps[b, y, x]))
        assert fast[b].item() == pytest.approx(side / float(maps[b, py, px]), rel=1e-6)


def test_distractor_ratio_single_peak_and_twin_peak() -> None:
    m = torch.zeros(2, 9, 9)
    m[:, 4, 4] = 0.9
    m[1, 0, 0] = 0.8
    r = distractor_ratio(m, torch.tensor([40, 40]), exclusion_radius=3)
    assert r[0].item() == 0.0
    assert r[1].item() == pytest.approx(0.8 / 0.9)


def test_crop_box_round_trip_and_pixels() -> None:
    frame = np.zeros((100, 120, 3), dtype=np.uint8)
    frame[40:60, 50:70] = 255  # a white 20x20 square with centre (60, 50)
    centers = np.array([[60.0, 50.0]])
    scales = np.array([2.0])
    crop = crop_search_regions([frame], centers, scales, 64)[0]
    box = image_to_crop(
        torch.tensor([[50.0, 40.0, 70.0, 60.0]]), torch.tensor(centers), torch.tensor(scales), 64
    )
    # the square maps to the central 40x40 pixels of the 64x64 crop
    assert box[0].tolist() == pytest.approx([12.0, 12.0, 52.0, 52.0])
    assert crop[14:50, 14:50].min() > 200 and crop[:10].max() < 50
    back = crop_to_image(box, torch.tensor(centers), torch.tensor(scales), 64)
    assert back[0].tolist() == pytest.approx([50.0, 40.0, 70.0, 60.0])
    # outside the frame the crop is filled with the frame's mean colour
    far = crop_search_regions([frame], np.array([[-500.0, -500.0]]), scales, 16)[0]
    assert np.all(np.abs(far.astype(np.float64) - frame.mean()) <= 1)


def test_search_scale_maps_context_size_to_exemplar() -> None:
    s = search_scale(torch.tensor([[40.0, 40.0]]), exemplar_size=127, context=0.5)
    assert s.item() == pytest.approx(127 / 80)
