"""Feature distillation: L2 between student and teacher features after an optional adapter."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._checks import check_floating

__all__ = ["FeatureAdapter", "feature_distillation_loss"]


class FeatureAdapter(nn.Module):
    """A 1x1 convolution mapping student channels to teacher channels (FitNets' regressor).

    Romero et al. 2015 (FitNets) add a regressor on the student's hint layer so its width can
    differ from the teacher's; a 1x1 convolution is the light version used by feature-imitation
    methods for detectors.

    Args:
        student_channels: channels of the student feature map.
        teacher_channels: channels of the teacher feature map.
        device, dtype: where the parameters live.
    """

    def __init__(
        self,
        student_channels: int,
        teacher_channels: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if student_channels < 1 or teacher_channels < 1:
            raise ValueError(
                f"channel counts must be >= 1, got student_channels={student_channels}, "
                f"teacher_channels={teacher_channels}"
            )
        self.conv = nn.Conv2d(
            student_channels, teacher_channels, kernel_size=1, device=device, dtype=dtype
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, Cs, H, W]`` -> ``Tensor[B, Ct, H, W]``."""
        if features.dim() != 4 or features.shape[1] != self.conv.in_channels:
            raise ValueError(
                f"features must have shape [B, {self.conv.in_channels}, H, W], got "
                f"{tuple(features.shape)}"
            )
        return self.conv(features)


def feature_distillation_loss(
    student_features: torch.Tensor,
    teacher_features: torch.Tensor,
    *,
    adapter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Mean squared error between (adapted) student features and teacher features.

    ``mean((adapter(f_s) - f_t)^2)`` over all elements (FitNets' hint loss, Romero et al.
    2015, eq. 3, up to the constant 1/2). The teacher features are targets (detached).

    Args:
        student_features: ``Tensor[B, Cs, ...]``.
        teacher_features: ``Tensor[B, Ct, ...]``; must match the adapted student features.
        adapter: e.g. a `FeatureAdapter` when ``Cs != Ct``; ``None`` compares directly.

    NaN or inf features propagate to a NaN/inf loss (as in torch; values are not read).
    """
    check_floating(student_features, "student_features")
    check_floating(teacher_features, "teacher_features")
    adapted = adapter(student_features) if adapter is not None else student_features
    if adapted.shape != teacher_features.shape:
        hint = "" if adapter is not None else " (pass adapter=FeatureAdapter(Cs, Ct))"
        raise ValueError(
            f"student features{' after the adapter' if adapter is not None else ''} have shape "
            f"{tuple(adapted.shape)}, teacher_features {tuple(teacher_features.shape)}{hint}"
        )
    return (adapted - teacher_features.detach()).pow(2).mean()
