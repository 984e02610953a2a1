"""Test configuration: hypothesis runs without deadlines (timings here are noisy), and a
``one_thread`` fixture for the model tests."""

from collections.abc import Iterator

import pytest
import torch
from hypothesis import settings

settings.register_profile("trackkit", deadline=None, max_examples=100)
settings.load_profile("trackkit")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine OpenMP spinning makes 2 threads far slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
