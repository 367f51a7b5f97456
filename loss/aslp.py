"""ASLP: SC-BCE on labels perturbed with a per-image alpha that the AdaptiveAlpha controller learns."""
from __future__ import annotations

import torch

from loss.adaptive_alpha import AdaptiveAlpha
from loss.base import Objective
from loss.perturbation import describe_perturbed_label, draw_perturbed, perturbed_target, sc_bce
from common.settings import ASLPSettings


class ASLPLoss(Objective):
    def __init__(
        self, aslp: ASLPSettings, num_images: int, generator: torch.Generator, device: torch.device | str
    ) -> None:
        self.alpha = AdaptiveAlpha(num_images, aslp.beta, aslp.eta, aslp.lambda_, aslp.start_epoch, aslp.aslp_mode,
                                   device)
        self.beta, self.generator, self.noise = aslp.beta, generator, aslp.perturb_noise

    @classmethod
    def inert_reason(cls, aslp: ASLPSettings, epochs: int, **_: object) -> str | None:
        if epochs <= aslp.start_epoch:
            return (f"alpha first moves in epoch START_EPOCH + 1 = {aslp.start_epoch + 1}, but --epochs={epochs}; "
                    f"{_perturbing_fixes(aslp.start_epoch, epochs)}")
        if aslp.eta == 0:
            # Name the epochs fix too when it is also needed, so that following this advice perturbs labels.
            also = f"; and {_perturbing_fixes(aslp.start_epoch, epochs)}" if epochs == aslp.start_epoch + 1 else ""
            return f"--eta=0 never moves alpha from 0; give it a positive step size (the paper's is 0.002){also}"
        return None

    @classmethod
    def training_note(cls, aslp: ASLPSettings, epochs: int, **_: object) -> str | None:
        if epochs == aslp.start_epoch + 1:
            return (f"alpha first moves in epoch {epochs}, the last, after each image's one draw in it, so no "
                    f"label is perturbed and this run trains exactly as BCE (alpha.json still shows where alpha "
                    f"went); {_perturbing_fixes(aslp.start_epoch, epochs)}")
        return None

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        self.last_perturbed = draw_perturbed(self.alpha[index], self.generator, gt.device)
        return sc_bce(logits, perturbed_target(gt, self.last_perturbed, self.beta, self.generator, self.noise))

    def perturbed_label(self) -> str:
        return describe_perturbed_label(self.beta, self.noise)

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


def _perturbing_fixes(start_epoch: int, epochs: int) -> str:
    """The --epochs and --start_epoch values under which ASLP perturbs labels, in words.

    An image's alpha is updated after its own step, and an image comes once per epoch, so alpha
    changes in epoch START_EPOCH + 1 first perturb labels in epoch START_EPOCH + 2: the run needs
    EPOCHS >= START_EPOCH + 2. With one epoch no START_EPOCH (at least 0) gets there.
    """
    why = f"labels are first perturbed in epoch START_EPOCH + 2 = {start_epoch + 2}, after alpha's first update"
    longer = f"train longer (--epochs={start_epoch + 2} or more)"
    if epochs < 2:
        return f"{why}: {longer}"
    return f"{why}: {longer} or start alpha earlier (--start_epoch={epochs - 2} or less)"
