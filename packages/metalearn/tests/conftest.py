"""Test configuration: hypothesis runs without deadlines (timings here are noisy).

The tests directory is put on `sys.path` so the shared helper module `_ml_models` imports under
pytest's importlib import mode.
"""

import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

settings.register_profile("trackkit", deadline=None, max_examples=100)
settings.load_profile("trackkit")

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# The models here are tiny: intra-op threading only adds overhead on the shared 2-core machine.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device the tensor tests run on: CUDA when available, else CPU (nothing skips on CPU).

    On CUDA, TF32 convolutions and matmuls are switched off for the session, so the tests'
    tolerances (set against float32 references) mean on a GPU what they mean on a CPU.
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device("cuda")
