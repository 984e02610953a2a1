"""Small synthetic tasks that exercise seqrl end to end (used by the tests and benchmark).

* :class:`TargetCellTask` - SCST: each frame shows a target cell, a brighter distractor cell and
  the neighbourhood of the previous choice; the tracker must pick the target cell. The initial
  scorer prefers the distractor, so the greedy tracker starts near zero average overlap.
* :class:`MoveBoxEnv` - A3C: move the previous box onto a drifting target box with relative
  box actions (Dunnhofer et al. 2020's MDP without images). Observation: the target's offset and
  log-size ratio relative to the current box, and the ground-truth action ``phi(g_t, b_{t-1})`` that
  the Gaussian policy's sigma needs.

Everything here is module-level so it pickles into spawned A3C workers.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ._a3c_types import ActorOutput, Segment
from ._box_actions import BoxActionConfig, apply_box_action, box_action_to_target
from ._gaussian_policy import gaussian_box_sigma, gaussian_entropy, sample_box_action
from ._iou import box_iou_xywh
from ._rewards import quantised_iou_reward
from ._score_policy import score_map_log_probs, select_candidates

__all__ = [
    "CellScorer",
    "MoveBoxActorCritic",
    "MoveBoxEnv",
    "TargetCellTask",
    "evaluate_move_box",
    "make_move_box_env",
    "move_box_distill_hook",
    "move_box_policy_step",
]


class CellScorer(nn.Module):
    """Per-cell linear scorer over 3 feature channels -> scores in (0, 1) ``Tensor[B, N]``.

    Initialised to prefer the distractor channel (weights ``[0, 2, 0.5]``, bias -1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[0.0, 2.0, 0.5]]))
            self.linear.bias.fill_(-1.0)

    def forward(self, features: Tensor) -> Tensor:
        """``features Tensor[B, N, 3] -> scores Tensor[B, N]`` in (0, 1)."""
        return torch.sigmoid(self.linear(features).squeeze(-1))


