"""RetinaTrack head (Lu et al. 2020): per-anchor instance features, shared subnets, embeddings."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from ._tower import (
    as_levels,
    cat_levels,
    check_head_norm,
    check_int_args,
    conv_tower,
    final_conv,
    flatten_anchor_maps,
    prior_bias,
)


class RetinaTrackHead(nn.Module):
    """RetinaTrack's post-FPN network (Lu et al. 2020, Sec. 3.2-3.3, Fig. 2c), shared across levels.

    For each anchor shape k = 1..K: ``m1`` task-shared 3x3 convs with parameters theta_k give
    the per-anchor instance feature ``F_{i,k} = Conv^(m1)(F_i; theta_k)`` (theta_k shared
    across FPN levels). Then, shared across k and levels: ``m2`` 3x3 convs + a final 3x3 conv to
    ``N`` class logits; ``m2`` 3x3 convs + a final 3x3 conv to 4 box deltas; ``m3`` 1x1 convs to
    a ``embedding_dim``-d track embedding (ReLU after each but the last). Paper default and best
    setting: K = 6, m1 = 3, m2 = 1, m3 = 2, 256-d embeddings.

    The K parallel theta_k stacks are run as one grouped convolution (group k holds theta_k;
    the first conv maps ``F_i`` to all K groups), so there is no loop over anchors;
    ``theta_k`` of the j-th m1 conv is ``m1_tower[...]`` weight rows ``k*C:(k+1)*C``. Lu et al. 2020
    uses BatchNorm; here ``norm`` is ``"gn"`` (default, per-anchor groups) or ``"none"``, so the
    head stays a pure function of its parameters (``torch.func.functional_call``).

    ``forward(features)`` (one ``Tensor[B, C, H, W]`` or a list of FPN levels) returns, with
    ``A = sum_l H_l * W_l * K`` ordered (level, y, x, k) like ``make_anchors``::

        "cls_logits":        Tensor[B, A, N]
        "bbox_deltas":       Tensor[B, A, 4]
        "embeddings":        Tensor[B, A, embedding_dim]
        "instance_features": Tensor[B, A, C]   (F_{i,k}; only if return_features=True)

    Args:
        in_channels: C of every level (256 after an FPN); also the width of every conv.
        num_anchors: K.
        num_classes: N.
        m1, m2, m3: depths (m1 >= 1, m2 >= 0, m3 >= 1).
        embedding_dim: 256 in Lu et al. 2020.
        norm: ``"gn"`` or ``"none"``.
        prior_prob: initial class probability (0.01).
    """

    def __init__(
        self,
        in_channels: int = 256,
        *,
        num_anchors: int = 6,
        num_classes: int = 1,
        m1: int = 3,
        m2: int = 1,
        m3: int = 2,
        embedding_dim: int = 256,
        norm: str = "gn",
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        check_head_norm(norm)
        check_int_args(
            ("in_channels", in_channels, 1),
            ("num_anchors", num_anchors, 1),
            ("num_classes", num_classes, 1),
            ("m1", m1, 1),
            ("m2", m2, 0),
            ("m3", m3, 1),
            ("embedding_dim", embedding_dim, 1),
        )
        c, k = in_channels, num_anchors
        self.in_channels = c
        self.num_anchors = k
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        # m1: first conv C -> K*C (K independent convs), then grouped K*C -> K*C.
        first = conv_tower(c, k * c, 1, norm="none")
        layers = list(first)
        if norm == "gn":
            layers.insert(1, nn.GroupNorm(k * math.gcd(32, c), k * c))
        if m1 > 1:
            layers += list(conv_tower(k * c, k * c, m1 - 1, norm=norm, groups=k))
        self.m1_tower = nn.Sequential(*layers)
        self.cls_tower = conv_tower(c, c, m2, norm=norm)
        self.reg_tower = conv_tower(c, c, m2, norm=norm)
        self.cls_logits = final_conv(c, num_classes, bias_value=prior_bias(prior_prob))
        self.bbox_pred = final_conv(c, 4)
        emb: list[nn.Module] = []
        cin = c
        for j in range(m3):
            conv = nn.Conv2d(cin, embedding_dim, 1)
            nn.init.normal_(conv.weight, std=math.sqrt(1.0 / cin))
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
            emb.append(conv)
            if j < m3 - 1:
                if norm == "gn":
                    emb.append(nn.GroupNorm(math.gcd(32, embedding_dim), embedding_dim))
                emb.append(nn.ReLU())
            cin = embedding_dim
        self.emb_tower = nn.Sequential(*emb)

    def instance_features(self, features: Tensor) -> Tensor:
        """``F_{i,k}`` of one level: ``Tensor[B, C, H, W] -> Tensor[B, K, C, H, W]``."""
        b, c, h, w = features.shape
        return self.m1_tower(features).reshape(b, self.num_anchors, c, h, w)

    def _level(self, f: Tensor, return_features: bool) -> dict[str, Tensor]:
        b, c, h, w = f.shape
        k = self.num_anchors
        inst = self.instance_features(f).reshape(b * k, c, h, w)

        def per_anchor(x: Tensor) -> Tensor:  # [B*K, D, H, W] -> [B, H*W*K, D]
            d = x.shape[1]
            return flatten_anchor_maps(x.reshape(b, k * d, h, w), k)

        out = {
            "cls_logits": per_anchor(self.cls_logits(self.cls_tower(inst))),
            "bbox_deltas": per_anchor(self.bbox_pred(self.reg_tower(inst))),
            "embeddings": per_anchor(self.emb_tower(inst)),
        }
        if return_features:
            out["instance_features"] = per_anchor(inst)
        return out

    def forward(
        self, features: Tensor | Sequence[Tensor], *, return_features: bool = True
    ) -> dict[str, Tensor]:
        """Per-anchor outputs over all levels (see the class docstring for keys and shapes)."""
        levels = as_levels("features", features, self.in_channels)
        per_level = [self._level(f, return_features) for f in levels]
        return {key: cat_levels([o[key] for o in per_level]) for key in per_level[0]}
