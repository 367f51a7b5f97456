"""The ASLP controller: one perturbation probability alpha per training image, learnt on the fly.

Each step, for the images of the batch (paper Eq. for the MC variant, with the authors' constants):

    alpha <- alpha + ETA * ((-2 * BCE_i + H_i) / BETA + LAMBDA * min((1 - acc) - BETA * alpha, 0))

BCE_i is the clean-label BCE and H_i = mean(-log(p (1 - p))) the prediction entropy of image i, both
from the logits of the step (detached); acc is the validation pixel accuracy of the previous epoch.
The entropy term raises alpha; the penalty stops the expected label confidence 1 - alpha*BETA from
falling below the model's accuracy. Alpha is then clamped to [0, 1/(2*BETA)) so the expected label
never changes side.

Modes. MC (maximum calibration) is the rule above and the only one in the authors' code. CS is this
project's reading of the paper's second, conservative variant: the entropy term with the clamps
only, no accuracy penalty (`accuracy=None`). The authors released no CS code, so CS numbers are not
a reproduction of theirs.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from common.text import counted

PROBABILITY_FLOOR = 1e-7
CLAMP_MARGIN = 0.01
MODES = ("MC", "CS")
SUMMARY_QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def image_statistics(logits: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean clean-label BCE and mean entropy term -log(p (1 - p)), p clamped to [1e-7, 1 - 1e-7]."""
    p = torch.sigmoid(logits.float()).clamp(PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    dims = tuple(range(1, p.dim()))
    bce = -(gt * torch.log(p) + (1.0 - gt) * torch.log1p(-p)).mean(dims)
    entropy = -(torch.log(p) + torch.log1p(-p)).mean(dims)
    return bce, entropy


def update_alpha(
    alpha: torch.Tensor,
    bce: torch.Tensor,
    entropy: torch.Tensor,
    accuracy: torch.Tensor | float | None,
    beta: float,
    eta: float,
    lam: float,
) -> torch.Tensor:
    """One ASLP step for a batch of alphas (see module docstring); `accuracy=None` drops the penalty (CS)."""
    step = (entropy - 2.0 * bce) / beta
    if accuracy is not None:
        step = step + lam * torch.clamp((1.0 - accuracy) - beta * alpha, max=0.0)
    updated = alpha + eta * step
    ceiling = 1.0 / (2.0 * beta)
    updated = torch.where(updated >= ceiling, torch.full_like(updated, ceiling - CLAMP_MARGIN), updated)
    return updated.clamp(min=0.0)


def share_updates(index: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Under DDP, every process's (index, new alpha) pairs, so that each applies all of them and the
    tables stay identical. An image present on two processes (DistributedSampler pads the last
    batch by repeating images) keeps the value of the lowest rank, the same choice everywhere."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return index, values
    world = dist.get_world_size()
    indices, updates = [torch.empty_like(index) for _ in range(world)], [torch.empty_like(values) for _ in range(world)]
    dist.all_gather(indices, index)
    dist.all_gather(updates, values)
    index, values = torch.cat(indices), torch.cat(updates)
    unique, inverse = torch.unique(index, return_inverse=True)
    positions = torch.arange(index.numel(), device=index.device)
    first = torch.full_like(unique, index.numel()).scatter_reduce_(0, inverse, positions, "amin")
    return unique, values[first]


class AdaptiveAlpha:
    """Alpha per training image, on the training device, indexed by the image's dataset index."""

    def __init__(
        self,
        num_images: int,
        beta: float,
        eta: float,
        lam: float,
        start_epoch: int,
        mode: str = "MC",
        device: torch.device | str = "cpu",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"ASLP_MODE must be one of {MODES}, got {mode!r}")
        self.alpha = torch.zeros(num_images, device=device)
        self.beta, self.eta, self.lam = beta, eta, lam
        self.start_epoch, self.mode = start_epoch, mode

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return self.alpha[index]

    def is_active(self, epoch: int) -> bool:
        """Alpha moves only after START_EPOCH epochs (1-based), once the model predicts something."""
        return epoch > self.start_epoch

    def update(
        self, index: torch.Tensor, bce: torch.Tensor, entropy: torch.Tensor, accuracy: torch.Tensor | float | None
    ) -> torch.Tensor:
        """Apply one step to the images `index` of the batch; returns their new alphas."""
        accuracy = accuracy if self.mode == "MC" else None
        new = update_alpha(self.alpha[index], bce, entropy, accuracy, self.beta, self.eta, self.lam)
        shared_index, shared_new = share_updates(index, new)
        self.alpha[shared_index] = shared_new
        return new

    def summary(self) -> dict[str, float]:
        """Distribution of alpha over the training images (quantiles q0..q100, mean) and the
        fractions of images held at each clamp, for the per-epoch log."""
        levels = torch.tensor(SUMMARY_QUANTILES, device=self.alpha.device)
        quantiles = torch.quantile(self.alpha, levels)
        ceiling = 1.0 / (2.0 * self.beta) - CLAMP_MARGIN
        values = torch.cat([quantiles, torch.stack([
            self.alpha.mean(), (self.alpha == 0).float().mean(), (self.alpha >= ceiling - 1e-6).float().mean(),
        ])]).tolist()
        names = [f"q{round(100 * q)}" for q in SUMMARY_QUANTILES] + ["mean", "at_zero", "at_ceiling"]
        return dict(zip(names, values))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"alpha": self.alpha.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["alpha"].shape != self.alpha.shape:
            raise ValueError(
                f"alpha table has {counted(state['alpha'].numel(), 'entry', 'entries')}, "
                f"the training split {self.alpha.numel()}"
            )
        self.alpha.copy_(state["alpha"])
