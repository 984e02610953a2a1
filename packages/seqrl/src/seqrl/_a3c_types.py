"""The contract between the A3C runner and a tracker: environment, policy step, records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import Tensor, nn


class Environment(Protocol):
    """An episodic environment (e.g. one training video played by a student tracker).

    ``reset()`` starts an episode and returns the first observation; ``step(action)`` returns
    ``(observation, r_t, done)``. The environment owns its randomness; the runner builds it as
    ``make_env(worker_id, seed)``.
    """

    def reset(self) -> Any:
        """Start an episode; return its first observation."""
        ...

    def step(self, action: Tensor) -> tuple[Any, float, bool]:
        """Apply ``action``; return ``(next_observation, r_t, done)``."""
        ...


@dataclass(frozen=True)
class ActorOutput:
    """What the policy produced for one step.

    Attributes:
        action: the action to execute (detached before it reaches the environment).
        log_prob: ``Tensor[]`` log pi(a_t | s_t), with graph (a Tensor[...] for vectorised
            environments; shapes must stay fixed).
        value: ``Tensor[]`` V(s_t), with graph, same shape as ``log_prob``.
        entropy: optional policy entropy (same shape), for the entropy bonus.
        aux: anything the loss hook needs (e.g. ``mu`` and a teacher action for distillation).
    """

    action: Tensor
    log_prob: Tensor
    value: Tensor
    entropy: Tensor | None = None
    aux: Mapping[str, Any] = field(default_factory=dict)


class PolicyStep(Protocol):
    """``policy_step(model, observation, memory, *, sample) -> (ActorOutput, new_memory)``.

    ``memory`` is the recurrent state (None at episode start; e.g. an LSTM's ``(h, c)``); the
    runner detaches tensors in it after every update (truncated back-propagation).
    ``sample=False`` must act deterministically (it is used for the bootstrap value).
    Must be picklable (a module-level function or a ``functools.partial`` of one) for the
    multi-process mode.
    """

    def __call__(
        self, model: nn.Module, observation: Any, memory: Any, *, sample: bool
    ) -> tuple[ActorOutput, Any]: ...


@dataclass(frozen=True)
class Transition:
    """One step of a segment: the observation acted on, the policy's output and ``r_t``."""

    observation: Any
    output: ActorOutput
    r_t: float


@dataclass(frozen=True)
class Segment:
    """Up to ``t_max`` steps between two gradient pushes of one worker.

    Attributes:
        worker_id: the worker that played it.
        episode: the worker's episode counter.
        steps: the transitions in order.
        terminal: the episode ended after the last step.
        v_T: detached bootstrap value (0 when terminal).
    """

    worker_id: int
    episode: int
    steps: tuple[Transition, ...]
    terminal: bool
    v_T: Tensor


class LossHook(Protocol):
    """``hook(worker_id, ac_loss, segment) -> loss``: the loss a worker back-propagates.

    ``ac_loss`` is the scaled actor-critic loss of the segment. Distilling workers
    (Dunnhofer et al. 2020) return e.g. ``distill_loss(segment)`` (or ``ac_loss + distill_loss``);
    autonomous workers return ``ac_loss``. Must be picklable for the multi-process mode.
    """

    def __call__(self, worker_id: int, ac_loss: Tensor, segment: Segment) -> Tensor: ...
