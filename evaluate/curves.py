"""Summaries of a set's mean threshold curves, shared by both protocols: AP and AUC.

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
