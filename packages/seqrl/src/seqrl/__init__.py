"""Sequence-level reinforcement learning for trackers.

Score-map candidate policies and self-critical sequence training (Kim et al. 2022), Gaussian box
actions, n-step actor-critic and an A3C runner (Dunnhofer et al. 2020), rewards from per-frame IoU
arrays and episode sampling. Depends on torch and numpy only; trackers plug in through a
``step(state, frame, mode)`` callable (SCST) or an environment plus ``policy_step`` (A3C).
Toy tasks for tests and examples live in :mod:`seqrl.toys`.

References:
    Kim, M., Lee, S., Ok, J., Han, B., Cho, M. 2022. Towards Sequence-Level Training for Visual
        Tracking. ECCV 2022. arXiv:2112.02838.
    Dunnhofer, M., Martinel, N., Micheloni, C. 2020. Tracking-by-Trackers with a Distilled and
        Reinforced Model. ACCV 2020. arXiv:2007.04108.
    Rennie, S. J., Marcheret, E., Mroueh, Y., Ross, J., Goel, V. 2017. Self-critical Sequence
        Training for Image Captioning. CVPR 2017. arXiv:1612.00563.
    Williams, R. J. 1992. Simple Statistical Gradient-Following Algorithms for Connectionist
        Reinforcement Learning. Machine Learning 8. no arXiv.
    Mnih, V., Badia, A. P., Mirza, M., Graves, A., Lillicrap, T., Harley, T., Silver, D.,
        Kavukcuoglu, K. 2016. Asynchronous Methods for Deep Reinforcement Learning. ICML 2016.
        arXiv:1602.01783.
    Liu, L., Jiang, H., He, P., Chen, W., Liu, X., Gao, J., Han, J. 2020. On the Variance of the
        Adaptive Learning Rate and Beyond (RAdam). ICLR 2020. arXiv:1908.03265.
    Kingma, D. P., Ba, J. 2015. Adam: A Method for Stochastic Optimization. ICLR 2015.
        arXiv:1412.6980.
"""

from ._a3c import A3CConfig, A3CResult, WorkerStats, run_a3c
from ._a3c_types import ActorOutput, Environment, LossHook, PolicyStep, Segment, Transition
from ._box_actions import (
    BoxActionConfig,
    apply_box_action,
    box_action_iou,
    box_action_to_target,
)
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
    fit_linear_value,
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
    "box_action_iou",
    "box_action_to_target",
    "box_iou_xywh",
    "candidate_log_prob",
    "categorical_entropy",
    "discounted_returns",
    "fit_linear_value",
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
