"""Stochastic label perturbation and the Self-Calibrating BCE (SC-BCE) trained on it."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def perturb_labels(
    gt: torch.Tensor, alpha: torch.Tensor, beta: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each image of `gt` (N x 1 x H x W, values in [0, 1]) is, with probability alpha[i], replaced by
    (1 - 2*beta) * gt + beta; otherwise kept. Whole images are perturbed, never single pixels.

    beta = 1 flips the mask (DisturbLabel); the paper's beta = 2 pushes targets outside [0, 1], which
    BCE-with-logits accepts. In expectation the target is (1 - 2*alpha*beta) * gt + alpha*beta.
    """
    draws = torch.rand(gt.shape[0], generator=generator, device=gt.device)
    perturbed = (draws < alpha.to(gt.dtype)).view(-1, *([1] * (gt.dim() - 1)))
    return torch.where(perturbed, (1.0 - 2.0 * beta) * gt + beta, gt)


def sc_bce(logits: torch.Tensor, perturbed_gt: torch.Tensor) -> torch.Tensor:
    """SC-BCE: mean binary cross-entropy with logits against the perturbed label."""
    return F.binary_cross_entropy_with_logits(logits, perturbed_gt)
