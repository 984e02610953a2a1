"""Sequence-level reinforcement learning for trackers.

Score-map candidate policies and self-critical sequence training (Kim et al. 2022), Gaussian box
actions, n-step actor-critic and an A3C runner (Dunnhofer et al. 2020), rewards from per-frame IoU
arrays and episode sampling. Depends on torch and numpy only; trackers plug in through a
``step(state, frame, mode)`` callable (SCST) or an environment plus ``policy_step`` (A3C).
Toy tasks for tests and examples live in :mod:`seqrl.toys`.
"""

from ._a3c import A3CConfig, A3CResult, WorkerStats, run_a3c
from ._a3c_types import ActorOutput, Environment, LossHook, PolicyStep, Segment, Transition
from ._box_actions import BoxActionConfig, apply_box_action, box_action_to_target
from ._episodes import Curriculum, CurriculumConfig, Episode, sample_episode
from ._gaussian_policy import (
    gaussian_box_sigma,
    gaussian_entropy,
    gaussian_log_prob,
    sample_box_action,
)
from ._iou import box_iou_xywh
from ._returns import (
    ActorCriticLoss,
    actor_critic_loss,
    bootstrap_value,
    discounted_returns,
    n_step_returns,
    next_values,
    policy_gradient_loss,
    td_advantages,
    value_loss,
)
from ._rewards import average_overlap, quantised_iou_reward, success_rate
from ._score_policy import (
    candidate_log_prob,
    categorical_entropy,
    score_map_log_probs,
    select_candidates,
)
from ._scst import SCSTRollout, StepFn, run_scst_episode, scst_loss
from ._shared_optim import OptimizerConfig, SharedOptimizer, make_shared_state

__version__ = "0.1.0"

__all__ = [
    "A3CConfig",
    "A3CResult",
    "ActorCriticLoss",
    "ActorOutput",
    "BoxActionConfig",
    "Curriculum",
    "CurriculumConfig",
    "Environment",
    "Episode",
    "LossHook",
    "OptimizerConfig",
    "PolicyStep",
    "SCSTRollout",
    "Segment",
    "SharedOptimizer",
    "StepFn",
    "Transition",
    "WorkerStats",
    "actor_critic_loss",
    "apply_box_action",
    "average_overlap",
    "bootstrap_value",
    "box_action_to_target",
    "box_iou_xywh",
    "candidate_log_prob",
    "categorical_entropy",
    "discounted_returns",
    "gaussian_box_sigma",
    "gaussian_entropy",
    "gaussian_log_prob",
    "make_shared_state",
    "n_step_returns",
    "next_values",
    "policy_gradient_loss",
    "quantised_iou_reward",
    "run_a3c",
    "run_scst_episode",
    "sample_box_action",
    "sample_episode",
    "score_map_log_probs",
    "scst_loss",
    "select_candidates",
    "success_rate",
    "td_advantages",
    "value_loss",
]
