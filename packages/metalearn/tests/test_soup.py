"""average_state_dicts: the uniform / weighted model soup (Wortsman et al. 2022)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metalearn import KernelwiseLR, average_state_dicts


def test_uniform_mean_against_hand_computed_values() -> None:
    a = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "b": torch.tensor([0.5])}
    b = {"w": torch.tensor([[3.0, 0.0], [3.0, -4.0]]), "b": torch.tensor([1.5])}
    out = average_state_dicts([a, b])
    assert list(out) == ["w", "b"]
    assert torch.equal(out["w"], torch.tensor([[2.0, 1.0], [3.0, 0.0]]))
    assert torch.equal(out["b"], torch.tensor([1.0]))
    # three members, uniform: (1 + 2 + 6) / 3 = 3
    c = {"w": torch.tensor([[6.0, 1.0], [0.0, 0.0]]), "b": torch.tensor([4.0])}
    out3 = average_state_dicts([a, b, c])
    assert torch.equal(out3["w"], torch.tensor([[10 / 3, 1.0], [2.0, 0.0]]))
    assert torch.equal(out3["b"], torch.tensor([2.0]))


def test_weighted_mean_and_dtype_kept() -> None:
    a = {"w": torch.tensor([1.0, 10.0], dtype=torch.float64)}
    b = {"w": torch.tensor([5.0, 20.0], dtype=torch.float64)}
    out = average_state_dicts([a, b], weights=[0.25, 0.75])
    assert out["w"].dtype == torch.float64
    assert torch.equal(out["w"], torch.tensor([4.0, 17.5], dtype=torch.float64))
    half = {"w": torch.tensor([1.0, 3.0], dtype=torch.float16)}
    half2 = {"w": torch.tensor([2.0, 5.0], dtype=torch.float16)}
    out16 = average_state_dicts([half, half2])
    assert out16["w"].dtype == torch.float16
    assert torch.equal(out16["w"], torch.tensor([1.5, 4.0], dtype=torch.float16))


def test_equals_float32_mean_of_two_random_models_and_inputs_untouched() -> None:
    torch.manual_seed(0)
    m1 = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    m2 = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    s1, s2 = m1.state_dict(), m2.state_dict()
    before = {k: v.clone() for k, v in s1.items()}
    out = average_state_dicts([s1, s2])
    for k, v in out.items():
        if v.is_floating_point():
            assert torch.equal(v, (s1[k] + s2[k]) / 2), k
        else:
            assert torch.equal(v, s1[k]), k
        assert v.data_ptr() != s1[k].data_ptr()
    assert all(torch.equal(before[k], s1[k]) for k in s1)
    # the soup loads back into the architecture
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    m.load_state_dict(out)


def test_tensor_equal_in_every_member_is_returned_bit_exact() -> None:
    x = torch.randn(50, generator=torch.Generator().manual_seed(1))
    states = [{"frozen": x.clone(), "p": torch.randn(3)} for _ in range(3)]
    out = average_state_dicts(states, weights=[0.1, 0.2, 0.7])
    assert torch.equal(out["frozen"], x)


def test_learned_rates_average() -> None:
    params = {"w": nn.Parameter(torch.zeros(4, 2)), "b": nn.Parameter(torch.zeros(4))}
    lr1, lr2 = KernelwiseLR(params, init=1e-3), KernelwiseLR(params, init=3e-3)
    out = average_state_dicts([lr1.state_dict(), lr2.state_dict()])
    lr = KernelwiseLR(params)
    lr.load_state_dict(out)
    for v in lr.state_dict().values():
        assert torch.allclose(v, torch.full_like(v, 2e-3))


def test_integer_buffers_must_be_equal() -> None:
    a = {"n": torch.tensor(3), "flag": torch.tensor([True, False])}
    b = {"n": torch.tensor(3), "flag": torch.tensor([True, False])}
    out = average_state_dicts([a, b])
    assert out["n"].dtype == torch.int64 and int(out["n"]) == 3
    with pytest.raises(ValueError, match=r"'n' is a torch\.int64 tensor that differs"):
        average_state_dicts([a, {"n": torch.tensor(4), "flag": b["flag"]}])
    with pytest.raises(ValueError, match=r"'flag' is a torch\.bool"):
        average_state_dicts([a, {"n": a["n"], "flag": torch.tensor([True, True])}])


@pytest.mark.parametrize(
    ("other", "match"),
    [
        ({"w": torch.zeros(2)}, r"states\[1\] has other keys than states\[0\]: missing \['b'\]"),
        (
            {"w": torch.zeros(2), "b": torch.zeros(1), "c": torch.zeros(1)},
            r"extra \['c'\]",
        ),
        ({"w": torch.zeros(3), "b": torch.zeros(1)}, r"states\[1\]\['w'\] has shape \(3,\)"),
        (
            {"w": torch.zeros(2, dtype=torch.float64), "b": torch.zeros(1)},
            r"states\[1\]\['w'\] has dtype torch.float64",
        ),
        (
            {"w": torch.tensor([0.0, float("nan")]), "b": torch.zeros(1)},
            r"states\[1\]\['w'\] has NaN or infinite values",
        ),
        (
            {"w": torch.tensor([0.0, float("inf")]), "b": torch.zeros(1)},
            "NaN or infinite",
        ),
    ],
)
def test_mismatches_raise_one_line_errors(other: dict[str, torch.Tensor], match: str) -> None:
    a = {"w": torch.ones(2), "b": torch.ones(1)}
    with pytest.raises(ValueError, match=match):
        average_state_dicts([a, other])


def test_bad_arguments() -> None:
    a = {"w": torch.ones(2)}
    with pytest.raises(ValueError, match="at least two"):
        average_state_dicts([a])
    with pytest.raises(TypeError, match="sequence of state dicts"):
        average_state_dicts(a)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"states\[1\] is a list"):
        average_state_dicts([a, [1.0]])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"states\[1\]\['w'\] is a float"):
        average_state_dicts([a, {"w": 1.0}])  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="got 3 weights for 2 states"):
        average_state_dicts([a, a], weights=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        average_state_dicts([a, a], weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        average_state_dicts([a, a], weights=[1.5, -0.5])
    with pytest.raises(ValueError, match="non-negative"):
        average_state_dicts([a, a], weights=[float("nan"), 0.5])
