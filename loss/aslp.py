"""ASLP: SC-BCE on labels perturbed with a per-image alpha that the AdaptiveAlpha controller learns."""
from __future__ import annotations

import torch

from loss.adaptive_alpha import AdaptiveAlpha
from loss.base import Objective
from loss.perturbation import perturb_labels, sc_bce


class ASLPLoss(Objective):
    def __init__(
        self,
        num_images: int,
        beta: float,
        eta: float,
        lam: float,
        start_epoch: int,
        aslp_mode: str,
        generator: torch.Generator,
        device: torch.device | str,
        perturb_noise: bool = False,
    ) -> None:
        self.alpha = AdaptiveAlpha(num_images, beta, eta, lam, start_epoch, aslp_mode, device)
        self.beta, self.generator, self.noise = beta, generator, perturb_noise

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return sc_bce(logits, perturb_labels(gt, self.alpha[index], self.beta, self.generator, self.noise))

    def alpha_of(self, index: torch.Tensor) -> torch.Tensor:
        return self.alpha[index]

    def after_step(
        self, index: torch.Tensor, bce: torch.Tensor, entropy: torch.Tensor, epoch: int, accuracy: torch.Tensor | None
    ) -> None:
        if self.alpha.is_active(epoch):
            self.alpha.update(index, bce, entropy, accuracy)

    def diagnostics(self) -> dict[str, float]:
        return self.alpha.summary()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.alpha.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.alpha.load_state_dict(state)
