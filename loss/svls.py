"""SVLS: spatially varying label smoothing (Islam & Glocker, IPMI 2021), for one logit per pixel.

Follows the authors' code (github.com/mobarakol/SVLS, `svls.py` and `SVLS_2D.ipynb`): the one-hot
labels are filtered by a k x k Gaussian (sigma) whose centre weight is replaced by the sum of the
neighbour weights, normalised to sum to 1, over a replicate-padded label map; the loss is the
softmax cross-entropy against these soft labels, averaged over pixels. So a pixel keeps half of its
own label and takes the other half from its neighbours: targets are soft only near a boundary.

Binary form. With two classes the filtered one-hot labels are [1 - s, s], s = K * gt (the kernel
sums to 1 and replicate padding keeps a constant map constant), and the two-class logits [0, z] have
softmax [1 - sigmoid(z), sigmoid(z)]. Their cross-entropy is therefore

    SVLS(z, gt) = mean over pixels of BCE-with-logits(z, K * gt),

which is what `SVLSLoss` computes; tests/loss/test_svls.py checks it against the two-class form.
The authors only use k = 3 (their code puts the neighbour sum at index [1, 1] whatever k is); for
another odd k the centre weight here is the one at [k // 2, k // 2].
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from loss.base import Objective


def svls_filter(size: int, sigma: float) -> torch.Tensor:
    """The authors' SVLS filter, size x size, normalised to sum to 1 (float64, on the CPU)."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    gaussian = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    centre = size // 2
    gaussian[centre, centre] = 0
    # The centre weighs as much as all the neighbours together: half of it, after normalising.
    kernel = gaussian / (2 * gaussian.sum())
    kernel[centre, centre] = 0.5
    return kernel


class SVLSLoss(Objective):
    def __init__(self, svls_kernel: int, svls_sigma: float) -> None:
        if not isinstance(svls_kernel, int) or svls_kernel < 3 or svls_kernel % 2 == 0:
            raise ValueError(
                f"--svls_kernel must be an odd integer of at least 3 (a centre and its neighbours),"
                f" got {svls_kernel!r}; the authors use 3"
            )
        if not (math.isfinite(svls_sigma) and svls_sigma > 0):
            raise ValueError(f"--svls_sigma must be a positive number, got {svls_sigma!r}; the authors use 1")
        self.kernel = svls_filter(svls_kernel, svls_sigma)

    def target(self, gt: torch.Tensor) -> torch.Tensor:
        """The SVLS foreground target of each pixel of `gt` (N x 1 x H x W, values in [0, 1])."""
        kernel = self.kernel.to(device=gt.device, dtype=gt.dtype)
        pad = kernel.shape[-1] // 2
        # Replicate padding, as the authors do: the image border is not a boundary of the object.
        padded = F.pad(gt, (pad, pad, pad, pad), mode="replicate")
        return F.conv2d(padded, kernel[None, None])

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, self.target(gt))
