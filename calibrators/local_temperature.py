"""Local temperature scaling (LTS; Ding et al., ICCV 2021): post-hoc calibration with one temperature
per pixel, predicted by a small convolutional network from the logit map and the image.

Like TS it is fitted on the validation split by NLL with the segmentation network frozen, and its
temperatures lie in TS's [T_MIN, T_MAX], so they are positive and no decision (p >= 0.5) changes.
Unlike TS it can sharpen one region and soften another, where the network's miscalibration differs
across the image. Everything runs at network resolution.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from calibrators.checks import check_fit_inputs
from calibrators.temperature import T_MAX, T_MIN, pixel_nll
from common.text import counted, plural

LTS_PATIENCE = 5  # epochs without a better held-out NLL before the fit stops
LTS_BATCH_SIZE = 8  # images per step
LTS_VALID_FRACTION = 0.2  # share of the validation images held out to choose the best epoch
LTS_WIDTH = 16  # channels of the hidden layers
LTS_DILATIONS = (1, 2, 4, 8)  # one 3 x 3 layer each: a 31 px receptive field with few parameters
# Logits enter as tanh(logit / LOGIT_SCALE): their magnitude is unbounded (tens on confident pixels),
# which would swamp the image channels; beyond |logit| ~ 3 LOGIT_SCALE, p is 0 or 1 anyway.
LOGIT_SCALE = 8.0


class LocalTemperature(nn.Module):
    """Temperature map N x 1 x h x w in [T_MIN, T_MAX] from the logit map (N x 1 x h x w) and the
    normalised image (N x 3 x h x w), at any h x w. With `per_image`, one temperature per image,
    from the features averaged over the image. Starts as the identity: T = 1 everywhere."""

    def __init__(self, per_image: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 4  # the logit and the three image channels
        for dilation in LTS_DILATIONS:
            layers += [nn.Conv2d(channels, LTS_WIDTH, 3, padding=dilation, dilation=dilation), nn.ReLU()]
            channels = LTS_WIDTH
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(LTS_WIDTH, 1, 1)
        # A zero head gives log T = 0, T = 1: fitting starts from the uncalibrated network.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.per_image = per_image

    def forward(self, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 4 or logits.shape[1] != 1 or images.shape != (logits.shape[0], 3, *logits.shape[2:]):
            raise ValueError(f"LocalTemperature needs logits N x 1 x h x w and images N x 3 x h x w; got "
                             f"{tuple(logits.shape)} and {tuple(images.shape)}")
        features = self.features(torch.cat([torch.tanh(logits / LOGIT_SCALE), images], dim=1))
        if self.per_image:
            features = features.mean(dim=(2, 3), keepdim=True)
        # tanh bounds log T to [log T_MIN, log T_MAX] (symmetric about 0) smoothly: no gradient dies at a clamp.
        log_t = math.log(T_MAX) * torch.tanh(self.head(features))
        return torch.exp(log_t).expand_as(logits)


@dataclass(frozen=True)
class LocalTemperatureFit:
    """The fitted module (in eval mode) and how the fit went. NLLs are the mean BCE over the pixels
    of the held-out validation images, which the fit never trained on."""

    module: LocalTemperature
    nll_before: float  # at T = 1
    nll_after: float  # with `module`
    epochs_run: int
    best_epoch: int  # the epoch whose state `module` holds; 0: none beat T = 1, `module` is the identity
    fitting_images: int
    held_out_images: int
    temperature_range: tuple[float, float]  # min and max of T over the held-out pixels

    @property
    def converged(self) -> bool:
        return self.best_epoch > 0

    def describe(self) -> str:
        """One line for the log: the fit, and plainly when it did not improve on T = 1."""
        if not self.converged:
            held_out = self.held_out_images
            none = "the one epoch did not" if self.epochs_run == 1 else f"none of the {self.epochs_run} epochs"
            return (f"{none} beat T = 1 on the {held_out} held-out validation {plural('image', held_out)} "
                    f"(NLL {self.nll_before:.4f}), so LTS keeps the identity, T = 1 everywhere, and its maps "
                    "equal the uncalibrated ones (more validation images may help)")
        low, high = self.temperature_range
        fitting, held_out = self.fitting_images, self.held_out_images
        line = (f"fitted on {counted(fitting, 'validation image')}; held-out NLL on {held_out} "
                f"{plural('image', held_out)} {self.nll_before:.4f} at T = 1 -> {self.nll_after:.4f}, "
                f"T from {low:.3f} to {high:.3f} "
                f"(epoch {self.best_epoch} of {self.epochs_run})")
        if self.best_epoch == self.epochs_run:
            line += "; still improving at the last epoch, so more epochs may lower the NLL further"
        return line


def fit_local_temperature(
    logits: torch.Tensor, images: torch.Tensor, labels: torch.Tensor, *, epochs: int,
    lr: float, batch_size: int = LTS_BATCH_SIZE, seed: int = 0, device: torch.device = torch.device("cpu"),
    valid_fraction: float = LTS_VALID_FRACTION, patience: int = LTS_PATIENCE, per_image: bool = False,
) -> LocalTemperatureFit:
    """Fit a `LocalTemperature` by Adam on the mean NLL (BCE-with-logits) of logits / T against binary labels.

    logits N x 1 x h x w (the frozen network's, at its resolution), images N x 3 x h x w (its
    normalised input), labels N x 1 x h x w (the masks at h x w thresholded, bool or 0/1). A seeded
    `valid_fraction` of the images is held out; the state with the lowest held-out NLL is kept, so
    a small validation split cannot be overfitted. Deterministic for a seed on the CPU.
    """
    if (logits.dim() != 4 or logits.shape[1] != 1 or labels.shape != logits.shape
            or images.shape != (logits.shape[0], 3, *logits.shape[2:])):
        raise ValueError(f"LTS needs logits and labels N x 1 x h x w and images N x 3 x h x w; got logits "
                         f"{tuple(logits.shape)}, images {tuple(images.shape)}, labels {tuple(labels.shape)}")
    if logits.shape[0] < 2:
        raise ValueError(f"LTS needs at least 2 validation images (one to fit, one held out); got {logits.shape[0]}")
    logits = logits.detach().to(device=device, dtype=torch.float32)
    images = images.detach().to(device=device, dtype=torch.float32)
    labels = labels.detach().to(device=device, dtype=torch.float32)
    check_fit_inputs(logits, labels)

    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(logits.shape[0], generator=generator)
    held_out_count = min(max(1, round(logits.shape[0] * valid_fraction)), logits.shape[0] - 1)
    held_out, fitting = order[:held_out_count].to(device), order[held_out_count:].to(device)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without moving the caller's RNG
        torch.manual_seed(seed)
        module = LocalTemperature(per_image=per_image).to(device)

    def held_out_nll() -> float:
        module.eval()
        with torch.no_grad():
            total = sum(pixel_nll(logits[chosen] / module(logits[chosen], images[chosen]), labels[chosen]).sum()
                        for chosen in held_out.split(batch_size))
        return total.item() / (held_out_count * logits[0].numel())

    nll_before = best_nll = held_out_nll()
    best_state, best_epoch, epochs_run = copy.deepcopy(module.state_dict()), 0, 0
    optimiser = torch.optim.Adam(module.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        module.train()
        for batch in torch.randperm(len(fitting), generator=generator).split(batch_size):
            chosen = fitting[batch.to(device)]
            loss = pixel_nll(logits[chosen] / module(logits[chosen], images[chosen]), labels[chosen]).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        epochs_run = epoch
        nll = held_out_nll()
        if nll < best_nll:
            best_nll, best_state, best_epoch = nll, copy.deepcopy(module.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    module.load_state_dict(best_state)
    module.eval()
    with torch.no_grad():
        ranges = [module(logits[chosen], images[chosen]).aminmax() for chosen in held_out.split(batch_size)]
    return LocalTemperatureFit(
        module=module, nll_before=nll_before, nll_after=best_nll, epochs_run=epochs_run, best_epoch=best_epoch,
        fitting_images=len(fitting), held_out_images=held_out_count,
        temperature_range=(min(r.min.item() for r in ranges), max(r.max.item() for r in ranges)),
    )


@torch.no_grad()
def apply_local_temperature(module: LocalTemperature, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """logits / T at network resolution, T the module's temperature map (logits N x 1 x h x w, images
    N x 3 x h x w). To resize, resize the logits and `module(logits, images)` each and divide after:
    resizing the scaled logits would blend neighbours of different temperatures and could flip a
    decision of the resized raw logits."""
    return logits / module(logits, images)
