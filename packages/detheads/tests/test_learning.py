"""Learning tests: each head fits a tiny synthetic detection batch (decoded IoU > 0.7)."""

from __future__ import annotations

import torch
from torch import nn

from detheads import (
    FCOSHead,
    RetinaNetHead,
    box_iou,
    decode_fcos,
    decode_retinanet,
    fcos_loss,
    make_anchors,
    make_points,
    retinanet_loss,
)


def synthetic_batch(b: int = 4, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images with one bright rectangle each on noise; boxes ``Tensor[B, 1, 4]`` xyxy."""
    gen = torch.Generator().manual_seed(seed)
    imgs = torch.rand(b, 3, size, size, generator=gen) * 0.2
    boxes = []
    for i in range(b):
        w, h = (torch.randint(18, 34, (2,), generator=gen)).tolist()
        x = int(torch.randint(0, size - w, (1,), generator=gen))
        y = int(torch.randint(0, size - h, (1,), generator=gen))
        imgs[i, :, y : y + h, x : x + w] += torch.rand(3, 1, 1, generator=gen) * 0.5 + 0.5
        boxes.append([float(x), float(y), float(x + w), float(y + h)])
    return imgs, torch.tensor(boxes)[:, None, :]


def tiny_backbone(out: int = 32) -> nn.Sequential:
    """Stride-8 conv stack with coordinate-free features (the head must localise)."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, out, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(out, out, 3, 1, 2, dilation=2), nn.ReLU(),
    )  # fmt: skip


def _fit(model: nn.Module, loss_fn, steps: int, lr: float = 3e-3) -> None:  # type: ignore[no-untyped-def]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_retinanet_tracking_head_learns_boxes() -> None:
    torch.manual_seed(0)
    imgs, boxes = synthetic_batch()
    backbone = tiny_backbone()
    head = RetinaNetHead.tracking(32, num_convs=1)
    anchors = make_anchors([(8, 8)], [8], [(32.0,)], (1.0,))
    model = nn.ModuleList([backbone, head])

    def loss() -> torch.Tensor:
        return retinanet_loss(head(backbone(imgs)), anchors, boxes)["loss"]

    _fit(model, loss, steps=250)
    with torch.no_grad():
        dets = decode_retinanet(head(backbone(imgs)), anchors, max_detections=1)
    ious = [box_iou(d["boxes_xyxy"][:1], boxes[i]).max().item() for i, d in enumerate(dets)]
    assert min(ious) > 0.7, ious


def test_fcos_tracking_head_learns_boxes() -> None:
    torch.manual_seed(0)
    imgs, boxes = synthetic_batch(seed=1)
    backbone = tiny_backbone()
    head = FCOSHead.tracking(32, num_convs=1)
    points, strides = make_points([(8, 8)], [8])
    model = nn.ModuleList([backbone, head])

    def loss() -> torch.Tensor:
        return fcos_loss(head(backbone(imgs)), points, strides, boxes)["loss"]

    _fit(model, loss, steps=250)
    with torch.no_grad():
        dets = decode_fcos(head(backbone(imgs)), points, strides, max_detections=1)
    ious = [box_iou(d["boxes_xyxy"][:1], boxes[i]).max().item() for i, d in enumerate(dets)]
    assert min(ious) > 0.7, ious
