"""Test configuration: hypothesis runs without deadlines (timings here are noisy)."""

import pytest
import torch
from hypothesis import settings

settings.register_profile("trackkit", deadline=None, max_examples=100)
settings.load_profile("trackkit")


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device the tensor tests run on: CUDA when available, else CPU (nothing skips on CPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
