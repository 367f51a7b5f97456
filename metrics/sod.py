"""SOD metrics of the calibrated protocol: PySODMetrics' exact values where defined, one shared pass per image.

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
  predicted), recall = TPR ``tp / fg``, FPR ``fp / background`` (the
  library's 0 for 0 / 0 on an empty or full mask: left out, below), F-measure
  of these;
* E-measure at t: the mean enhanced alignment of the binarised map and the mask,
  each minus its mean (sum / (N - 1 + eps)); for an empty mask it is the share
  of pixels not predicted, for a full mask the share predicted;
* adaptive F and E: the same at the threshold min(2 mean(pred), 1);
* weighted F-measure (Margolin et al.): see :func:`_weighted_f_measure`;
* MAE: mean |pred - gt| on the stretched map; S-measure (alpha = 0.5).

A mask's void pixels (VOC palette index 255, :mod:`data.files`) are left out: every value but S and wF is
computed from the other pixels alone (the map is stretched over them); S and wF, which need the image's
layout, see void pixels as background in both the map and the mask, so they count as right background.

AP and AUC, which the classic classes do not compute, come from the same curves,
averaged over images (:mod:`metrics.measures`).

Undefined values are left out (:mod:`metrics.measures`), where PySODMetrics
averages in what it computes there (0 for 0 / 0, 4.5e15, NaN), so on sets
holding such images the values below differ from the library's (on images whose
masks hold both classes they are the library's):

* a mask without foreground (no pixel above 128) has no recall: the images
  without foreground are left out of the F-measure curves, maxF and meanF, AP
  (precision and recall), adaptive F and weighted F (the library counts 0),
  and of AUC;
* a mask without background has no false-positive rate: such images are left
  out of AUC, whose true-positive and false-positive rates are both averaged
  over the images with both classes (the mean ROC curve is one set's curve);
* a single-pixel image has no E-measure (N - 1 = 0: the library reads about
  4.5e15): left out of maxE, meanE and adpE; images whose E exceeds 1 are noted;
* the library's S-measure is NaN where the foreground centroid rounds to the
  last row or column (its centroid + 1 leaves the last block empty): left out
  (the library's mean would be NaN).

This module imports PySODMetrics and SciPy: :mod:`protocol` imports it only
when the calibrated protocol scores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from py_sod_metrics import Smeasure, WeightedFmeasure
from py_sod_metrics.utils import EPS, get_adaptive_threshold, prepare_data
from scipy.ndimage import distance_transform_edt

from metrics.calibration import N_LEVELS, joint_histogram
from metrics.measures import E_ABOVE_ONE, SINGLE_PIXEL, ImageStats, e_measure_conditions, enhanced_alignment, f_measure

WEIGHTED_F_BETA2 = 1.0
_GAUSSIAN_7x7 = WeightedFmeasure().matlab_style_gauss2D((7, 7), sigma=5)
_HALF_WEIGHT_DISTANCE = 5.0
_S_MEASURE = Smeasure(alpha=0.5)
# prepare_data's mask rule: foreground where gt > 128.
_FOREGROUND_LEVEL = 129


NO_FOREGROUND = (
    "mask has no foreground (no pixel above 128: recall, the true-positive rate, is 0 / 0; PySODMetrics counts 0)"
)
NO_BACKGROUND = "mask is all foreground (no background pixel: the false-positive rate is 0 / 0)"
S_NAN = (
    "S-measure is NaN in PySODMetrics (the foreground centroid rounds to the last row or column, and the "
    "library's centroid + 1 leaves an empty block)"
)
_RECALL = frozenset({NO_FOREGROUND})
_ROC = frozenset({NO_FOREGROUND, NO_BACKGROUND})
_E = frozenset({SINGLE_PIXEL})


@dataclass(frozen=True)
class SODImageStats(ImageStats):
    """Every SOD quantity of one image; curves are indexed by threshold 0, 1, ..., 255 (of 255); ``tpr`` is
    ``recall``, averaged over the images that also have a false-positive rate (module docstring)."""

    thresholds: ClassVar[np.ndarray] = np.arange(N_LEVELS) / (N_LEVELS - 1)
    undefined_when: ClassVar[Mapping[str, frozenset[str]]] = {
        "f_curve": _RECALL, "precision": _RECALL, "recall": _RECALL, "adaptive_f": _RECALL, "weighted_f": _RECALL,
        "tpr": _ROC, "fpr": _ROC, "e_curve": _E, "adaptive_e": _E, "s_measure": frozenset({S_NAN}),
    }  # fmt: skip
    noted_when: ClassVar[Mapping[str, frozenset[str]]] = {
        "e_curve": frozenset({E_ABOVE_ONE}), "adaptive_e": frozenset({E_ABOVE_ONE}),
    }  # fmt: skip
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


def _prepared(pred_u8: np.ndarray, gt_u8: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The library's stretched map and binary mask as images, and of the ``valid`` pixels (None: all) only: the
    map is stretched over those, and the other pixels (a mask's void) are background in both images."""
    if valid is None:
        pred, gt = prepare_data(pred_u8, gt_u8)
        return pred, gt, pred, gt
    pred, gt = prepare_data(pred_u8[valid], gt_u8[valid])
    pred_image, gt_image = np.zeros(pred_u8.shape, pred.dtype), np.zeros(gt_u8.shape, bool)
    pred_image[valid], gt_image[valid] = pred, gt
    return pred_image, gt_image, pred, gt


