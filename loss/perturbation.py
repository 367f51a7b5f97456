"""Stochastic label perturbation and the Self-Calibrating BCE (SC-BCE) trained on it."""
from __future__ import annotations

import torch
import torch.nn.functional as F


NOISE_BOUND = 0.25


def perturb_labels(
    gt: torch.Tensor, alpha: torch.Tensor, beta: float, generator: torch.Generator | None = None,
    noise: bool = False,
) -> torch.Tensor:
    """Each image of `gt` (N x 1 x H x W, values in [0, 1]) is, with probability alpha[i], replaced by
    (1 - 2*beta) * gt + beta; otherwise kept. Whole images are perturbed, never single pixels.

    beta = 1 flips the mask (DisturbLabel); the paper's beta = 2 pushes targets outside [0, 1], which
    BCE-with-logits accepts. In expectation the target is (1 - 2*alpha*beta) * gt + alpha*beta.
    With `noise` (the authors' `perturb_noise` option, off by default there too), each pixel of a
    perturbed image also gets noise from a standard normal truncated to [-0.25, 0.25].
    """
    return perturbed_target(gt, draw_perturbed(alpha, generator, gt.device), beta, generator, noise)


def draw_perturbed(alpha: torch.Tensor, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Which images are perturbed this step: True with probability alpha[i] (the first half of
    `perturb_labels`, kept apart so that training can count the perturbed labels)."""
    return torch.rand(alpha.shape[0], generator=generator, device=device) < alpha.to(device, torch.float32)


def perturbed_target(
    gt: torch.Tensor, perturbed: torch.Tensor, beta: float, generator: torch.Generator | None = None,
    noise: bool = False,
) -> torch.Tensor:
    """The training target of `perturb_labels` for the images drawn as `perturbed` (N booleans)."""
    chosen = perturbed.view(-1, *([1] * (gt.dim() - 1)))
    target = torch.where(chosen, (1.0 - 2.0 * beta) * gt + beta, gt)
    if noise:
        # Drawn for every pixel (a fixed amount of randomness per step keeps resume exact), kept
        # only on the perturbed images.
        jitter = torch.nn.init.trunc_normal_(torch.empty_like(gt), 0.0, 1.0, -NOISE_BOUND, NOISE_BOUND, generator)
        target = target + torch.where(chosen, jitter, torch.zeros_like(jitter))
    return target


def describe_perturbed_label(beta: float, noise: bool = False) -> str:
    """The perturbed label (1 - 2 beta) y + beta in words: its value on foreground (y = 1) and
    background (y = 0), e.g. "-1 on foreground, 2 on background" for beta = 2."""
    words = f"{1.0 - beta:g} on foreground, {beta:g} on background"
    return words + (f", plus noise in [-{NOISE_BOUND:g}, {NOISE_BOUND:g}] per pixel" if noise else "")


def sc_bce(logits: torch.Tensor, perturbed_gt: torch.Tensor) -> torch.Tensor:
    """SC-BCE: mean binary cross-entropy with logits against the perturbed label."""
    return F.binary_cross_entropy_with_logits(logits, perturbed_gt)
