"""What both protocols share about a set's per-image SOD statistics: the accumulator that keeps them
(curves summed, scalars in image order) and the summaries of the mean curves, AP and AUC.

Both follow the authors' SOD_Evaluation_Tool: the curves are the per-image
precision / recall (or TPR / FPR) at each threshold, averaged over images, and

* AP is the area under the mean precision-recall curve with the precision
  envelope of the VOC evaluation: recall padded with 0 and 1 (precision 0 at
  both), points sorted by recall, each precision raised to the highest
  precision at that or any higher recall, and the rectangles between
  consecutive distinct recalls summed (the order of points of equal recall does
  not matter);
* AUC is the trapezoid area under the mean ROC curve, points sorted by FPR
  (no (0, 0) or (1, 1) point is added). Points of equal FPR are ordered by
  TPR, which follows the curve from its highest threshold down; the authors'
  unstable ``torch.argsort`` leaves their order arbitrary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


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
    """Per-image statistics (a dataclass such as ``SODImageStats``) of a set of images: array fields
    are summed, scalar fields kept in image order, so that merging shards in order (addition and
    concatenation) equals a single pass."""

    curve_sums: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    n_images: int = 0

    def add(self, stats: Any) -> None:
        """Record one image."""
        for item in fields(stats):
            value = getattr(stats, item.name)
            if isinstance(value, np.ndarray):
                self.curve_sums[item.name] = self.curve_sums.get(item.name, 0.0) + value
            else:
                self.values.setdefault(item.name, []).append(value)
        self.n_images += 1

    def merge(self, other: ImageAccumulator) -> None:
        """Append the images of ``other`` (which come after this accumulator's images)."""
        for name, curve in other.curve_sums.items():
            self.curve_sums[name] = self.curve_sums.get(name, 0.0) + curve
        for name, values in other.values.items():
            self.values.setdefault(name, []).extend(values)
        self.n_images += other.n_images

    def mean_curve(self, name: str) -> np.ndarray:
        """The curve ``name`` averaged over images."""
        if self.n_images == 0:
            raise ValueError("no image was accumulated")
        return self.curve_sums[name] / self.n_images

    def mean(self, name: str) -> float:
        """The scalar ``name`` averaged over images."""
        return float(np.mean(self.values[name]))


def curve_results(accumulator: ImageAccumulator) -> dict[str, float]:
    """The metrics both protocols report the same way from their per-image statistics: max / mean
    F and E over the mean curves, AP, AUC, and the image means of MAE and S."""
    f_curve, e_curve = accumulator.mean_curve("f_curve"), accumulator.mean_curve("e_curve")
    recall = accumulator.mean_curve("recall")
    return {
        "maxF": float(f_curve.max()),
        "meanF": float(f_curve.mean()),
        "MAE": accumulator.mean("mae"),
        "S": accumulator.mean("s_measure"),
        "maxE": float(e_curve.max()),
        "meanE": float(e_curve.mean()),
        "AP": average_precision(accumulator.mean_curve("precision"), recall),
        "AUC": roc_auc(recall, accumulator.mean_curve("fpr")),
    }
