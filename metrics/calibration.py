"""Pixel-level calibration metrics computed exactly from per-level counts.

An 8-bit prediction map can only take 256 values, so everything a calibration
metric needs about a set of images is the number of pixels at each prediction
level ``v`` (0..255) that count as background or as foreground: an int64 array
of shape (256, 2), the *level counts*, summed over images. Memory therefore does
not grow with the number of images, and merging the work of several processes
is an addition. Each image's counts come from its joint (prediction level, mask
level) histogram (:func:`joint_histogram`) and a table saying, for each decision
and mask level, whether a pixel is correct (:func:`level_counts_from_joint`);
which pixels are correct is the protocol's rule (:mod:`protocol`).

Definitions (N = number of pixels, a pixel of level v has p = v / 255):

* decision: foreground iff ``v >= 128`` (p >= 0.5); a pixel counts in column 1
  (foreground) or 0 (background) of its level so that it is correct iff that
  column equals its decision; ``ACC`` = correct pixels / N;
* confidence ``c = max(p, 1 - p) = L / 255`` with the confidence level
  ``L = max(v, 255 - v)`` in 128..255, so c lies in [128/255, 1];
* equal-width bins: bin j (0-based) is ((j / B), (j + 1) / B]; membership is
  decided on integers, ``j * 255 < B * L <= (j + 1) * 255``, so that e.g.
  v = 153 or 102 (c = 0.6 exactly) falls in (0.5, 0.6] for B = 10 although
  153 / 255 is not exactly 0.6 in floating point. The authors' float32 binning
  (torch.linspace edges, ``conf > lower and conf <= upper``) puts every level in
  the same bin for 10 bins (the paper's setting; for some other bin counts
  float32 rounding moves a level sitting exactly on an edge);
* ``ECE = sum_j n_j / N * |conf_j - acc_j|`` and
  ``OE = sum_j n_j / N * conf_j * max(conf_j - acc_j, 0)``, where conf_j and
  acc_j are the mean confidence and the fraction of correct pixels of bin j;
  empty bins contribute nothing; ``MCE = max_j |conf_j - acc_j|`` over the
  non-empty bins (the largest gap, Naeini et al. 2015). The authors' ``+ 1e-6`` in each bin's
  denominator is left out: it changes ECE and OE by less than 1e-6, below the
  rounding of their float32 sums;
* class-wise ECE (``CECE``; Kull et al., NeurIPS 2019, as MONAI's per-class
  ECE averaged over the classes): for each class, background and foreground,
  the class's probability (1 - p or p) is binned over [0, 1] in B equal-width
  bins (j/B, (j+1)/B], a probability of 0 in the first bin (on integers:
  level w goes to bin max(ceil(B w / 255) - 1, 0)); the class's ECE is
  ``sum_j n_j / N * |mean probability_j - share of the class_j|``; CECE is the
  mean of the two classes' ECEs. Unlike ECE it looks at both classes'
  probabilities, not only the winning one's;
* adaptive ECE (equal-mass bins, by default B = ``ADAPTIVE_BINS`` = 15):
  confidence levels are sorted and each level is put, whole, into the bin
  ``k = floor(B * r / N)`` that
  holds its middle pixel, r being the midpoint of the level's pixel-rank
  interval [pixels below the level, pixels up to and including it). A level is
  never split, so a level holding more than N / B pixels (typically c = 1)
  takes a bin on its own and neighbouring bins may stay empty; the ECE formula
  above is then applied to these bins;
* debiased calibration error (Kumar, Liang & Ma, NeurIPS 2019, "Verified
  uncertainty calibration", debiased estimator of the squared l2 calibration
  error) on the equal-width bins:
  ``CE2 = sum_j n_j / N * ((conf_j - acc_j)^2 - acc_j (1 - acc_j) / (n_j - 1))``,
  the correction term taken as 0 for bins with n_j < 2; the reported value is
  ``sqrt(max(CE2, 0))`` so that it is a probability like ECE (an l2, not l1,
  calibration error, hence slightly above ECE when errors vary across bins);
* ``NLL = -mean(y log q + (1 - y) log(1 - q))`` with y the pixel's column and
  ``q = clip(p, 1/510, 1 - 1/510)`` (half a grey level away from 0 and 1);
* ``Brier = mean((p - y)^2)``: the binary Brier score on the foreground
  probability (half the two-class sum-over-classes form);
* image ECE (``ECE_img_mean``, ``_std``, ``_median``, ``_p90``): the ECE of each
  image's own counts, and the mean, standard deviation (over the images, ddof 0),
  median and 90th percentile of these over images;
* boundary and rest (``ECE_boundary``, ``OE_boundary``, ``ECE_rest``, ``OE_rest``):
  ECE and OE of the level counts of the pixels in the masks' boundary bands
  (defined in :mod:`metrics.boundary`), pooled over images, and of all other
  pixels; ``boundary_fraction`` is the band's share of the pixels. The two sets
  of counts add up to the set's counts, but ECE is not additive: the global ECE
  is at most the pixel-weighted mean of the two (triangle inequality per bin),
  equal only where the band and the rest err in the same direction in every bin;
* mean saliency: the mean of p over the counted pixels, i.e. the predicted
  saliency mass (on a set whose masks are empty, the false-positive mass).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_LEVELS = 256
LEVELS = np.arange(N_LEVELS, dtype=np.int64)
# A level decides foreground iff p = v / 255 >= 0.5.
DECIDES_FOREGROUND = LEVELS >= 128
# Confidence level L = max(v, 255 - v): the winning-class probability times 255.
_CONF_LEVEL = np.maximum(LEVELS, 255 - LEVELS)
_PROBABILITY = LEVELS / 255.0
_NLL_CLAMP = 1.0 / 510.0
N_BINS = 10  # equal-width confidence bins, the paper's
# From 256 equal-width bins on, each level of an 8-bit map has a bin of its own: more bins change no value, and
# would only cost memory (an array per bin: 10**9 bins asked for 8 GB each).
MAX_BINS = 256
MAX_BINS_REASON = f"from {MAX_BINS} bins on each level of an 8-bit map has a bin of its own, so more change no value"
ADAPTIVE_BINS = 15


def _check_maps(pred_u8: np.ndarray, gt_u8: np.ndarray) -> None:
    if pred_u8.dtype != np.uint8 or gt_u8.dtype != np.uint8:
        raise ValueError(f"expected uint8 maps, got {pred_u8.dtype} and {gt_u8.dtype}")
    if pred_u8.shape != gt_u8.shape:
        raise ValueError(f"prediction shape {pred_u8.shape} differs from mask shape {gt_u8.shape}")


def joint_histogram(pred_u8: np.ndarray, gt_u8: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels per (prediction level, mask level): an int64 array of shape (256, 256), ``[v, g]``; with
    ``valid`` (a boolean map of their shape), of those pixels only (a mask's void pixels are not counted)."""
    _check_maps(pred_u8, gt_u8)
    if valid is not None:
        pred_u8, gt_u8 = pred_u8[valid], gt_u8[valid]
    index = pred_u8.ravel().astype(np.intp) * N_LEVELS + gt_u8.ravel()
    return np.bincount(index, minlength=N_LEVELS * N_LEVELS).reshape(N_LEVELS, N_LEVELS).astype(np.int64)


