"""Label smoothing: BCE against targets pulled towards 1/2, the classic calibration baseline."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from loss.base import Objective


class LabelSmoothingLoss(Objective):
    def __init__(self, ls_epsilon: float) -> None:
        self.epsilon = ls_epsilon

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # Two classes, so the uniform share of epsilon is epsilon / 2.
        return F.binary_cross_entropy_with_logits(logits, (1.0 - self.epsilon) * gt + self.epsilon / 2)
