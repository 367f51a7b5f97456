"""The SOD formulas both protocols share, and the accumulator of a set's per-image SOD statistics.

* F-measure of a precision P and a recall R:
  F = (1 + beta^2) P R / (beta^2 P + R + eps), 0 where P R = 0; beta^2 = 0.3 for the F-measure of
  thresholded maps (both protocols), 1 for the weighted F-measure (:mod:`metrics.sod`); eps is 0
  except in the weighted F-measure, as in PySODMetrics.
* The E-measure's enhanced alignment of a bias-subtracted prediction value f and mask value d:
  (2 f d / (f^2 + d^2 + eps) + 1)^2 / 4, with each library's own eps.
* The curves are the per-image precision, recall (= TPR), FPR, F and E at each threshold, averaged
  over images; maxF / meanF and maxE / meanE are the maximum and mean of the mean F and E curves.
* AP is the area under the mean precision-recall curve with the precision envelope of the VOC
  evaluation, as the authors' SOD_Evaluation_Tool computes it: recall padded with 0 and 1 (precision 0
  at both), points sorted by recall, each precision raised to the highest precision at that or any
  higher recall, and the rectangles between consecutive distinct recalls summed (the order of points
  of equal recall does not matter).
* AUC is the trapezoid area under the mean ROC curve, points sorted by FPR (no (0, 0) or (1, 1) point
  is added). Points of equal FPR are ordered by TPR, which follows the curve from its highest
  threshold down; the authors' unstable ``torch.argsort`` leaves their order arbitrary.
* MAE, S and the adaptive and weighted F / E values are averaged over images.

Which of these a protocol reports, and under which key, is the metric table's (:mod:`metrics.table`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

F_BETA2 = 0.3


def f_measure(precision: Any, recall: Any, beta2: float = F_BETA2, eps: float = 0.0) -> Any:
    """(1 + beta2) P R / (beta2 P + R + eps), 0 where P R is 0; elementwise on arrays."""
    numerator = (1 + beta2) * precision * recall
    return numerator / np.where(numerator == 0, 1, beta2 * precision + recall + eps)


def enhanced_alignment(f: Any, d: Any, eps: float) -> Any:
    """The E-measure's per-pixel term for bias-subtracted prediction ``f`` and mask ``d`` values."""
    align = 2 * f * d / (f * f + d * d + eps)
    return (align + 1) ** 2 / 4


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision-recall curve with the VOC precision envelope."""
    recall = np.concatenate(([0.0], recall, [1.0]))
    precision = np.concatenate(([0.0], precision, [0.0]))
    order = np.argsort(recall, kind="stable")
    recall, precision = recall[order], precision[order]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    step = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[step + 1] - recall[step]) * envelope[step + 1]))


def roc_auc(tpr: np.ndarray, fpr: np.ndarray) -> float:
    """Trapezoid area under the ROC curve, points sorted by FPR (then TPR)."""
    order = np.lexsort((tpr, fpr))
    x, y = fpr[order], tpr[order]
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


@dataclass
class ImageAccumulator:
    """Per-image statistics (a dataclass such as ``PaperImageStats``, whose ``thresholds`` class
    attribute holds its curves' thresholds, ascending) of a set of images: array fields are summed,
    scalar fields kept in image order, so that merging shards in order equals a single pass."""

    curve_sums: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    n_images: int = 0
    thresholds: np.ndarray | None = None

    def add(self, stats: Any) -> None:
        """Record one image."""
        for item in fields(stats):
            value = getattr(stats, item.name)
            if isinstance(value, np.ndarray):
                self.curve_sums[item.name] = self.curve_sums.get(item.name, 0.0) + value
            else:
                self.values.setdefault(item.name, []).append(value)
        self.thresholds = stats.thresholds
        self.n_images += 1

    def merge(self, other: ImageAccumulator) -> None:
        """Append the images of ``other`` (which come after this accumulator's images)."""
        for name, curve in other.curve_sums.items():
            self.curve_sums[name] = self.curve_sums.get(name, 0.0) + curve
        for name, values in other.values.items():
            self.values.setdefault(name, []).extend(values)
        if other.thresholds is not None:
            self.thresholds = other.thresholds
        self.n_images += other.n_images

    def mean_curve(self, name: str) -> np.ndarray:
        """The curve ``name`` averaged over images."""
        if self.n_images == 0:
            raise ValueError("no image was accumulated")
        return self.curve_sums[name] / self.n_images

    def mean(self, name: str) -> float:
        """The scalar ``name`` averaged over images."""
        return float(np.mean(self.values[name]))


def mean_curves(accumulator: ImageAccumulator) -> dict[str, list[float]]:
    """The mean curves of the set against their thresholds (ascending, in [0, 1]), for plotting."""
    return {
        "threshold": [float(t) for t in accumulator.thresholds],
        **{
            key: accumulator.mean_curve(name).tolist()
            for key, name in (("precision", "precision"), ("recall", "recall"), ("f_measure", "f_curve"),
                              ("fpr", "fpr"))
        },
    }
