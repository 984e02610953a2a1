"""Checkpoints: initial weights plus learned rates round-trip with weights_only loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _ml_models import ConvHead

from metalearn import ElementwiseLR, KernelwiseLR, load_checkpoint, save_checkpoint


def test_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ConvHead()
    lr = KernelwiseLR(dict(model.named_parameters()), per_step=4)
    with torch.no_grad():
        for p in lr.parameters():
            p.uniform_()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, lr, extra={"epoch": 3, "note": "x"})
    model2 = ConvHead()
    lr2 = KernelwiseLR(dict(model2.named_parameters()), per_step=4)
    extra = load_checkpoint(path, model2, lr2)
    assert extra == {"epoch": 3, "note": "x"}
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(lr.parameters(), lr2.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_mismatched_rates_and_foreign_files(tmp_path: Path) -> None:
    model = ConvHead()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, KernelwiseLR(dict(model.named_parameters())))
    with pytest.raises(ValueError, match="checkpoint rates are KernelwiseLR"):
        load_checkpoint(path, model, ElementwiseLR(dict(model.named_parameters())))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match="not a trackkit-metalearn"):
        load_checkpoint(other, model)
