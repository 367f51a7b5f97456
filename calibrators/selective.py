"""Selective scaling (SEL; Wang, Gong & Wang, CVPR 2023, "On calibrating semantic segmentation models:
analyses and an algorithm"): post-hoc calibration that flattens only the pixels a small detector
predicts to be mispredicted.

A pixel is mispredicted where its decision (p >= 0.5, i.e. logit >= 0) differs from its mask
thresholded at 0.5. The detector, fitted on validation pixels, scores each pixel's chance of being
mispredicted; pixels scoring at or above a threshold get the temperature T2 > 1, all others T = 1.
Like LTS the result is a temperature map at network resolution, positive everywhere, so no decision
changes. Two detectors: pixel-only (the paper's, which sees the pixel's own logit) and with context
(a k x k patch of logits around the pixel, optionally with the image).

The validation images are split with a seed: one part trains the detector, the other (held out)
picks the detector's epoch by its loss, then T2 (on a geometric grid in (1, T_MAX]) and the
threshold (every distinct detector score, searched exactly) jointly by the lowest NLL of the
calibrated logits. Where no pair beats T = 1 on the held-out pixels, SEL keeps the identity.
Mispredicted pixels are rare (a few percent in saliency maps), so the detector's loss weighs both
classes equally (a mispredicted pixel counts n_correct / n_wrong times; the paper duplicates them
instead); otherwise it could score every pixel correct and flag none. The weighting biases its
scores upwards, which the threshold, chosen by NLL on held-out pixels, corrects.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from calibrators.checks import check_fit_inputs
from calibrators.local_temperature import LOGIT_SCALE
from calibrators.temperature import T_MAX, pixel_nll
from common.text import plural

SEL_EPOCHS = 30  # most passes over the fitting images; early stopping usually ends sooner
SEL_PATIENCE = 5  # epochs without a lower held-out detector loss before training stops
SEL_LR = 1e-2  # Adam learning rate of the detector
SEL_BATCH_SIZE = 8  # images per step
SEL_HELD_OUT_FRACTION = 0.3  # share of the validation images that choose the epoch, T2 and the threshold
SEL_WIDTH = 16  # hidden channels of the detector
SEL_CONTEXT = 5  # side of the logit patch of the context detector (odd); 1 is the paper's pixel-only one
SEL_T2_STEPS = 32  # T2 grid: T_MAX ** (k / SEL_T2_STEPS), k = 1..SEL_T2_STEPS, steps of about 10 %


class SelectiveScaling(nn.Module):
    """Temperature map N x 1 x h x w, T2 where the detector flags a pixel as mispredicted and 1
    elsewhere, from the logit map (N x 1 x h x w) and, where `uses_images`, the normalised image
    (N x 3 x h x w), at any h x w. Starts as the identity (T2 = 1).

    The detector is a per-pixel MLP (two hidden layers of SEL_WIDTH) whose first layer reads a
    `context` x `context` patch of tanh(logit / LOGIT_SCALE), and of the image channels if used.
    With `context` = 1 and no image it is the paper's detector, which reads the pixel's class
    probabilities; with one logit per pixel that is one number, so it can learn no more than a
    function of the logit, i.e. of the confidence and the decision: flagging some confidences (of
    either decision) for T2 is all it can do, and any gain over TS comes from treating them apart.
    """

    def __init__(self, context: int = 1, uses_images: bool = False) -> None:
        super().__init__()
        if context < 1 or context % 2 == 0:
            raise ValueError(f"the detector's context must be a positive odd patch side (1, 3, 5, ...); got {context}")
        # Replicated borders: zero padding would show border pixels neighbours of logit 0, the most
        # uncertain value there is, and teach the detector that borders are wrong.
        self.detector = nn.Sequential(
            nn.Conv2d(1 + 3 * uses_images, SEL_WIDTH, context, padding=context // 2, padding_mode="replicate"),
            nn.ReLU(), nn.Conv2d(SEL_WIDTH, SEL_WIDTH, 1), nn.ReLU(), nn.Conv2d(SEL_WIDTH, 1, 1),
        )
        self.register_buffer("temperature", torch.tensor(1.0))  # T2
        # On the detector's output (its logit of a misprediction), not its probability: sigmoid
        # rounds every confident detection to 1.0 in float32, which would tie them.
        self.register_buffer("threshold", torch.tensor(math.inf))
        self.context, self.uses_images = context, uses_images

    def scores(self, logits: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        """The detector's logit that each pixel is mispredicted, N x 1 x h x w."""
        if logits.dim() != 4 or logits.shape[1] != 1:
            raise ValueError(f"SelectiveScaling needs logits N x 1 x h x w; got {tuple(logits.shape)}")
        inputs = torch.tanh(logits / LOGIT_SCALE)
        if self.uses_images:
            if images is None or images.shape != (logits.shape[0], 3, *logits.shape[2:]):
                got = None if images is None else tuple(images.shape)
                raise ValueError(f"this SelectiveScaling reads the images: it needs them N x 3 x h x w beside logits "
                                 f"{tuple(logits.shape)}; got {got}")
            inputs = torch.cat([inputs, images.to(inputs.dtype)], dim=1)
        return self.detector(inputs)

    def forward(self, logits: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        flagged = self.scores(logits, images) >= self.threshold
        return torch.where(flagged, self.temperature, 1.0).to(logits.dtype)


@dataclass(frozen=True)
class SelectiveScalingFit:
    """The fitted module (in eval mode) and how the fit went. NLLs, fractions, recall and precision are
    measured on the held-out validation images, which the detector never trained on."""

    module: SelectiveScaling
    nll_before: float  # mean BCE at T = 1
    nll_after: float  # with `module`
    temperature: float  # T2; 1.0: the identity
    threshold: float  # the detector probability at or above which a pixel gets T2; 1.0 with the identity
    at_bound: bool  # T2 = T_MAX: the flagged pixels would be flattened further if allowed
    flagged_fraction: float  # share of the pixels given T2
    mispredicted_fraction: float  # share of the pixels whose decision differs from the mask
    recall: float  # share of the mispredicted pixels flagged (0 when none is mispredicted)
    precision: float  # share of the flagged pixels mispredicted (0 when none is flagged)
    mispredicted_weight: float  # a mispredicted pixel's weight in the detector's loss, a correct one's being 1
    epochs_run: int
    best_epoch: int  # the epoch whose detector `module` holds; 0: no detector was trained
    fitting_images: int
    held_out_indices: tuple[int, ...]  # which validation images were held out

    @property
    def converged(self) -> bool:
        """False: SEL keeps the identity, T = 1 everywhere."""
        return self.temperature > 1.0

    def describe(self) -> str:
        """One line for the log: the fit, and plainly when it keeps the identity and why."""
        def images(count: int, kind: str) -> str:
            return f"{count} {kind}{plural('image', count)}"

        held_out = len(self.held_out_indices)
        if self.best_epoch == 0:
            return (f"no pixel of the {images(self.fitting_images, 'fitting validation ')} is mispredicted, so "
                    "there is nothing for the detector to learn: SEL keeps the identity, T = 1 everywhere (held-out "
                    f"NLL {self.nll_before:.4f} on {images(held_out, '')})")
        side = self.module.context
        detector = "pixel-only" if side == 1 else f"{side} x {side} context"
        if self.module.uses_images:
            detector += " + image"
        if not self.converged:
            return (f"no T2 in (1, {T_MAX:g}] and threshold of the {detector} detector beat T = 1 on the "
                    f"{images(held_out, 'held-out validation ')} (NLL {self.nll_before:.4f}, "
                    f"{self.mispredicted_fraction:.2%} mispredicted), so SEL keeps the identity, T = 1 everywhere, "
                    "and its maps equal the uncalibrated ones")
        line = (f"{detector} detector fitted on {images(self.fitting_images, 'validation ')} (epoch "
                f"{self.best_epoch} of {self.epochs_run}); T2 = {self.temperature:.3f} on the "
                f"{self.flagged_fraction:.2%} of held-out pixels it gives a probability >= {self.threshold:.4f} of "
                f"being mispredicted (recall {self.recall:.1%}, precision {self.precision:.1%} of the "
                f"{self.mispredicted_fraction:.2%} mispredicted); held-out NLL on {images(held_out, '')} "
                f"{self.nll_before:.4f} at T = 1 -> {self.nll_after:.4f}")
        if self.at_bound:
            line += (f"; T2 hit the upper bound T_MAX = {T_MAX:g}: the flagged pixels are wrong so often that "
                     "flattening them further would lower the NLL still, so T2 is capped, not fitted")
        if self.best_epoch == self.epochs_run:
            line += "; the detector was still improving at the last epoch, so more epochs may help"
        return line


@dataclass(frozen=True)
class _Choice:
    temperature: float
    threshold: float  # on the detector's logit
    nll: float


def _choose(logits: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor) -> _Choice | None:
    """T2 on the grid and the threshold with the lowest mean NLL over these pixels (flat tensors), or
    None where none beats T = 1.

    Sorted by descending score, flagging the first c pixels changes the summed NLL by the c-th
    cumulative sum of each pixel's change under T2, so one sort and one cumulative sum per T2 give
    the NLL of every threshold; cuts inside a run of tied scores are no threshold and are skipped.
    """
    scores, order = torch.sort(scores, descending=True, stable=True)
    z, y = logits[order].double(), labels[order].double()
    nll_at_one = pixel_nll(z, y)
    total = nll_at_one.sum().item()
    cut_allowed = torch.ones_like(scores, dtype=torch.bool)
    cut_allowed[:-1] = scores[:-1] > scores[1:]
    best, best_nll = None, total / len(z)
    for step in range(1, SEL_T2_STEPS + 1):
        temperature = T_MAX ** (step / SEL_T2_STEPS)
        change = torch.cumsum(pixel_nll(z / temperature, y) - nll_at_one, dim=0)
        change = torch.where(cut_allowed, change, math.inf)
        cut = int(torch.argmin(change))
        nll = (total + change[cut].item()) / len(z)
        if nll < best_nll:  # strictly: a tie keeps the identity or the smaller T2
            best, best_nll = _Choice(temperature=temperature, threshold=scores[cut].item(), nll=nll), nll
    return best


def fit_selective_scaling(
    logits: torch.Tensor, labels: torch.Tensor, images: torch.Tensor | None = None, *, context: int = 1, seed: int,
    device: torch.device = torch.device("cpu"), epochs: int = SEL_EPOCHS, lr: float = SEL_LR,
    batch_size: int = SEL_BATCH_SIZE, held_out_fraction: float = SEL_HELD_OUT_FRACTION, patience: int = SEL_PATIENCE,
) -> SelectiveScalingFit:
    """Fit a `SelectiveScaling`: its detector by Adam on the class-balanced BCE of "mispredicted",
    then T2 and the threshold by the held-out NLL of the calibrated logits (see the module docstring).

    logits N x 1 x h x w (the frozen network's, at its resolution), labels N x 1 x h x w (the masks at
    h x w thresholded, bool or 0/1), images N x 3 x h x w (its normalised input) or None; the
    detector reads the images only if they are given, and a `context` x `context` patch of logits
    (1: the pixel alone, the paper's). Deterministic for a seed on the CPU.
    """
    if logits.dim() != 4 or logits.shape[1] != 1 or logits.numel() == 0:
        raise ValueError(f"SEL needs logits and labels N x 1 x h x w with pixels; got logits {tuple(logits.shape)}")
    check_fit_inputs(logits, labels)
    if images is not None and images.shape != (logits.shape[0], 3, *logits.shape[2:]):
        raise ValueError(f"SEL needs images N x 3 x h x w beside logits {tuple(logits.shape)}; "
                         f"got {tuple(images.shape)}")
    if images is not None and not torch.isfinite(images).all():
        raise ValueError("the images hold NaN or infinite values: check the loader's normalisation")
    if logits.shape[0] < 2:
        raise ValueError(f"SEL needs at least 2 validation images (one to fit, one held out); got {logits.shape[0]}")
    if not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must lie in (0, 1); got {held_out_fraction}")
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without moving the caller's RNG
        torch.manual_seed(seed)
        module = SelectiveScaling(context, uses_images=images is not None).to(device)
    logits = logits.detach().to(device=device, dtype=torch.float32)
    labels = labels.detach().to(device=device, dtype=torch.float32)
    images = None if images is None else images.detach().to(device=device, dtype=torch.float32)
    mispredicted = ((logits >= 0) != (labels == 1)).float()

    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(logits.shape[0], generator=generator)
    held_out_count = min(max(1, round(logits.shape[0] * held_out_fraction)), logits.shape[0] - 1)
    held_out, fitting = order[:held_out_count].to(device), order[held_out_count:].to(device)

    def pick(chosen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return logits[chosen], None if images is None else images[chosen]

    held_z, held_y = logits[held_out].flatten(), labels[held_out].flatten()
    held_wrong = mispredicted[held_out].flatten().bool()
    wrong, total = mispredicted[fitting].sum().item(), mispredicted[fitting].numel()
    weight = (total - wrong) / wrong if 0 < wrong < total else 1.0
    pos_weight = torch.tensor(weight, device=device)

    def held_out_scores() -> torch.Tensor:
        module.eval()
        with torch.no_grad():
            return torch.cat([module.scores(*pick(chosen)).flatten() for chosen in held_out.split(batch_size)])

    best_loss, best_state, best_epoch, epochs_run = math.inf, copy.deepcopy(module.state_dict()), 0, 0
    if wrong > 0:
        optimiser = torch.optim.Adam(module.parameters(), lr=lr)
        for epoch in range(1, epochs + 1):
            module.train()
            for batch in torch.randperm(len(fitting), generator=generator).split(batch_size):
                chosen = fitting[batch.to(device)]
                loss = F.binary_cross_entropy_with_logits(module.scores(*pick(chosen)), mispredicted[chosen],
                                                          pos_weight=pos_weight)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            epochs_run = epoch
            loss = F.binary_cross_entropy_with_logits(held_out_scores(), held_wrong.float(), pos_weight=pos_weight)
            if loss.item() < best_loss:
                best_loss, best_state, best_epoch = loss.item(), copy.deepcopy(module.state_dict()), epoch
            elif epoch - best_epoch >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()

    nll_before = pixel_nll(held_z.double(), held_y.double()).mean().item()
    choice, flagged = None, torch.zeros_like(held_wrong)
    if best_epoch > 0:
        scores = held_out_scores()
        choice = _choose(held_z, held_y, scores)
        if choice is not None:
            flagged = scores >= choice.threshold
    if choice is None:
        choice = _Choice(temperature=1.0, threshold=math.inf, nll=nll_before)
    module.temperature.fill_(choice.temperature)
    module.threshold.fill_(choice.threshold)
    hits = (flagged & held_wrong).sum().item()
    return SelectiveScalingFit(
        module=module, nll_before=nll_before, nll_after=choice.nll, temperature=choice.temperature,
        threshold=torch.tensor(choice.threshold, dtype=torch.float64).sigmoid().item(),
        at_bound=choice.temperature == T_MAX, flagged_fraction=flagged.float().mean().item(),
        mispredicted_fraction=held_wrong.float().mean().item(),
        recall=hits / max(held_wrong.sum().item(), 1), precision=hits / max(flagged.sum().item(), 1),
        mispredicted_weight=weight, epochs_run=epochs_run, best_epoch=best_epoch, fitting_images=len(fitting),
        held_out_indices=tuple(held_out.tolist()),
    )
