"""Brier score: mean squared error between the pixel probability and its label."""
from __future__ import annotations

import torch

from loss.base import Objective


class BrierLoss(Objective):
    """The binary form; summing over both classes of the two-class softmax would double it."""

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(logits) - gt).square().mean()
