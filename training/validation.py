"""The validation pass run after every epoch: the accuracy that steers ASLP's alpha (under the run's
protocol) and the calibration of the validation probability maps, logged for every method.

Its pixels are counted by the scorer's own counter (:func:`metrics.counting.count_pixels`), on the maps
the test stage would write, so that its numbers are the ones scoring those maps gives.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from common.distributed import all_reduce, is_main_process
from metrics.boundary import BOUNDARY_WIDTH
from metrics.calibration import N_BINS, expected_calibration_error, overconfidence_error, pixel_accuracy
from metrics.counting import PixelCounts, count_pixels
from predict import Inference, predict_maps
from protocol import PROBABILITY_PROTOCOL, Protocol, probability_map


@dataclass(frozen=True)
class Validation:
    """One validation pass, summed over the processes' shards under DDP: the joint (probability
    level, mask level) histograms of every pixel and of the boundary bands' pixels, and the pixel
    accuracy they give under the run's protocol."""

    accuracy: torch.Tensor  # float32 scalar on the training device: what steers ASLP's alpha
    joint: np.ndarray  # (256, 256) int64: pixels per (round(255 p), mask level), [v, g]
    band_joint: np.ndarray  # the same, of the pixels in the masks' boundary bands

    @property
    def pixels(self) -> PixelCounts:
        """The counts as the scorer's counter keeps them (:mod:`metrics.counting`)."""
        return PixelCounts(self.joint, self.band_joint)

    def calibration(self, n_bins: int = N_BINS) -> dict[str, float]:
        """val_ECE, val_OE and val_ECE_boundary (NaN where no mask has a boundary) under the
        calibrated protocol's rule, the formulas and bins of the test stage."""
        counts = self.pixels.level_counts(PROBABILITY_PROTOCOL.correct_table)
        return {"val_ECE": expected_calibration_error(counts.pixels, n_bins),
                "val_OE": overconfidence_error(counts.pixels, n_bins),
                "val_ECE_boundary": expected_calibration_error(counts.band, n_bins) if counts.band.any() else math.nan}


@torch.no_grad()
def validate(
    network: nn.Module, loader: DataLoader, inference: Inference, protocol: Protocol,
    boundary_width: int = BOUNDARY_WIDTH,
) -> Validation:
    """Run the validation images once, at their original size, and count their pixels by
    (probability level, mask level), overall and in each mask's boundary band of `boundary_width`.

    Every number comes from these counts through the formulas the scoring uses: the accuracy under
    `protocol` (which pixels count as correct, soft mask pixels included) and the calibration of the
    probability maps. The maps are the test stage's, `probability_map` of sigmoid(logit), so the
    decision level >= 128 is p >= 0.5, the authors' decision on the maps they write.
    """
    pixels = PixelCounts.zeros()
    for _, logit, mask in predict_maps(network, loader, inference, desc="Validation", show_progress=is_main_process()):
        pixels += count_pixels(probability_map(torch.sigmoid(logit).cpu().numpy()), mask.cpu().numpy(), boundary_width)
    # The processes' counts are added on the device, as the collective backend (NCCL) needs.
    stacked = torch.from_numpy(np.stack([pixels.joint, pixels.band_joint])).to(inference.device)
    joint, band_joint = all_reduce(stacked).cpu().numpy()
    accuracy = pixel_accuracy(PixelCounts(joint, None).level_counts(protocol.correct_table).pixels)
    return Validation(torch.tensor(accuracy, dtype=torch.float32, device=inference.device), joint, band_joint)


@dataclass(frozen=True)
class ValidationPass:
    """How a run validates after each epoch: on which images, under which protocol's accuracy (it steers
    ASLP's alpha), and with which bins and boundary band its calibration is logged (the test stage's)."""

    loader: DataLoader
    protocol: Protocol
    n_bins: int = N_BINS  # equal-width bins of val_ECE and val_OE
    boundary_width: int = BOUNDARY_WIDTH  # mask pixels (metrics.boundary) of val_ECE_boundary

    def run(self, network: nn.Module, inference: Inference) -> Validation:
        """One pass of `network` over the validation images, as `inference` runs them."""
        return validate(network, self.loader, inference, self.protocol, self.boundary_width)
