"""The detector's folded trunk and head targets, on the ``device`` fixture."""

from __future__ import annotations

import torch

from detheads import MobileNetV2Backbone
from trackkit.sot import DetectorConfig, FCOSOps, InstanceDetector, RetinaOps, locations


def test_features_run_the_folded_trunk_and_draw_no_random_numbers(device: torch.device) -> None:
    """features() folds the trunk lazily (detheads.fold_frozen_batchnorm): equal to the
    unfolded trunk, and the global RNG is untouched (else a training run that folds on its
    first step would not resume exactly)."""
    torch.manual_seed(0)
    trunk = MobileNetV2Backbone(last_block=10).eval()
    with torch.no_grad():
        for name, buf in trunk.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
        for p in trunk.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    det = InstanceDetector(DetectorConfig(), trunk=trunk).to(device)
    crops = torch.randint(0, 256, (2, 67, 67, 3), dtype=torch.uint8)
    before = torch.get_rng_state()
    got = det.features(crops)
    assert torch.equal(torch.get_rng_state(), before)
    with torch.no_grad():
        want = det.trunk(det.images_to_tensor(crops))
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    n_bn = sum(type(m).__name__ == "FrozenBatchNorm2d" for m in det._fused.modules())
    assert n_bn == 0
    assert sum(type(m).__name__ == "FrozenBatchNorm2d" for m in det.trunk.modules()) > 0


def test_fcos_targets_match_hand_computation(device: torch.device) -> None:
    ops = FCOSOps(DetectorConfig())
    box = torch.tensor([[100.0, 100.0, 164.0, 132.0]], device=device)
    t = ops.targets(box, torch.ones(1, device=device), (33, 33))
    assert t["positive"].device == box.device
    loc = locations(33, 33, device=device)
    inside = (loc[:, 0] > 100) & (loc[:, 0] < 164) & (loc[:, 1] > 100) & (loc[:, 1] < 132)
    assert torch.equal(t["positive"][0].bool(), inside)
    k = int(torch.nonzero(inside)[0])
    x, y = loc[k].tolist()
    l, tp, r, b = x - 100, y - 100, 164 - x, 132 - y
    ctr = ((min(l, r) / max(l, r)) * (min(tp, b) / max(tp, b))) ** 0.5
    assert t["centerness"][0, k].item() == torch.tensor(ctr).item()
    assert t["ltrb"][0, k].tolist() == [v / 8 for v in (l, tp, r, b)]
    absent = ops.targets(box, torch.zeros(1, device=device), (33, 33))
    assert absent["positive"].sum() == 0 and absent["centerness"].sum() == 0


def test_retina_targets_force_the_best_anchor(device: torch.device) -> None:
    ops = RetinaOps(DetectorConfig())
    # IoU with any 64x64 anchor < 0.3
    small = torch.tensor([[120.0, 120.0, 140.0, 140.0]], device=device)
    t = ops.targets(small, torch.ones(1, device=device), (33, 33))
    assert t["positive"].sum() >= 1  # the best anchor is positive anyway
    assert torch.equal(t["cls_targets"][..., 0], t["positive"])
    t0 = ops.targets(small, torch.zeros(1, device=device), (33, 33))
    assert t0["positive"].sum() == 0 and t0["cls_weights"].sum() == 33 * 33


def test_resnet18_trunk_option_builds_and_detects(device: torch.device) -> None:
    import numpy as np
    import pytest

    from trackkit.sot import InstanceDetector, build_trunk

    cfg = DetectorConfig(backbone="resnet18", head="retina")
    with pytest.raises(ValueError, match="weights_path"):
        build_trunk(cfg, pretrained=True)
    det = InstanceDetector(cfg, trunk=build_trunk(cfg)).to(device)
    feats = det.features(np.zeros((1, 263, 263, 3), dtype=np.uint8))
    assert feats.shape == (1, 128, 33, 33) and feats.device.type == device.type
    params = {n: p.detach()[None] for n, p in det.initial_params().items()}
    boxes, scores = det.detect(params, feats)
    assert boxes.shape == (1, 33 * 33, 4) and torch.isfinite(scores).all()
