"""Salient-object-detection metrics with PySODMetrics' exact values, one shared pass per image.

The usual way to score maps with PySODMetrics is one object per metric
(``Fmeasure``, ``WeightedFmeasure``, ``MAE``, ``Smeasure``, ``Emeasure``), each
of which normalises the image again and the F- and E-measure each build the
same two threshold histograms with a sorting ``np.histogram``. Here one image is
normalised once with the library's own ``prepare_data`` (pred / 255 min-max
stretched, mask ``gt > 128`` -- note: the calibration metrics use ``gt >= 128``
as the issue asks, the SOD metrics keep the library's rule so that their values
are the library's), the two histograms are built once with ``np.bincount`` and
shared by the F- and E-measure curves, the adaptive-threshold counts are shared
by adaptive F and E, ``|pred - gt|`` is shared by MAE and the weighted
F-measure, and the weighted F-measure's 7x7 Gaussian filter runs in OpenCV.
The S-measure is the library's own ``Smeasure.cal_sm``. The formulas follow the
library's classic classes operation by operation (beta^2 = 0.3 for F, 1 for the
weighted F, the library's epsilon), and the test-suite checks every value
against those classes. AP and AUC, which the classic classes do not
compute, come from the same threshold counts: per image, precision
``tp / predicted`` (0 where nothing is predicted), recall = TPR ``tp / fg``
(0 for an empty mask) and FPR ``fp / background`` (0 for a full mask) at the
256 thresholds, averaged over images and summarised as in the authors' tool
(:mod:`evaluate.curves`). Per-image results are kept in an
:class:`evaluate.curves.ImageAccumulator` and summarised by :func:`sod_results`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from py_sod_metrics import Smeasure, WeightedFmeasure
from py_sod_metrics.utils import EPS, get_adaptive_threshold, prepare_data
from scipy.ndimage import distance_transform_edt

from evaluate.curves import ImageAccumulator, curve_results

F_BETA2 = 0.3
WEIGHTED_F_BETA2 = 1.0
_GAUSSIAN_7x7 = WeightedFmeasure().matlab_style_gauss2D((7, 7), sigma=5)
_HALF_WEIGHT_DISTANCE = 5.0
_S_MEASURE = Smeasure(alpha=0.5)


@dataclass(frozen=True)
class SODImageStats:
    """Every SOD quantity of one image; curves are indexed by threshold 255, 254, ..., 0."""

    f_curve: np.ndarray
    e_curve: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fpr: np.ndarray
    adaptive_f: float
    adaptive_e: float
    weighted_f: float
    mae: float
    s_measure: float


def _f_measure_curve(tp: np.ndarray, predicted: np.ndarray, fg: int) -> np.ndarray:
    predicted = np.where(predicted == 0, 1, predicted)
    precision = tp / predicted
    recall = tp / max(fg, 1)
    numerator = (1 + F_BETA2) * precision * recall
    denominator = np.where(numerator == 0, 1, F_BETA2 * precision + recall)
    return numerator / denominator


def _adaptive_f_measure(tp: int, predicted: int, fg: int) -> float:
    if tp == 0:
        return 0.0
    precision = tp / predicted
    recall = tp / fg
    return float((1 + F_BETA2) * precision * recall / (F_BETA2 * precision + recall))


def _enhanced_alignment(pred_value: float | np.ndarray, gt_value: float) -> float | np.ndarray:
    align = 2 * (pred_value * gt_value) / (pred_value**2 + gt_value**2 + EPS)
    return (align + 1) ** 2 / 4


def _e_measure(tp: np.ndarray | int, fp: np.ndarray | int, fg: int, size: int) -> np.ndarray | float:
    """E-measure of binarised maps with ``tp``/``fp`` pixels, vectorised over thresholds."""
    predicted = tp + fp
    if fg == 0:
        enhanced_sum = size - predicted
    elif fg == size:
        enhanced_sum = predicted
    else:
        fn = fg - tp
        tn = (size - predicted) - fn
        pred_mean = predicted / size
        gt_mean = fg / size
        # Bias-subtracted pred/gt values of the four pred x gt regions, in tp, fp, fn, tn order.
        enhanced_sum = (
            _enhanced_alignment(1 - pred_mean, 1 - gt_mean) * tp
            + _enhanced_alignment(1 - pred_mean, 0 - gt_mean) * fp
            + _enhanced_alignment(0 - pred_mean, 1 - gt_mean) * fn
            + _enhanced_alignment(0 - pred_mean, 0 - gt_mean) * tn
        )
    return enhanced_sum / (size - 1 + EPS)


def _weighted_f_measure(gt: np.ndarray, abs_error: np.ndarray) -> float:
    """Margolin et al.'s weighted F-measure (0 for an empty mask, as in the library)."""
    fg = np.count_nonzero(gt)
    if fg == 0:
        return 0.0
    # For background pixels: distance to, and index of, the nearest foreground pixel.
    distance, nearest = distance_transform_edt(~gt, return_indices=True)
    flat_nearest = nearest[0] * gt.shape[1] + nearest[1]
    # Background errors are read at the nearest foreground pixel (pixel dependency);
    # foreground pixels are their own nearest foreground pixel, so one gather does both.
    dependent_error = abs_error.ravel()[flat_nearest.ravel()].reshape(gt.shape)
    smoothed = cv2.filter2D(dependent_error, -1, _GAUSSIAN_7x7, borderType=cv2.BORDER_CONSTANT)
    min_error = np.where(gt & (smoothed < abs_error), smoothed, abs_error)
    # Pixel importance grows with distance from the object; exp(0) = 1 keeps foreground at 1.
    importance = 2 - np.exp(np.log(0.5) / _HALF_WEIGHT_DISTANCE * distance)
    weighted_error = min_error * importance
    fg_error = weighted_error[gt]
    tp = fg - np.sum(fg_error)
    fp = np.sum(weighted_error[~gt])
    recall = 1 - np.mean(fg_error)
    precision = tp / (tp + fp + EPS)
    beta = WEIGHTED_F_BETA2
    return float((1 + beta) * recall * precision / (recall + beta * precision + EPS))