class TargetCellTask:
    """Choose-the-target-cell sequential task on a ring of ``num_cells`` cells.

    A frame is ``(target Tensor[B], distractor Tensor[B])``; the target moves by -1, 0 or +1
    per frame, the distractor jumps anywhere else. The tracker's state is its previous choice
    ``Tensor[B]``. Per-frame overlap is 1 when the choice is the target cell, else 0, so the
    episode reward (average overlap) is the fraction of frames tracked.
    """

    def __init__(self, num_cells: int = 16) -> None:
        if num_cells < 4:
            raise ValueError(f"num_cells must be >= 4, got {num_cells}")
        self.num_cells = num_cells

    def sample_episode(
        self, batch: int, length: int, generator: torch.Generator
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Return ``(initial_state Tensor[B], frames)``: the initial target cell and T frames."""
        n = self.num_cells
        target = torch.randint(n, (batch,), generator=generator)
        initial = target.clone()
        frames = []
        for _ in range(length):
            target = (target + torch.randint(-1, 2, (batch,), generator=generator)) % n
            offset = torch.randint(1, n, (batch,), generator=generator)
            frames.append((target, (target + offset) % n))
        return initial, frames

    def features(self, previous: Tensor, frame: tuple[Tensor, Tensor]) -> Tensor:
        """``Tensor[B, N, 3]``: one-hot target, one-hot distractor, previous-choice +-1 cells."""
        n = self.num_cells
        target, distractor = frame
        cells = torch.arange(n)
        dist = (cells.unsqueeze(0) - previous.unsqueeze(1)).remainder(n)
        near = ((dist <= 1) | (dist >= n - 1)).float()
        return torch.stack(
            (
                nn.functional.one_hot(target, n).float(),
                nn.functional.one_hot(distractor, n).float(),
                near,
            ),
            dim=-1,
        )

    def make_step(
        self,
        model: nn.Module,
        generator: torch.Generator | None = None,
        *,
        temperature: float = 1.0,
    ) -> Any:
        """A ``step(state, frame, mode)`` callable for :func:`seqrl.run_scst_episode`
        (``temperature``: of the candidate distribution, see :func:`score_map_log_probs`)."""

        def step(state: Tensor, frame: tuple[Tensor, Tensor], mode: Any) -> Any:
            scores = model(self.features(state, frame))
            log_probs = score_map_log_probs(scores, transform="logit", temperature=temperature)
            choice, log_prob = select_candidates(log_probs, mode=mode, generator=generator)
            return choice, choice, log_prob

        return step

    @staticmethod
    def average_overlap(choices: list[Tensor], frames: list[tuple[Tensor, Tensor]]) -> Tensor:
        """``Tensor[B]`` fraction of frames whose choice is the target."""
        hits = torch.stack([(c == f[0]).float() for c, f in zip(choices, frames)], dim=1)
        return hits.mean(dim=1)


class MoveBoxActorCritic(nn.Module):
    """MLP actor-critic: ``features Tensor[..., 4] -> (mu Tensor[..., 4], v Tensor[...])``.

    ``mu`` passes through tanh, so it lies in (-1, 1) like the actions.
    """

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.mu = nn.Linear(hidden, 4)
        self.value = nn.Linear(hidden, 1)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(mu, v)``."""
        h = self.trunk(features)
        return torch.tanh(self.mu(h)), self.value(h).squeeze(-1)


class MoveBoxEnv:
    """Move the box onto a drifting target (Dunnhofer et al. 2020's MDP on boxes only).

    Episode: the target starts up to ``init_shift`` box sizes away from the box and
    ``init_scale``x larger or smaller; every step the agent's action moves its box by ``psi``,
    the reward is computed from the IoU with the target, and the target then drifts.

    Args:
        seed: seed of the environment's own generator.
        length: steps per episode.
        reward: ``"quantised"`` (Dunnhofer et al. 2020 eq. 2) or ``"iou"``.
        init_shift, init_scale, drift: difficulty of the start and of the target motion.
        config: box-action ranges.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        length: int = 5,
        reward: str = "iou",
        init_shift: float = 0.5,
        init_scale: float = 1.5,
        drift: float = 0.1,
        config: BoxActionConfig | None = None,
    ) -> None:
        if reward not in ("quantised", "iou"):
            raise ValueError(f"reward must be 'quantised' or 'iou', got {reward!r}")
        self.generator = torch.Generator().manual_seed(seed)
        self.length = length
        self.reward = reward
        self.init_shift = init_shift
        self.init_scale = init_scale
        self.drift = drift
        self.config = config if config is not None else BoxActionConfig()
        self.t = 0
        self.box = torch.zeros(4)
        self.target = torch.zeros(4)
        self.last_iou = 0.0

    def _uniform(self, n: int, low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, generator=self.generator)

    def _move(self, box: Tensor, shift: float, log_scale: float) -> Tensor:
        d = self._uniform(4, -1.0, 1.0)
        cx = box[0] + 0.5 * box[2] + d[0] * shift * box[2]
        cy = box[1] + 0.5 * box[3] + d[1] * shift * box[3]
        w = box[2] * torch.exp(d[2] * log_scale)
        h = box[3] * torch.exp(d[3] * log_scale)
        return torch.stack((cx - 0.5 * w, cy - 0.5 * h, w, h))

    def _observation(self) -> dict[str, Tensor]:
        b, g = self.box, self.target
        feats = torch.stack(
            (
                ((g[0] + 0.5 * g[2]) - (b[0] + 0.5 * b[2])) / b[2],
                ((g[1] + 0.5 * g[3]) - (b[1] + 0.5 * b[3])) / b[3],
                torch.log(g[2] / b[2]),
                torch.log(g[3] / b[3]),
            )
        )
        expert = box_action_to_target(b, g, config=self.config)
        return {"features": feats, "expert_action": expert}

    def reset(self) -> dict[str, Tensor]:
        """Start an episode; return the first observation."""
        self.t = 0
        size = self._uniform(2, 20.0, 60.0)
        corner = self._uniform(2, 50.0, 150.0)
        self.box = torch.cat((corner, size))
        self.target = self._move(self.box, self.init_shift, math.log(self.init_scale))
        self.last_iou = float(box_iou_xywh(self.box, self.target))
        return self._observation()

    def step(self, action: Tensor) -> tuple[dict[str, Tensor], float, bool]:
        """Apply ``action``; return ``(observation, r_t, done)``."""
        self.box = apply_box_action(action.detach().float(), self.box, config=self.config)
        iou = box_iou_xywh(self.box, self.target)
        self.last_iou = float(iou)
        if self.reward == "iou":
            r = self.last_iou
        else:
            r = float(quantised_iou_reward(iou.reshape(1)))
        self.t += 1
        done = self.t >= self.length
        self.target = self._move(self.target, self.drift, self.drift)
        return self._observation(), r, done


def make_move_box_env(worker_id: int, seed: int, **env_kwargs: Any) -> MoveBoxEnv:
    """``make_env(worker_id, seed)`` for :func:`seqrl.run_a3c`: a :class:`MoveBoxEnv` seeded
    with ``seed`` (use ``functools.partial`` to pass ``env_kwargs``)."""
    return MoveBoxEnv(seed, **env_kwargs)


def move_box_policy_step(
    model: nn.Module,
    observation: dict[str, Tensor],
    memory: Any,
    *,
    sample: bool,
    min_sigma: float = 0.3,
) -> tuple[ActorOutput, Any]:
    """Gaussian box policy with ``sigma = |mu - phi(g_t, b_{t-1})|`` for :class:`MoveBoxEnv`."""
    mu, v = model(observation["features"])
    sigma = gaussian_box_sigma(mu, observation["expert_action"], min_sigma=min_sigma)
    action, log_prob = sample_box_action(mu, sigma, mode="sample" if sample else "argmax")
    out = ActorOutput(
        action=action,
        log_prob=log_prob,
        value=v,
        entropy=gaussian_entropy(sigma),
        aux={"mu": mu, "expert_action": observation["expert_action"]},
    )
    return out, memory


def move_box_distill_hook(worker_id: int, ac_loss: Tensor, segment: Segment) -> Tensor:
    """Dunnhofer et al. 2020's split: even workers distil (L1 between ``mu`` and the expert action,
    eq. 3 with an always-on mask), odd workers keep the actor-critic loss."""
    if worker_id % 2 == 1:
        return ac_loss
    terms = [
        (s.output.aux["mu"] - s.output.aux["expert_action"]).abs().sum() for s in segment.steps
    ]
    return torch.stack(terms).sum()


@torch.no_grad()
def evaluate_move_box(
    model: nn.Module, *, episodes: int = 50, seed: int = 12345, **env_kwargs: Any
) -> float:
    """Mean final IoU of the greedy policy (action = mu) over ``episodes`` fixed episodes."""
    env = MoveBoxEnv(seed, **env_kwargs)
    finals = []
    for _ in range(episodes):
        obs = env.reset()
        done = False
        while not done:
            mu, _ = model(obs["features"])
            obs, _, done = env.step(mu)
        finals.append(env.last_iou)
    return float(sum(finals) / len(finals))