def sod_image_stats(pred_u8: np.ndarray, gt_u8: np.ndarray, valid: np.ndarray | None = None) -> SODImageStats:
    """All SOD metrics of one 8-bit prediction / mask pair of equal shape, of its ``valid`` pixels (None: all):
    every metric but S and wF is of those pixels alone; S and wF, which need the image, see the others as
    background in both the map and the mask (right background, by the nearest-pixel rule of wF)."""
    pred_image, gt_image, pred, gt = _prepared(pred_u8, gt_u8, valid)
    size = gt.size
    fg = int(np.count_nonzero(gt))

    joint = joint_histogram((pred * 255).astype(np.uint8), gt_u8 if valid is None else gt_u8[valid])
    # Pixels at or above each threshold 0..255: counts summed from the top level down.
    tp_curve = np.cumsum(joint[::-1, _FOREGROUND_LEVEL:].sum(axis=1))[::-1]
    fp_curve = np.cumsum(joint[::-1, :_FOREGROUND_LEVEL].sum(axis=1))[::-1]

    binary = pred >= get_adaptive_threshold(pred, max_value=1)
    adaptive_predicted = int(np.count_nonzero(binary))
    adaptive_tp = int(np.count_nonzero(binary & gt))

    predicted = tp_curve + fp_curve
    precision = tp_curve / np.maximum(predicted, 1)
    recall = tp_curve / max(fg, 1)
    abs_error_image = np.abs(pred_image - gt_image)
    abs_error = abs_error_image if valid is None else abs_error_image[valid]
    e_curve = _e_measure(tp_curve, fp_curve, fg, size)
    adaptive_e = float(_e_measure(adaptive_tp, adaptive_predicted - adaptive_tp, fg, size))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # The library takes the mean of an empty block where its S-measure is NaN (S_NAN): said in the notes.
        warnings.simplefilter("ignore", RuntimeWarning)
        s = float(_S_MEASURE.cal_sm(pred_image, gt_image))
    conditions = {NO_FOREGROUND} if fg == 0 else {NO_BACKGROUND} if fg == size else set()
    conditions |= e_measure_conditions(np.append(e_curve, adaptive_e), size)
    if math.isnan(s):
        conditions.add(S_NAN)
    return SODImageStats(
        conditions=frozenset(conditions),
        f_curve=f_measure(precision, recall),
        e_curve=e_curve,
        precision=precision,
        recall=recall,
        tpr=recall,
        fpr=fp_curve / max(size - fg, 1),
        adaptive_f=float(f_measure(adaptive_tp / max(adaptive_predicted, 1), adaptive_tp / max(fg, 1))),
        adaptive_e=adaptive_e,
        weighted_f=_weighted_f_measure(gt_image, abs_error_image),
        mae=float(np.mean(abs_error)),
        s_measure=s,
    )