def sod_image_stats(pred_u8: np.ndarray, gt_u8: np.ndarray) -> SODImageStats:
    """All SOD metrics of one 8-bit prediction / mask pair of equal shape."""
    pred, gt = prepare_data(pred_u8, gt_u8)
    size = gt.size
    fg = int(np.count_nonzero(gt))

    quantised = (pred * 255).astype(np.uint8)
    hist = np.bincount(quantised.ravel().astype(np.intp) * 2 + gt.ravel(), minlength=512).reshape(256, 2)
    # Pixels >= threshold for thresholds 255 down to 0.
    tp_curve = np.cumsum(hist[::-1, 1])
    fp_curve = np.cumsum(hist[::-1, 0])

    binary = pred >= get_adaptive_threshold(pred, max_value=1)
    adaptive_predicted = int(np.count_nonzero(binary))
    adaptive_tp = int(np.count_nonzero(binary & gt))

    predicted = tp_curve + fp_curve
    abs_error = np.abs(pred - gt)
    return SODImageStats(
        f_curve=_f_measure_curve(tp_curve, predicted, fg),
        e_curve=_e_measure(tp_curve, fp_curve, fg, size),
        precision=tp_curve / np.maximum(predicted, 1),
        recall=tp_curve / max(fg, 1),
        fpr=fp_curve / max(size - fg, 1),
        adaptive_f=_adaptive_f_measure(adaptive_tp, adaptive_predicted, fg),
        adaptive_e=float(_e_measure(adaptive_tp, adaptive_predicted - adaptive_tp, fg, size)),
        weighted_f=_weighted_f_measure(gt, abs_error),
        mae=float(np.mean(abs_error)),
        s_measure=float(_S_MEASURE.cal_sm(pred, gt)),
    )


def sod_results(accumulator: ImageAccumulator) -> dict[str, float]:
    """Dataset-level metrics of ``sod_image_stats`` results, averaged over images as PySODMetrics does."""
    return {**curve_results(accumulator), "adpF": accumulator.mean("adaptive_f"), "wF": accumulator.mean("weighted_f"),
            "adpE": accumulator.mean("adaptive_e")}
