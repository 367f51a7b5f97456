"""SOD metrics of the paper protocol: what the authors' SOD_Evaluation_Tool reports, from per-level counts.

Their tool (``evaluator.py``, read for the facts only) reports MAE, max / mean
F-measure, max / mean E-measure, S-measure, AP and AUC. Per image, with
p = pred / 255 and the mask kept soft, y = gt / 255:

* MAE = mean |p - y| on the map as read (not stretched);
* for F, E, S and AUC the map is min-max stretched,
  s = (p - min) / (max - min + 1e-20) (a constant map becomes 0);
* 255 thresholds t_i = linspace(0, 1 - 1e-10, 255); the binary map is s >= t_i;
  tp = sum(binary * y), precision = tp / (predicted + 1e-20),
  recall = tp / (sum(y) + 1e-20), F = the F-measure of precision and recall
  (beta^2 = 0.3, :mod:`metrics.measures`), TPR = recall,
  FPR = (predicted - tp) / (sum(1 - y) + 1e-20);
* E-measure at t_i: with f = binary - mean(binary) and d = y - mean(y), the sum
  of the enhanced alignment of f and d (:mod:`metrics.measures`, eps 1e-20)
  over the pixels, / (N - 1 + 1e-20); nothing special for empty or full masks,
  so on an empty mask (d = 0) it is 0.25 N / (N - 1) whatever the map holds;
* the curves are averaged over images and summarised (max / mean F and E, AP,
  AUC) as :mod:`metrics.measures` describes;
* S-measure (alpha = 0.5): 1 - mean(s) if the soft mask is all 0, mean(s) if
  it is all 1, else the mask is thresholded at 0.5 (gt >= 128) and
  S = 0.5 S_object + 0.5 S_region, clamped at 0 from below. S_object uses
  2 x / (x^2 + 1 + std + 1e-20) of the foreground (s) and background (1 - s)
  values, std with N - 1; S_region splits the image at the mask centroid
  (X, Y) = round-half-even of the mean column / row index, 0-based and without
  PySODMetrics' + 1, into four blocks weighted by area, each scored with
  4 x y sxy / ((x^2 + y^2)(sx^2 + sy^2) + 1e-20) (1 where both numerator and
  denominator are 0, 0 where only the numerator is), variances over N - 1.
  Where their code meets an empty block or a one-pixel foreground or
  background it yields NaN; so does this module.

Their values are kept wherever their tool gives one in range, also where it
is an artefact, with a note naming the images (:mod:`metrics.measures`): a
mask all 0 has recall and precision 0 at every threshold (F curves, AP, AUC),
a mask all 255 a false-positive rate of 0 (AUC: one full-mask image beside a
normal one about halves the set's AUC), a mask of one level (N > 1)
an E-measure of 0.25 N / (N - 1) whatever the map, and E above 1 is noted as
in both protocols. Where their tool gives no number (NaN, or division by zero)
the image is left out of that metric, counted and named: a single-pixel image
in E (their value would be 0.25 / 1e-20 = 2.5e19) and the S-measure's NaN
cases (their set's S would be NaN).

A mask's void pixels (VOC palette index 255, :mod:`data.files`) are left out: the joint histogram holds the
other pixels only, so every curve, MAE and the stretching are theirs; the S-measure, which needs the image's
layout, sees void pixels as background in the mask and at the stretched map's 0 (right background).

A pixel's stretched value is monotone in its 8-bit level, so every threshold
is a level cut: the pixels at or above a threshold are those with level >= cut.
With the image's joint (prediction level, mask level) histogram, every curve
is a matrix product over the mask levels present, and the S-measure needs only
the histograms of (level, thresholded mask) in the four blocks. Thresholds and
stretched values are compared exactly (rationals), where their float32 code
can decide a stretched value lying exactly on a threshold either way by one
ulp (the value of torch.linspace's last bits depends on the CPU's vector
width); maps that span 0..255, as theirs do, have no such ties. Sums are in
float64 where theirs are float32: values agree to about 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from metrics.calibration import LEVELS
from metrics.measures import E_ABOVE_ONE, SINGLE_PIXEL, ImageStats, e_measure_conditions, enhanced_alignment, f_measure

N_THRESHOLDS = 255
EPS = 1e-20
_THRESHOLD_INDEX = np.arange(N_THRESHOLDS)


ALL_0 = (
    "mask is all 0 (no foreground: the authors' recall, true-positive rate and precision are 0 at every threshold, "
    "kept as their tool counts them)"
)
ALL_255 = (
    "mask is all 255 (no background: the authors' false-positive rate is 0 at every threshold, kept as their tool "
    "counts it)"
)
ONE_LEVEL = (
    "mask is a single level (the mask minus its mean is 0: the authors' E-measure is 0.25 N / (N - 1) whatever "
    "the map, kept as their tool computes it)"
)
S_NAN = (
    "S-measure is NaN in the authors' tool (a mask with a single foreground or background pixel, or a centroid "
    "on the first row or column)"
)
_RECALL = frozenset({ALL_0})


@dataclass(frozen=True)
class PaperImageStats(ImageStats):
    """One image's curves (one value per threshold, lowest threshold first), MAE and S-measure; ``tpr`` is
    ``recall``."""

    thresholds: ClassVar[np.ndarray] = np.linspace(0, 1 - 1e-10, N_THRESHOLDS)
    undefined_when: ClassVar[Mapping[str, frozenset[str]]] = {
        "e_curve": frozenset({SINGLE_PIXEL}), "s_measure": frozenset({S_NAN}),
    }  # fmt: skip
    noted_when: ClassVar[Mapping[str, frozenset[str]]] = {
        "f_curve": _RECALL, "precision": _RECALL, "recall": _RECALL, "tpr": _RECALL, "fpr": frozenset({ALL_255}),
        "e_curve": frozenset({ONE_LEVEL, E_ABOVE_ONE}),
    }  # fmt: skip
    mae: float
    s_measure: float


def level_cuts(low: int, high: int) -> np.ndarray:
    """Lowest level whose stretched value reaches each threshold (256: none).

    Level v passes threshold i / 254 iff (v - low) * 254 >= i * (high - low);
    the last threshold, 1 - 1e-10, keeps the top level only. A constant map
    (low == high) is all 0 after stretching and passes the first threshold only.
    """
    if high == low:
        return np.where(_THRESHOLD_INDEX == 0, low, 256)
    return low - (-(_THRESHOLD_INDEX * (high - low)) // (N_THRESHOLDS - 1))


def _moments(counts: np.ndarray) -> tuple[int, int, int]:
    """(n, sum of levels, sum of squared levels) of a count-per-level vector, as exact integers."""
    return int(counts.sum()), int(counts @ LEVELS), int(counts @ (LEVELS * LEVELS))


def _object_score(n: int, level_sum: int, square_sum: int, low: int, scale: float, inverted: bool) -> float:
    """2 x / (x^2 + 1 + std + eps) of the stretched values s (or 1 - s), NaN below two pixels."""
    if n < 2:
        return math.nan
    mean = (level_sum - low * n) * scale / n
    x = 1 - mean if inverted else mean
    std = math.sqrt((n * square_sum - level_sum**2) / (n * (n - 1))) * scale
    return 2 * x / (x * x + 1 + std + EPS)


def _block_score(block: np.ndarray, low: int, scale: float) -> float:
    """The SSIM-like score of one block from its (level, mask) histogram; NaN for an empty block."""
    n, level_sum, square_sum = _moments(block.sum(axis=1))
    if n == 0:
        return math.nan
    fg = int(block[:, 1].sum())
    fg_level_sum = int(block[:, 1] @ LEVELS)
    denominator = n * (n - 1 + EPS)
    # Numerators are exact integers, so a zero variance or covariance is exactly zero.
    x = (level_sum - low * n) * scale / n
    y = fg / n
    var_x = (n * square_sum - level_sum**2) * scale * scale / denominator
    var_y = (n * fg - fg * fg) / denominator
    cov = (n * fg_level_sum - level_sum * fg) * scale / denominator
    alpha = 4 * x * y * cov
    beta = (x * x + y * y) * (var_x + var_y)
    if alpha != 0:
        return alpha / (beta + EPS)
    return 1.0 if beta == 0 else 0.0


def split_point(fg: np.ndarray) -> tuple[int, int]:
    """Block split (X, Y): the foreground centroid, 0-based, rounded half to even (the image centre if none)."""
    rows, cols = fg.shape
    total = int(np.count_nonzero(fg))
    if total == 0:
        return round(cols / 2), round(rows / 2)
    x = np.arange(cols) @ fg.sum(axis=0) / total
    y = np.arange(rows) @ fg.sum(axis=1) / total
    return int(np.round(x)), int(np.round(y))


def s_measure(pred_u8: np.ndarray, gt_u8: np.ndarray, low: int, high: int) -> float:
    """The authors' S-measure of one image (see the module docstring); may be NaN as theirs."""
    scale = 1.0 / (high - low) if high > low else 0.0
    if not gt_u8.any() or (gt_u8 == 255).all():
        _, level_sum, _ = _moments(np.bincount(pred_u8.ravel(), minlength=256))
        mean = (level_sum - low * pred_u8.size) * scale / pred_u8.size
        return 1 - mean if not gt_u8.any() else mean
    fg = gt_u8 >= 128
    rows, cols = fg.shape
    x_split, y_split = split_point(fg)
    code = pred_u8.astype(np.intp) * 2 + fg
    blocks = [
        np.bincount(code[r, c].ravel(), minlength=512).reshape(256, 2)
        for r, c in (
            (slice(None, y_split), slice(None, x_split)),
            (slice(None, y_split), slice(x_split, None)),
            (slice(y_split, None), slice(None, x_split)),
            (slice(y_split, None), slice(x_split, None)),
        )
    ]
    whole = sum(blocks)
    u = int(whole[:, 1].sum()) / fg.size
    o_fg = _object_score(*_moments(whole[:, 1]), low, scale, inverted=False)
    o_bg = _object_score(*_moments(whole[:, 0]), low, scale, inverted=True)
    s_object = u * o_fg + (1 - u) * o_bg
    area = rows * cols
    w1 = x_split * y_split / area
    w2 = (cols - x_split) * y_split / area
    w3 = x_split * (rows - y_split) / area
    weights = (w1, w2, w3, 1 - w1 - w2 - w3)
    s_region = sum(w * _block_score(block, low, scale) for w, block in zip(weights, blocks, strict=True))
    q = 0.5 * s_object + 0.5 * s_region
    return 0.0 if q < 0 else q


