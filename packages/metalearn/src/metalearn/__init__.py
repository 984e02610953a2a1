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
from ._tasks import Task, stack_tasks
from ._tree import stack_trees
from ._vmap import vmap_query_losses

__version__ = "0.1.0"

__all__ = [
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
    "ScalarLR",
    "Task",
    "batch_loss",
    "gradient_descent",
    "inner_loop",
    "load_checkpoint",
    "multi_step_loss",
    "multi_step_weights",
    "resolve_adapted",
    "save_checkpoint",
    "stack_tasks",
    "stack_trees",
    "vmap_query_losses",
]
