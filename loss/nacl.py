"""NACL: neighbour-aware calibration (Murugesan et al., "Trust your neighbours", MICCAI 2023), one logit per pixel.

Follows `monai.losses.NACLLoss` (MONAI 1.6, `monai/losses/nacl_loss.py`, the authors' loss moved
into MONAI; their code is github.com/Bala93/MarginLoss) with its defaults: a k x k mean filter over a
zero-padded one-hot mask gives each pixel the proportion of each class around it, and the loss is the
cross-entropy plus `weight` times the mean L1 distance between the logits and these proportions
(mean over images, classes and pixels).

Binary form. One logit z is taken as the two-class logits [0, z] (background, foreground), whose
softmax is [1 - sigmoid(z), sigmoid(z)], so the cross-entropy is BCE-with-logits. With m = mean
filter of gt and b = mean filter of 1 - gt (both zero-padded, so m + b < 1 at the image border), the
penalty averages |b - 0| and |m - z| over the two classes:

    NACL(z, gt) = BCE-with-logits(z, gt) + weight * (mean|z - m| + mean(b)) / 2.

The term mean(b) does not depend on the network; it is kept so that the value is MONAI's
(tests/loss/test_nacl.py checks value and gradient). The authors' older unfold code pads the label
map with background instead (b = 1 - m), which changes only this constant. For a soft gt both
terms use its values as they are, where MONAI would truncate it to integer classes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from loss.base import Objective


class NACLLoss(Objective):
    def __init__(self, nacl_kernel: int, nacl_weight: float) -> None:
        if not isinstance(nacl_kernel, int) or nacl_kernel < 1 or nacl_kernel % 2 == 0:
            raise ValueError(
                f"--nacl_kernel must be an odd positive integer (a window centred on the pixel), got {nacl_kernel!r};"
                " MONAI and the authors use 3"
            )
        if not (math.isfinite(nacl_weight) and nacl_weight >= 0):
            raise ValueError(
                f"--nacl_weight must be a number of at least 0, got {nacl_weight!r}; MONAI and the authors use 0.1"
            )
        self.kernel, self.weight = nacl_kernel, nacl_weight

    def proportions(self, gt: torch.Tensor) -> torch.Tensor:
        """Background and foreground proportions around each pixel of `gt` (N x 1 x H x W): N x 2 x H x W."""
        # Counting the zero padding in the mean, as MONAI's filter does, so proportions fade at the border.
        return F.avg_pool2d(torch.cat([1 - gt, gt], dim=1), self.kernel, stride=1, padding=self.kernel // 2,
                            count_include_pad=True)

    def __call__(self, logits: torch.Tensor, gt: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        background, foreground = self.proportions(gt).unbind(dim=1)
        penalty = ((logits[:, 0] - foreground).abs().mean() + background.mean()) / 2
        return F.binary_cross_entropy_with_logits(logits, gt) + self.weight * penalty
