"""Our calibration metrics against the field's libraries (torchmetrics, MONAI) on the same pixels.

The libraries bin float32 probabilities with ``torch.bucketize``. Ours are (j/B, (j+1)/B] with 1 in the
last bin. torchmetrics' are [j/B, (j+1)/B), with 1 in a bin of its own: on 8-bit maps a value lies exactly
on an edge when B times its level is a multiple of 255 (for B = 10: the levels 0, 51, 102, 153, 204,
255), and there torchmetrics bins it one bin higher. So generated maps avoid those levels where a test
compares with torchmetrics, and one test shows the difference on them. MONAI's edges are linspace(0,
1 + eps), each just above j/B, so its bins are ours on every 8-bit level, whichever side it closes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from monai.metrics import CalibrationErrorMetric
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

from metrics.calibration import (
    N_BINS, class_wise_calibration_error, expected_calibration_error, maximum_calibration_error,
)
from protocol import level_counts

# MONAI slices its inputs per class before bucketizing, which torch warns about; nothing to act on here.
pytestmark = pytest.mark.filterwarnings("ignore:torch.searchsorted.*non-contiguous")

LEVELS = np.arange(256)
CONFIDENCE_LEVEL = np.maximum(LEVELS, 255 - LEVELS)
OFF_EDGE_LEVELS = [int(v) for v in LEVELS if (N_BINS * CONFIDENCE_LEVEL[v]) % 255 != 0]


def maps_and_masks(levels: list[int]) -> st.SearchStrategy:
    """(prediction levels, mask levels) of one flat image of 1 to 400 pixels, predictions drawn from ``levels``."""
    return st.integers(1, 400).flatmap(lambda n: st.tuples(
        arrays(np.uint8, n, elements=st.sampled_from(levels)),
        arrays(np.uint8, n, elements=st.sampled_from([0, 255])),
    ))


def two_class_probabilities(pred: np.ndarray) -> torch.Tensor:
    """N x 2 class probabilities (background, foreground) of 8-bit levels, in float32 as the libraries take them."""
    p = torch.from_numpy(pred.astype(np.float32) / np.float32(255))
    return torch.stack([1 - p, p], dim=1)


@settings(max_examples=40, deadline=None)
@given(maps_and_masks(OFF_EDGE_LEVELS))
def test_top_label_ece_and_mce_equal_torchmetrics_off_the_bin_edges(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, gt = pair
    counts = level_counts(pred[None], gt[None])
    probabilities, target = two_class_probabilities(pred), torch.from_numpy(gt >= 128).long()
    for ours, norm in ((expected_calibration_error, "l1"), (maximum_calibration_error, "max")):
        theirs = multiclass_calibration_error(probabilities, target, num_classes=2, n_bins=N_BINS, norm=norm)
        # The libraries sum in float32: about 1e-7 per pixel of rounding.
        assert ours(counts, N_BINS) == pytest.approx(float(theirs), abs=5e-5), norm


def test_on_an_edge_level_torchmetrics_bins_the_confidence_one_bin_higher() -> None:
    # Confidence 0.6 exactly (level 153) and 0.627 (level 160): ours puts them in (0.5, 0.6] and (0.6, 0.7],
    # torchmetrics both in [0.6, 0.7), where their gaps partly cancel.
    pred = np.array([153] * 10 + [160] * 10, np.uint8)
    gt = np.array([255] * 4 + [0] * 6 + [255] * 10, np.uint8)  # 40 % and 100 % of the pixels right
    counts = level_counts(pred[None], gt[None])
    ours = maximum_calibration_error(counts, N_BINS)
    theirs = float(multiclass_calibration_error(two_class_probabilities(pred), torch.from_numpy(gt >= 128).long(),
                                                num_classes=2, n_bins=N_BINS, norm="max"))
    assert ours == pytest.approx(max(abs(153 / 255 - 0.4), abs(160 / 255 - 1.0)), abs=1e-12)
    assert theirs == pytest.approx(abs((153 + 160) / 510 - 0.7), abs=1e-6)
    assert ours != pytest.approx(theirs, abs=1e-3)


def one_hot_channels(pred: np.ndarray, gt: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """1 x 2 x N class probabilities and one-hot masks (background, foreground), as MONAI takes them."""
    probabilities = two_class_probabilities(pred).T.contiguous()[None]
    foreground = torch.from_numpy(gt >= 128).float()
    return probabilities, torch.stack([1 - foreground, foreground])[None]


@pytest.mark.parametrize("right", [False, True])
@settings(max_examples=30, deadline=None)
@given(pair=maps_and_masks(list(range(256))))
def test_class_wise_ece_equals_monais_per_class_ece_on_every_level(right: bool, pair: tuple[np.ndarray, np.ndarray]) -> None:
    # MONAI's edges are linspace(0, 1 + eps): each lies just above j/B, so a probability of exactly j/B falls
    # below it whichever side MONAI closes its bins on, as in ours, and 1 into the last bin.
    pred, gt = pair
    metric = CalibrationErrorMetric(num_bins=N_BINS, include_background=True, right=right)
    metric(*one_hot_channels(pred, gt))
    theirs = float(metric.aggregate())
    assert class_wise_calibration_error(level_counts(pred[None], gt[None]), N_BINS) == pytest.approx(theirs, abs=5e-5)


@settings(max_examples=40, deadline=None)
@given(maps_and_masks(OFF_EDGE_LEVELS))
def test_class_wise_ece_is_the_mean_of_torchmetrics_binary_ece_of_each_class(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, gt = pair
    p, y = two_class_probabilities(pred)[:, 1], torch.from_numpy(gt >= 128).long()
    foreground = float(binary_calibration_error(p, y, n_bins=N_BINS, norm="l1"))
    background = float(binary_calibration_error(1 - p, 1 - y, n_bins=N_BINS, norm="l1"))
    ours = class_wise_calibration_error(level_counts(pred[None], gt[None]), N_BINS)
    assert ours == pytest.approx((foreground + background) / 2, abs=5e-5)
