"""Plain binary cross-entropy: the uncalibrated baseline."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from loss.base import Objective


class BCELoss(Objective):
    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, gt)
