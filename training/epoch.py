"""The training side of an epoch: the network (wrapped for DDP), its objective and optimiser, and one
pass over the training batches with its progress bar and its check for a non-finite loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from common.distributed import all_reduce, is_distributed, is_main_process
from common.settings import SpeedSettings
from loss import Objective
from model import memory_format
from training.checkpoint import TrainingError
from training.log import describe_alpha
from training.step import EpochSums, train_step


@dataclass(frozen=True)
class Trainer:
    """What every epoch trains with: the network, the module the steps call (the network, or its DDP
    wrapper), the objective, the optimiser, the device and how fast the steps run (`speed`)."""

    network: nn.Module
    model: nn.Module
    objective: Objective
    optimizer: torch.optim.Optimizer
    device: torch.device
    speed: SpeedSettings

    @classmethod
    def build(cls, network: nn.Module, objective: Objective, device: torch.device, speed: SpeedSettings,
              lr: float) -> Trainer:
        """Move `network` to `device` in training mode, wrap it under DDP (torchrun) and give it Adam at `lr`."""
        network.to(device, memory_format=memory_format(speed.channels_last)).train()
        model = network
        if is_distributed():
            model = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
        return cls(network, model, objective, torch.optim.Adam(network.parameters(), lr), device, speed)

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def run_epoch(
        self, loader: DataLoader, epoch: int, epochs: int, accuracy: torch.Tensor | None, checkpoint_path: Path,
    ) -> tuple[EpochSums, dict[str, float]]:
        """Train one epoch over `loader`, ASLP's alpha steered by the last validation `accuracy`;
        returns the sums of its steps and the objective's alpha distribution after it ({} for methods
        without). A non-finite loss stops it, naming the step and `checkpoint_path`, the last good one."""
        sums = EpochSums(self.device)
        first_bad_step = torch.full((), -1, dtype=torch.int64, device=self.device)
        layout = memory_format(self.speed.channels_last)
        bar = tqdm(loader, desc=f"Epoch {epoch}/{epochs}", unit="batch", disable=not is_main_process())
        for step, (images, gts, index) in enumerate(bar, start=1):
            images = images.to(self.device, non_blocking=True, memory_format=layout)
            gts, index = gts.to(self.device, non_blocking=True), index.to(self.device, non_blocking=True)
            record = train_step(self.model, self.objective, self.optimizer, images, gts, index, epoch, accuracy,
                                self.speed.amp)
            sums.add(record, images.shape[0])
            first_bad_step.masked_fill_((first_bad_step < 0) & ~torch.isfinite(record.loss), step)
            if step % self.speed.log_every == 0 or step == len(loader):
                # The only host synchronisation of the loop, every `log_every` steps.
                bad_step = int(all_reduce(first_bad_step.clone(), dist.ReduceOp.MAX))
                if bad_step >= 0:
                    raise TrainingError(
                        f"non-finite loss in epoch {epoch}, step {bad_step}; the last good "
                        f"checkpoint is {checkpoint_path if checkpoint_path.exists() else 'none (first epoch)'}"
                    )
                bar.set_postfix(sums.running(), lr=f"{self.lr:.2e}")
        diagnostics = self.objective.diagnostics()
        if diagnostics:
            bar.set_postfix_str(f"{bar.postfix}, {describe_alpha(diagnostics)}")
        bar.close()
        return sums, diagnostics


def seed_epoch(loader: DataLoader, seed: int, epoch: int) -> None:
    """Seed the training loader for `epoch`: its shuffle and its workers' seeds, so that a resumed run
    sees exactly the batches of an uninterrupted one."""
    loader.generator.manual_seed(seed + epoch)
    loader.dataset.set_epoch(epoch)
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
