"""MbLS: margin-based label smoothing (Liu et al., CVPR 2022), adapted to one logit per pixel.

MbLS adds lambda * sum_k max(0, max_j z_j - z_k - margin) to the cross-entropy. A single logit x is
the two-class softmax with logits (x, 0): one distance is 0 and the other is exactly |x|, so the
penalty becomes lambda * mean(max(0, |x| - margin)) over pixels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from loss.base import Objective


class MbLSLoss(Objective):
    def __init__(self, mbls_margin: float, mbls_lambda: float) -> None:
        self.margin, self.weight = mbls_margin, mbls_lambda

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        penalty = F.relu(logits.abs() - self.margin).mean()
        return F.binary_cross_entropy_with_logits(logits, gt) + self.weight * penalty
