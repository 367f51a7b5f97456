"""Focal loss on per-pixel logits, a calibration baseline that down-weights confident pixels."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from loss.base import Objective


class FocalLoss(Objective):
    """Mean over pixels of y * FL(+) + (1 - y) * FL(-), with FL(c) = -(1 - p_c)^gamma log p_c.

    Writing it per class keeps it defined for soft targets in [0, 1]; for binary targets it is the
    usual -(1 - p_t)^gamma log p_t.
    """

    def __init__(self, focal_gamma: float) -> None:
        self.gamma = focal_gamma

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # log p and log(1 - p) via log-sigmoid, and (1 - p)^gamma as exp(gamma * log(1 - p)),
        # so saturated logits give neither log(0) nor a 0^gamma gradient.
        log_p, log_q = F.logsigmoid(logits), F.logsigmoid(-logits)
        positive = -torch.exp(self.gamma * log_q) * log_p
        negative = -torch.exp(self.gamma * log_p) * log_q
        return (gt * positive + (1.0 - gt) * negative).mean()