def level_counts_from_joint(joint: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Level counts (256, 2) of a joint histogram under a rule of which pixels are correct.

    ``correct[d, g]`` says whether a pixel whose decision is ``d`` (0: background, 1: foreground)
    is correct where its mask level is ``g``. A correct pixel goes to the column of its decision,
    a wrong one to the other column, so that every metric counts it as the rule says.
    """
    # Row v: whether each mask level is right for level v's decision.
    correct_of_level = correct[DECIDES_FOREGROUND.astype(np.intp)]
    right = np.einsum("vg,vg->v", joint, correct_of_level)
    wrong = joint.sum(axis=1) - right
    return np.stack([np.where(DECIDES_FOREGROUND, wrong, right), np.where(DECIDES_FOREGROUND, right, wrong)], axis=1)


def _checked(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.shape != (N_LEVELS, 2):
        raise ValueError(f"counts must have shape (256, 2), got {counts.shape}")
    if not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"counts must be integers, got {counts.dtype}")
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    if counts.sum() == 0:
        raise ValueError("counts are all zero: no pixel to score")
    return counts.astype(np.int64, copy=False)


def _correct_per_level(counts: np.ndarray) -> np.ndarray:
    return np.where(DECIDES_FOREGROUND, counts[:, 1], counts[:, 0])


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or not 1 <= n_bins <= MAX_BINS:
        raise ValueError(f"n_bins must be an integer from 1 to {MAX_BINS} ({MAX_BINS_REASON}), got {n_bins!r}")


def equal_width_bin_of_level(n_bins: int = N_BINS) -> np.ndarray:
    """Bin index (0..n_bins-1) of every prediction level for equal-width confidence bins.

    Level v goes to bin j with ``j * 255 < n_bins * L <= (j + 1) * 255`` where
    L = max(v, 255 - v); integer arithmetic keeps c = 0.6 (L = 153) in (0.5, 0.6].
    """
    _check_bins(n_bins)
    return (n_bins * _CONF_LEVEL - 1) // 255


def equal_mass_bin_of_level(counts: np.ndarray, n_bins: int = ADAPTIVE_BINS) -> np.ndarray:
    """Bin index of every prediction level for equal-mass bins (see the module docstring)."""
    counts = _checked(counts)
    _check_bins(n_bins)
    pixels_per_level = counts.sum(axis=1)
    # Pixels per confidence level 0..255 (only 128..255 can be non-zero).
    per_conf = np.bincount(_CONF_LEVEL, weights=pixels_per_level, minlength=N_LEVELS).astype(np.int64)
    below = np.cumsum(per_conf) - per_conf
    total = int(per_conf.sum())
    # floor(B * (below + m / 2) / N) on integers: the bin holding the level's middle pixel.
    bin_of_conf = np.minimum((n_bins * (2 * below + per_conf)) // (2 * total), n_bins - 1)
    return bin_of_conf[_CONF_LEVEL]


@dataclass(frozen=True)
class BinStats:
    """Per-bin pixel count, mean confidence and accuracy (NaN for empty bins)."""

    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def weight(self) -> np.ndarray:
        """Fraction of all pixels in each bin."""
        return self.count / self.count.sum()


def _bin_stats(counts: np.ndarray, bin_of_level: np.ndarray, n_bins: int) -> BinStats:
    pixels = counts.sum(axis=1)
    count = np.bincount(bin_of_level, weights=pixels, minlength=n_bins)
    conf_sum = np.bincount(bin_of_level, weights=pixels * _CONF_LEVEL, minlength=n_bins) / 255.0
    correct = np.bincount(bin_of_level, weights=_correct_per_level(counts), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = conf_sum / count
        accuracy = correct / count
    return BinStats(count=count, confidence=confidence, accuracy=accuracy)


def calibration_bins(counts: np.ndarray, n_bins: int = N_BINS) -> BinStats:
    """Equal-width bin statistics (as used by ECE/OE and the reliability diagram)."""
    counts = _checked(counts)
    return _bin_stats(counts, equal_width_bin_of_level(n_bins), n_bins)


def _ece_from(stats: BinStats) -> float:
    filled = stats.count > 0
    gap = np.abs(stats.confidence[filled] - stats.accuracy[filled])
    return float(np.sum(stats.weight[filled] * gap))


def expected_calibration_error(counts: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE over ``n_bins`` equal-width confidence bins (definition in the module docstring)."""
    return _ece_from(calibration_bins(counts, n_bins))


def maximum_calibration_error(counts: np.ndarray, n_bins: int = N_BINS) -> float:
    """MCE: the largest gap between mean confidence and accuracy over the non-empty equal-width bins."""
    stats = calibration_bins(counts, n_bins)
    filled = stats.count > 0
    return float(np.max(np.abs(stats.confidence[filled] - stats.accuracy[filled])))


def class_wise_calibration_error(counts: np.ndarray, n_bins: int = N_BINS) -> float:
    """CECE: the mean over background and foreground of each class's ECE (module docstring)."""
    counts = _checked(counts)
    _check_bins(n_bins)
    pixels = counts.sum(axis=1)
    errors = []
    # The foreground's probability level of a pixel of level v is v, the background's 255 - v.
    for class_level, members in ((LEVELS, counts[:, 1]), (255 - LEVELS, counts[:, 0])):
        bins = np.maximum((n_bins * class_level - 1) // 255, 0)
        probability_sum = np.bincount(bins, weights=pixels * class_level, minlength=n_bins) / 255.0
        member_count = np.bincount(bins, weights=members, minlength=n_bins)
        errors.append(np.abs(probability_sum - member_count).sum() / pixels.sum())
    return float(np.mean(errors))


def overconfidence_error(counts: np.ndarray, n_bins: int = N_BINS) -> float:
    """OE: ECE restricted to over-confident bins, each gap weighted by its confidence."""
    stats = calibration_bins(counts, n_bins)
    filled = stats.count > 0
    conf, acc = stats.confidence[filled], stats.accuracy[filled]
    return float(np.sum(stats.weight[filled] * conf * np.maximum(conf - acc, 0.0)))


def pixel_accuracy(counts: np.ndarray) -> float:
    """Fraction of pixels whose decision (pred >= 128) is correct."""
    counts = _checked(counts)
    return float(_correct_per_level(counts).sum() / counts.sum())


def adaptive_calibration_error(counts: np.ndarray, n_bins: int = ADAPTIVE_BINS) -> float:
    """ECE over equal-mass bins whose edges never split a confidence level."""
    counts = _checked(counts)
    return _ece_from(_bin_stats(counts, equal_mass_bin_of_level(counts, n_bins), n_bins))


def debiased_calibration_error(counts: np.ndarray, n_bins: int = N_BINS) -> float:
    """Square root of Kumar et al.'s (2019) debiased squared l2 calibration error, clamped at 0."""
    stats = calibration_bins(counts, n_bins)
    filled = stats.count > 0
    n, conf, acc = stats.count[filled], stats.confidence[filled], stats.accuracy[filled]
    # acc (1 - acc) / (n - 1) is the unbiased estimate of the variance of a bin's accuracy.
    correction = np.where(n > 1, acc * (1.0 - acc) / np.maximum(n - 1.0, 1.0), 0.0)
    squared = float(np.sum(stats.weight[filled] * ((conf - acc) ** 2 - correction)))
    return float(np.sqrt(max(squared, 0.0)))


def negative_log_likelihood(counts: np.ndarray) -> float:
    """Mean binary cross-entropy of p = v / 255, clamped to [1/510, 1 - 1/510], in nats."""
    counts = _checked(counts)
    q = np.clip(_PROBABILITY, _NLL_CLAMP, 1.0 - _NLL_CLAMP)
    total = counts[:, 1] @ -np.log(q) + counts[:, 0] @ -np.log1p(-q)
    return float(total / counts.sum())


def brier_score(counts: np.ndarray) -> float:
    """Mean squared difference between p = v / 255 and the binary mask label."""
    counts = _checked(counts)
    p = _PROBABILITY
    total = counts[:, 1] @ (1.0 - p) ** 2 + counts[:, 0] @ p**2
    return float(total / counts.sum())


def mean_prediction(counts: np.ndarray) -> float:
    """Mean of p = v / 255 over all pixels: the predicted saliency mass."""
    counts = _checked(counts)
    return float(counts.sum(axis=1) @ _PROBABILITY / counts.sum())
