"""Functional MAML for any torch module.

Inner loops over parameter dicts (`torch.func.functional_call`), learned learning rates (scalar,
kernel-wise KLLR, element-wise Meta-SGD, optionally per step), the multi-step loss with its
annealing schedule, a `MetaLearner` outer step, online `Adapter` for trackers, checkpoints.
"""

from ._adapter import Adapter
from ._checkpoint import load_checkpoint, save_checkpoint
from ._inner import LossFn, batch_loss, gradient_descent, inner_loop, resolve_adapted
from ._learner import MAMLConfig, MetaLearner, MetaStepResult
from ._lr import ElementwiseLR, FixedLR, KernelwiseLR, LearnedLR, ScalarLR
from ._multistep import MultiStepSchedule, multi_step_loss, multi_step_weights
from ._online import (
    BATCHING_MODES,
    SampleLossFn,
    SupportBuffer,
    adapt_batched,
    weighted_mean,
)
from ._similarity import similarity_weighted_init, task_similarity
from ._tasks import (
    Task,
    gather_task,
    identity_task_indices,
    split_support_query,
    stack_tasks,
)
from ._tree import stack_trees
from ._vmap import vmap_query_losses

__version__ = "0.1.0"

__all__ = [
    "BATCHING_MODES",
    "Adapter",
    "ElementwiseLR",
    "FixedLR",
    "KernelwiseLR",
    "LearnedLR",
    "LossFn",
    "MAMLConfig",
    "MetaLearner",
    "MetaStepResult",
    "MultiStepSchedule",
    "SampleLossFn",
    "ScalarLR",
    "SupportBuffer",
    "Task",
    "adapt_batched",
    "batch_loss",
    "gather_task",
    "gradient_descent",
    "identity_task_indices",
    "inner_loop",
    "load_checkpoint",
    "multi_step_loss",
    "multi_step_weights",
    "resolve_adapted",
    "save_checkpoint",
    "similarity_weighted_init",
    "split_support_query",
    "stack_tasks",
    "stack_trees",
    "task_similarity",
    "vmap_query_losses",
    "weighted_mean",
]
