"""n-step returns, advantages and actor-critic losses (Dunnhofer et al. 2020, eqs. 5-7)."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import seqrl

D = torch.float64


def slow_n_step(r: list, v: list, v_T: float, n: int, gamma: float, terminal: bool) -> list:
    """Textbook definition, one step at a time."""
    T = len(r)
    values = [*v, 0.0 if terminal else v_T]
    out = []
    for t in range(T):
        m = min(n, T - t)
        g = sum(gamma**k * r[t + k] for k in range(m))
        out.append(g + gamma**m * values[t + m])
    return out


def test_hand_computed_returns() -> None:
    r = torch.tensor([1.0, 0.0, 2.0], dtype=D)
    v = torch.tensor([0.5, 0.4, 0.3], dtype=D)
    # gamma = 0.5, n = 1: r_t + 0.5 v_{t+1}; bootstrap v_3 = 1.0
    got = seqrl.n_step_returns(r, v, 1.0, n=1, gamma=0.5)
    assert got.tolist() == pytest.approx([1.2, 0.15, 2.5])
    # n = 2: r_t + 0.5 r_{t+1} + 0.25 v_{t+2}
    got = seqrl.n_step_returns(r, v, 1.0, n=2, gamma=0.5)
    assert got.tolist() == pytest.approx([1.0 + 0.0 + 0.25 * 0.3, 0.0 + 1.0 + 0.25 * 1.0, 2.5])
    # terminal: bootstrap 0
    got = seqrl.n_step_returns(r, v, 1.0, n=2, gamma=0.5, terminal=True)
    assert got.tolist() == pytest.approx([1.075, 1.0, 2.0])
    # A3C segment returns with gamma = 1 (Dunnhofer et al. 2020)
    assert seqrl.discounted_returns(r, 0.5).tolist() == pytest.approx([3.5, 2.5, 2.5])


def test_n_equal_T_is_the_monte_carlo_return() -> None:
    torch.manual_seed(0)
    r, v = torch.randn(3, 7, dtype=D), torch.randn(3, 7, dtype=D)
    mc = torch.zeros_like(r)
    running = torch.zeros(3, dtype=D)
    for t in reversed(range(7)):
        running = r[:, t] + 0.9 * running
        mc[:, t] = running
    got = seqrl.n_step_returns(r, v, torch.randn(3, dtype=D), n=7, gamma=0.9, terminal=True)
    torch.testing.assert_close(got, mc)
    torch.testing.assert_close(seqrl.discounted_returns(r, gamma=0.9, terminal=True), mc)
    # n larger than T changes nothing
    torch.testing.assert_close(seqrl.n_step_returns(r, v, 0.0, n=50, gamma=0.9, terminal=True), mc)


@given(
    st.lists(st.floats(-1, 1), min_size=1, max_size=9),
    st.integers(1, 10),
    st.floats(0, 1),
    st.booleans(),
    st.floats(-2, 2),
)
def test_n_step_matches_slow_reference(
    r: list, n: int, gamma: float, terminal: bool, v_T: float
) -> None:
    v = [0.1 * i - 0.3 for i in range(len(r))]
    got = seqrl.n_step_returns(
        torch.tensor(r, dtype=D), torch.tensor(v, dtype=D), v_T, n=n, gamma=gamma, terminal=terminal
    )
    assert got.tolist() == pytest.approx(slow_n_step(r, v, v_T, n, gamma, terminal), abs=1e-9)
    seg = seqrl.discounted_returns(torch.tensor(r, dtype=D), v_T, gamma=gamma, terminal=terminal)
    assert seg.tolist() == pytest.approx(slow_n_step(r, v, v_T, len(r), gamma, terminal), abs=1e-9)


def test_td_advantages_and_next_values() -> None:
    r = torch.tensor([1.0, 0.0, -1.0], dtype=D)
    v = torch.tensor([0.5, 0.25, 1.0], dtype=D)
    v_tp1 = seqrl.next_values(v, 2.0)
    assert v_tp1.tolist() == [0.25, 1.0, 2.0]
    assert seqrl.next_values(v, 2.0, terminal=True).tolist() == [0.25, 1.0, 0.0]
    adv = seqrl.td_advantages(r, v, v_tp1, gamma=0.5)
    assert adv.tolist() == pytest.approx([1 + 0.125 - 0.5, 0 + 0.5 - 0.25, -1 + 1 - 1])


def test_losses_hand_cases_and_gradients() -> None:
    logp = torch.tensor([-1.0, -2.0], dtype=D, requires_grad=True)
    adv = torch.tensor([0.5, -1.0], dtype=D, requires_grad=True)
    loss = seqrl.policy_gradient_loss(logp, adv)
    assert float(loss.detach()) == pytest.approx(-(-0.5 + 2.0))
    loss.backward()
    assert logp.grad.tolist() == [-0.5, 1.0] and adv.grad is None  # advantage is a constant
    v = torch.tensor([1.0, 3.0], dtype=D, requires_grad=True)
    vl = seqrl.value_loss(torch.tensor([2.0, 2.0], dtype=D), v)
    assert float(vl.detach()) == pytest.approx(0.5 * 1 + 0.5 * 1)
    vl.backward()
    assert v.grad.tolist() == [-1.0, 1.0]


def test_actor_critic_loss_composes_the_pieces() -> None:
    torch.manual_seed(1)
    logp = torch.randn(2, 4, dtype=D, requires_grad=True)
    v = torch.randn(2, 4, dtype=D, requires_grad=True)
    r = torch.randn(2, 4, dtype=D)
    ent = torch.rand(2, 4, dtype=D)
    v_T = torch.randn(2, dtype=D)
    term = torch.tensor([False, True])
    out = seqrl.actor_critic_loss(
        logp,
        v,
        r,
        v_T,
        terminal=term,
        gamma=0.9,
        value_coef=0.5,
        entropy_t=ent,
        entropy_coef=0.01,
    )
    returns = seqrl.n_step_returns(r, v, v_T, n=4, gamma=0.9, terminal=term)
    adv = seqrl.td_advantages(r, v, seqrl.next_values(v, v_T, terminal=term), gamma=0.9)
    expected = (
        seqrl.policy_gradient_loss(logp, adv)
        + 0.5 * seqrl.value_loss(returns, v)
        - 0.01 * ent.sum(-1).mean()
    )
    torch.testing.assert_close(out.total, expected)
    torch.testing.assert_close(out.returns_t, returns)
    assert out.returns_t[1, -1] == r[1, -1]  # terminal row bootstraps from 0
    n_step = seqrl.actor_critic_loss(logp, v, r, v_T, terminal=term, gamma=0.9, advantage="n_step")
    torch.testing.assert_close(n_step.advantage_t, returns - v.detach())


Z3 = torch.zeros(3)
NAN1 = torch.tensor([float("nan")])
AC = seqrl.actor_critic_loss
NSR = seqrl.n_step_returns


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: NSR(torch.zeros(0), torch.zeros(0), 0.0, n=1), ValueError, "empty"),
        (lambda: NSR(Z3, torch.zeros(4), 0.0, n=1), ValueError, "same shape"),
        (lambda: NSR(NAN1, torch.zeros(1), 0.0, n=1), ValueError, "NaN"),
        (lambda: NSR(Z3, Z3, 0.0, n=0), ValueError, "n must"),
        (lambda: NSR(Z3, Z3, 0.0, n=1, gamma=1.5), ValueError, "gamma"),
        (lambda: NSR(torch.zeros(2, 3), torch.zeros(2, 3), Z3, n=1), ValueError, "v_T"),
        (lambda: seqrl.discounted_returns(Z3, float("nan")), ValueError, "v_T"),
        (lambda: seqrl.discounted_returns(Z3, terminal=1), TypeError, "terminal"),
        (lambda: AC(Z3, Z3, Z3, 0.0, advantage="gae"), ValueError, "advantage"),
        (lambda: AC(Z3, Z3, torch.zeros(2), 0.0), ValueError, "same shape"),
        (
            lambda: seqrl.policy_gradient_loss(torch.zeros(()), torch.zeros(())),
            ValueError,
            "scalar",
        ),
        (lambda: seqrl.value_loss([1.0], torch.zeros(1)), TypeError, "returns_t"),
    ],
)
def test_bad_inputs(call: object, err: type, match: str) -> None:
    with pytest.raises(err, match=match):
        call()  # type: ignore[operator]


def test_fit_linear_value_matches_the_normal_equations() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    h = rng.normal(size=(3, 5, 7, 6))
    y = h @ rng.normal(size=6) + 0.3 + rng.normal(0, 0.1, (3, 5, 7))
    for ridge in (0.0, 2.0):
        w, b = seqrl.fit_linear_value(
            torch.tensor(h, dtype=torch.float32), torch.tensor(y), ridge=ridge
        )
        assert w.shape == (1, 6) and b.shape == (1,) and w.dtype == torch.float32
        x = np.concatenate((h.reshape(-1, 6), np.ones((105, 1))), axis=1)
        pen = np.diag([ridge] * 6 + [0.0])  # the bias is not penalised
        ref = np.linalg.solve(x.T @ x + pen, x.T @ y.reshape(-1))
        np.testing.assert_allclose(w.numpy()[0], ref[:6], atol=1e-4)
        assert b.item() == pytest.approx(ref[6], abs=1e-4)
    # a larger ridge shrinks the weights
    w0, _ = seqrl.fit_linear_value(torch.tensor(h), torch.tensor(y), ridge=0.0)
    w1, _ = seqrl.fit_linear_value(torch.tensor(h), torch.tensor(y), ridge=1e4)
    assert w1.norm() < w0.norm()


def test_fit_linear_value_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="returns must have shape"):
        seqrl.fit_linear_value(torch.zeros(4, 3), torch.zeros(5))
    with pytest.raises(ValueError, match="ridge"):
        seqrl.fit_linear_value(torch.zeros(4, 3), torch.zeros(4), ridge=-1.0)
    with pytest.raises(ValueError, match="non-finite"):
        seqrl.fit_linear_value(torch.full((4, 3), float("nan")), torch.zeros(4))
