"""SLP: SC-BCE with one fixed perturbation probability for every image, the non-adaptive ablation of ASLP."""
from __future__ import annotations

import torch

from loss.base import Objective
from loss.perturbation import describe_perturbed_label, draw_perturbed, perturbed_target, sc_bce


class SLPLoss(Objective):
    def __init__(self, slp_alpha: float, beta: float, generator: torch.Generator, perturb_noise: bool = False) -> None:
        self.alpha, self.beta, self.generator, self.noise = slp_alpha, beta, generator, perturb_noise

    @classmethod
    def inert_reason(cls, slp_alpha: float, **_: object) -> str | None:
        if slp_alpha == 0:
            return "--slp_alpha=0 never perturbs a label; give it a probability above 0 and at most 1 (default 0.1)"
        return None

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        self.last_perturbed = draw_perturbed(self.alpha_of(index), self.generator, gt.device)
        return sc_bce(logits, perturbed_target(gt, self.last_perturbed, self.beta, self.generator, self.noise))

    def perturbed_label(self) -> str:
        return describe_perturbed_label(self.beta, self.noise)

    def alpha_of(self, index: torch.Tensor) -> torch.Tensor:
        return torch.full(index.shape, self.alpha, device=index.device)