def paper_image_stats(pred_u8: np.ndarray, gt_u8: np.ndarray, joint: np.ndarray,
                      valid: np.ndarray | None = None) -> PaperImageStats:
    """Every SOD quantity of one image; ``joint`` is its (256, 256) joint histogram, of its ``valid`` pixels
    (None: all; the module docstring says what the S-measure does with the others)."""
    present = np.flatnonzero(joint.sum(axis=1))
    low, high = int(present[0]), int(present[-1])
    if valid is not None:  # the S-measure's image: void pixels at the stretched map's 0, background in the mask
        pred_u8, gt_u8 = np.where(valid, pred_u8, np.uint8(low)), np.where(valid, gt_u8, np.uint8(0))
    mask_levels = np.flatnonzero(joint.sum(axis=0))
    per_mask_level = joint[:, mask_levels]
    # above[c, k]: pixels of mask level k with prediction level >= c (row 256: none).
    above = np.zeros((257, mask_levels.size))
    above[:256] = np.cumsum(per_mask_level[::-1], axis=0)[::-1]
    passing = above[level_cuts(low, high)]
    y = mask_levels / 255
    pixels_per_mask_level = per_mask_level.sum(axis=0)
    n = pixels_per_mask_level.sum()
    y_sum = pixels_per_mask_level @ y

    tp = passing @ y
    predicted = passing.sum(axis=1)
    precision = tp / (predicted + EPS)
    recall = tp / (y_sum + EPS)
    f_curve = f_measure(precision, recall)
    fpr = (predicted - tp) / (n - y_sum + EPS)

    share = (predicted / n)[:, None]
    d = y - y_sum / n
    enhanced = (passing * enhanced_alignment(1 - share, d, EPS)
                + (pixels_per_mask_level - passing) * enhanced_alignment(-share, d, EPS))
    e_curve = enhanced.sum(axis=1) / (n - 1 + EPS)

    mae = float(np.sum(per_mask_level * np.abs(LEVELS[:, None] - mask_levels)) / (255 * n))
    s = s_measure(pred_u8, gt_u8, low, high)
    conditions = set(e_measure_conditions(e_curve, int(n)))
    if mask_levels.size == 1:
        conditions |= {ALL_0} if mask_levels[0] == 0 else {ALL_255} if mask_levels[0] == 255 else set()
        if n > 1:  # a single pixel has no E-measure at all (SINGLE_PIXEL)
            conditions.add(ONE_LEVEL)
    if math.isnan(s):
        conditions.add(S_NAN)
    return PaperImageStats(
        conditions=frozenset(conditions),
        f_curve=f_curve,
        e_curve=e_curve,
        precision=precision,
        recall=recall,
        tpr=recall,
        fpr=fpr,
        mae=mae,
        s_measure=s,
    )
