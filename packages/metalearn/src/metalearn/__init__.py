"""Functional MAML for any torch module.

Inner loops over parameter dicts (`torch.func.functional_call`), learned learning rates (scalar,
kernel-wise KLLR, element-wise Meta-SGD, optionally per step), the multi-step loss with its
annealing schedule, a `MetaLearner` outer step, online `Adapter` for trackers, checkpoints,
weight averaging of fine-tuned models (`average_state_dicts`).

References:
    Wang, G., Luo, C., Sun, X., Xiong, Z., Zeng, W. 2020. Tracking by Instance Detection: A
        Meta-Learning Approach. CVPR 2020. arXiv:2004.00830.
    Chen, J., Deng, C. 2024. MAML MOT: Multiple Object Tracking based on Meta-Learning.
        arXiv:2405.07272.
    Finn, C., Abbeel, P., Levine, S. 2017. Model-Agnostic Meta-Learning for Fast Adaptation of Deep
        Networks. ICML 2017. arXiv:1703.03400.
    Antoniou, A., Edwards, H., Storkey, A. 2019. How to train your MAML. ICLR 2019.
        arXiv:1810.09502.
    Li, Z., Zhou, F., Chen, F., Li, H. 2017. Meta-SGD: Learning to Learn Quickly for Few-Shot
        Learning. arXiv:1707.09835.
    Wortsman, M., Ilharco, G., Gadre, S. Y., et al. 2022. Model soups: averaging weights of
        multiple fine-tuned models improves accuracy without increasing inference time. ICML
        2022. arXiv:2203.05482.
    Kingma, D. P., Ba, J. 2015. Adam: A Method for Stochastic Optimization. ICLR 2015.
        arXiv:1412.6980.
"""

from ._adapter import Adapter
from ._checkpoint import load_checkpoint, save_checkpoint
from ._functional import functional_forward
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
from ._soup import average_state_dicts
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
    "average_state_dicts",
    "batch_loss",
    "functional_forward",
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
