"""DisturbLabel: each image's mask is flipped with a fixed probability per step.

Flipping is label perturbation with beta = 1, so this is SLP with beta fixed to 1.
"""
from __future__ import annotations

import torch

from loss.slp import SLPLoss


class DisturbLabelLoss(SLPLoss):
    def __init__(self, dl_alpha: float, generator: torch.Generator) -> None:
        super().__init__(slp_alpha=dl_alpha, beta=1.0, generator=generator)

    @classmethod
    def inert_reason(cls, dl_alpha: float, **_: object) -> str | None:
        if dl_alpha == 0:
            return "--dl_alpha=0 never flips a mask; give it a probability above 0 and at most 1 (default 0.1)"
        return None
