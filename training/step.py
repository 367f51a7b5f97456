"""One optimiser step and what it records, the sums of an epoch's steps, and the lr schedule between epochs."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from common.distributed import all_reduce
from loss import Objective, image_statistics


@dataclass(frozen=True)
class StepRecord:
    """What one step leaves to log, on the device: nothing here waits for it."""

    loss: torch.Tensor  # the batch's loss, detached
    bce: torch.Tensor  # per image: the clean BCE of the logits before the update
    entropy: torch.Tensor  # per image: the mean entropy of the same logits
    alpha_sum: torch.Tensor | None  # the batch's alphas summed before their update (None: a method without)
    perturbed: torch.Tensor | None  # images of the batch trained on a perturbed label (None: a method without)


def train_step(
    network: nn.Module, objective: Objective, optimizer: torch.optim.Optimizer, images: torch.Tensor,
    gts: torch.Tensor, index: torch.Tensor, epoch: int, accuracy: torch.Tensor | None, amp: bool = False,
) -> StepRecord:
    """One optimiser step of `objective` on the batch (`index`: the images' dataset indices); `accuracy`,
    the last validation accuracy, steers ASLP's alpha update."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = network(images)
    logits = logits.float()
    loss = objective(logits, gts, index)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    # Statistics of the logits of this step (before the update), as the alpha rule prescribes.
    bce, entropy = image_statistics(logits.detach(), gts)
    alpha = objective.alpha_of(index)
    perturbed = objective.last_perturbed
    record = StepRecord(loss.detach(), bce, entropy, alpha.sum() if alpha is not None else None,
                        perturbed.sum() if perturbed is not None else None)
    objective.after_step(index, bce, entropy, epoch, accuracy)
    return record


@dataclass(frozen=True)
class EpochMeans:
    """An epoch's steps over every process: per-image means, the perturbed labels and the images seen."""

    loss: float
    bce: float
    entropy: float
    alpha_used_mean: float | None  # None for methods without alpha
    perturbed_share: float | None  # None for methods that perturb no label
    perturbed_labels: int | None
    images: int


class EpochSums:
    """The running sums of an epoch's step records on the device (loss, BCE, entropy, alpha, perturbed)."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(5, dtype=torch.float64, device=device)
        self.images = 0
        self.has_alpha = self.has_perturbed = False

    def add(self, record: StepRecord, n: int) -> None:
        """Add the step `record` of a batch of `n` images."""
        self.images += n
        self.sums[:3] += torch.stack([record.loss * n, record.bce.sum(), record.entropy.sum()]).double()
        self.has_alpha, self.has_perturbed = record.alpha_sum is not None, record.perturbed is not None
        if record.alpha_sum is not None:
            self.sums[3] += record.alpha_sum
        if record.perturbed is not None:
            self.sums[4] += record.perturbed

    def running(self) -> dict[str, str]:
        """This process's means so far, as the progress bar shows them (waits for the device)."""
        means = (self.sums / self.images).tolist()
        shown = dict(loss=f"{means[0]:.4f}", bce=f"{means[1]:.4f}", entropy=f"{means[2]:.3f}")
        if self.has_alpha:
            shown["alpha"] = f"{means[3]:.4f}"
        return shown

    def reduced(self) -> EpochMeans:
        """The means over every process's images (a collective under DDP: every process calls it)."""
        totals = all_reduce(self.sums)
        seen = float(all_reduce(torch.tensor(float(self.images), device=self.sums.device)))
        means = (totals / max(seen, 1.0)).tolist()
        return EpochMeans(means[0], means[1], means[2], means[3] if self.has_alpha else None,
                          means[4] if self.has_perturbed else None,
                          int(totals[4]) if self.has_perturbed else None, int(seen))


def decay_lr(optimizer: torch.optim.Optimizer, epoch: int, decay_rate: float, decay_epoch: int) -> None:
    """After epoch `epoch` (1-based) multiply the lr by decay_rate ** (epoch // decay_epoch).

    This compounds, as in the authors' runs: with 0.95 and 10 the lr is unchanged for epochs 1-9,
    shrinks by 0.95 after each of epochs 10-19 and by 0.95**2 after each of epochs 20-29.
    """
    for group in optimizer.param_groups:
        group["lr"] *= decay_rate ** (epoch // decay_epoch)
