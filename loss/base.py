"""The interface every training method implements, so the training loop is method-agnostic."""
from __future__ import annotations

import torch


class Objective:
    """A training loss. Subclasses implement `__call__`; stateful ones (ASLP) also `after_step`.

    `index` holds the dataset indices of the batch's images, on the training device.
    """

    # Methods that perturb labels (SLP, DisturbLabel, ASLP) set this in `__call__`: which images of
    # the batch trained on a perturbed label. Training counts them in log.csv, so that a run whose
    # alphas stayed too small to perturb anything is visible.
    last_perturbed: torch.Tensor | None = None

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def inert_reason(cls, **settings: object) -> str | None:
        """Why training with these settings would be plain BCE (a perturbation that never happens),
        or None. `settings` holds the settings groups' fields, the group `aslp` and `epochs`."""
        return None

    @classmethod
    def training_note(cls, **settings: object) -> str | None:
        """What a user should know before training with these settings (a run that trains as BCE
        would, though nothing is wrong with it), or None; `settings` as for `inert_reason`."""
        return None

    def after_step(
        self, index: torch.Tensor, bce: torch.Tensor, entropy: torch.Tensor, epoch: int, accuracy: torch.Tensor | None
    ) -> None:
        """Called after each optimiser step with the batch's per-image clean BCE and entropy."""

    def perturbed_label(self) -> str | None:
        """What a perturbed label is, in words, for the training log (e.g. "-1 on foreground, 2 on
        background"); None for methods that do not perturb labels."""
        return None

    def alpha_of(self, index: torch.Tensor) -> torch.Tensor | None:
        """The perturbation probability of each image of the batch, for methods that have one."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """Per-epoch statistics worth logging (the alpha distribution for ASLP); none by default."""
        return {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what `state_dict` returned (nothing for stateless methods)."""
