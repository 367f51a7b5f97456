"""SOD metrics of the calibrated protocol: PySODMetrics' exact values, one shared pass per image.

The usual way to score maps with PySODMetrics is one object per metric
(``Fmeasure``, ``WeightedFmeasure``, ``MAE``, ``Smeasure``, ``Emeasure``), each
of which normalises the image again, and the F- and E-measure each build the
same two threshold histograms with a sorting ``np.histogram``. Here one image is
normalised once with the library's own ``prepare_data`` (pred / 255 min-max
stretched, mask ``gt > 128``: the library's rule, kept so that the values are
the library's, whereas the calibration metrics threshold at ``gt >= 128``), the
threshold histogram is the joint histogram of :mod:`metrics.calibration` of the
quantised map, shared by the F- and E-measure curves, the adaptive-threshold
counts are shared by adaptive F and E, ``|pred - gt|`` is shared by MAE and the
weighted F-measure, and the weighted F-measure's 7x7 Gaussian filter runs in
OpenCV. The S-measure is the library's own ``Smeasure.cal_sm``. The formulas
follow the library's classic classes operation by operation (F-measure and
E-measure alignment as in :mod:`metrics.measures`, beta^2 = 1 for the weighted
F, the library's epsilon), and the test-suite checks every value against those
classes:

* at each of the 256 thresholds t (ascending), a pixel is predicted where its
  quantised level is >= t; precision ``tp / predicted`` (0 where nothing is
  predicted), recall = TPR ``tp / fg`` (0 for an empty mask), FPR
  ``fp / background`` (0 for a full mask), F-measure of these;
* E-measure at t: the mean enhanced alignment of the binarised map and the mask,
  each minus its mean (sum / (N - 1 + eps)); for an empty mask it is the share
  of pixels not predicted, for a full mask the share predicted;
* adaptive F and E: the same at the threshold min(2 mean(pred), 1);
* weighted F-measure (Margolin et al.): see :func:`_weighted_f_measure`;
* MAE: mean |pred - gt| on the stretched map; S-measure (alpha = 0.5).

AP and AUC, which the classic classes do not compute, come from the same curves,
averaged over images (:mod:`metrics.measures`). This module imports
PySODMetrics and SciPy: :mod:`protocol` imports it only when the
calibrated protocol scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from py_sod_metrics import Smeasure, WeightedFmeasure
from py_sod_metrics.utils import EPS, get_adaptive_threshold, prepare_data
from scipy.ndimage import distance_transform_edt

from metrics.calibration import N_LEVELS, joint_histogram
from metrics.measures import enhanced_alignment, f_measure

WEIGHTED_F_BETA2 = 1.0
_GAUSSIAN_7x7 = WeightedFmeasure().matlab_style_gauss2D((7, 7), sigma=5)
_HALF_WEIGHT_DISTANCE = 5.0
_S_MEASURE = Smeasure(alpha=0.5)
# prepare_data's mask rule: foreground where gt > 128.
_FOREGROUND_LEVEL = 129


@dataclass(frozen=True)
class SODImageStats:
    """Every SOD quantity of one image; curves are indexed by threshold 0, 1, ..., 255 (of 255)."""

    thresholds: ClassVar[np.ndarray] = np.arange(N_LEVELS) / (N_LEVELS - 1)
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
            enhanced_alignment(1 - pred_mean, 1 - gt_mean, EPS) * tp
            + enhanced_alignment(1 - pred_mean, 0 - gt_mean, EPS) * fp
            + enhanced_alignment(0 - pred_mean, 1 - gt_mean, EPS) * fn
            + enhanced_alignment(0 - pred_mean, 0 - gt_mean, EPS) * tn
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
    return float(f_measure(precision, recall, WEIGHTED_F_BETA2, EPS))


def sod_image_stats(pred_u8: np.ndarray, gt_u8: np.ndarray) -> SODImageStats:
    """All SOD metrics of one 8-bit prediction / mask pair of equal shape."""
    pred, gt = prepare_data(pred_u8, gt_u8)
    size = gt.size
    fg = int(np.count_nonzero(gt))

    joint = joint_histogram((pred * 255).astype(np.uint8), gt_u8)
    # Pixels at or above each threshold 0..255: counts summed from the top level down.
    tp_curve = np.cumsum(joint[::-1, _FOREGROUND_LEVEL:].sum(axis=1))[::-1]
    fp_curve = np.cumsum(joint[::-1, :_FOREGROUND_LEVEL].sum(axis=1))[::-1]

    binary = pred >= get_adaptive_threshold(pred, max_value=1)
    adaptive_predicted = int(np.count_nonzero(binary))
    adaptive_tp = int(np.count_nonzero(binary & gt))

    predicted = tp_curve + fp_curve
    precision = tp_curve / np.maximum(predicted, 1)
    recall = tp_curve / max(fg, 1)
    abs_error = np.abs(pred - gt)
    return SODImageStats(
        f_curve=f_measure(precision, recall),
        e_curve=_e_measure(tp_curve, fp_curve, fg, size),
        precision=precision,
        recall=recall,
        fpr=fp_curve / max(size - fg, 1),
        adaptive_f=float(f_measure(adaptive_tp / max(adaptive_predicted, 1), adaptive_tp / max(fg, 1))),
        adaptive_e=float(_e_measure(adaptive_tp, adaptive_predicted - adaptive_tp, fg, size)),
        weighted_f=_weighted_f_measure(gt, abs_error),
        mae=float(np.mean(abs_error)),
        s_measure=float(_S_MEASURE.cal_sm(pred, gt)),
    )
