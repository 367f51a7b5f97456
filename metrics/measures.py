"""The SOD formulas both protocols share, and the accumulator of a set's per-image SOD statistics.

* F-measure of a precision P and a recall R:
  F = (1 + beta^2) P R / (beta^2 P + R + eps), 0 where P R = 0; beta^2 = 0.3 for the F-measure of
  thresholded maps (both protocols), 1 for the weighted F-measure (:mod:`metrics.sod`); eps is 0
  except in the weighted F-measure, as in PySODMetrics.
* The E-measure's enhanced alignment of a bias-subtracted prediction value f and mask value d:
  (2 f d / (f^2 + d^2 + eps) + 1)^2 / 4, with each library's own eps.
* The curves are the per-image precision, recall (= TPR), FPR, F and E at each threshold, averaged
  over the images each is defined on (below); maxF / meanF and maxE / meanE are the maximum and mean
  of the mean F and E curves.
* AP is the area under the mean precision-recall curve with the precision envelope of the VOC
  evaluation, as the authors' SOD_Evaluation_Tool computes it: recall padded with 0 and 1 (precision 0
  at both), points sorted by recall, each precision raised to the highest precision at that or any
  higher recall, and the rectangles between consecutive distinct recalls summed (the order of points
  of equal recall does not matter).
* AUC is the trapezoid area under the mean ROC curve, points sorted by FPR (no (0, 0) or (1, 1) point
  is added). Points of equal FPR are ordered by TPR, which follows the curve from its highest
  threshold down; the authors' unstable ``torch.argsort`` leaves their order arbitrary.
* MAE, S and the adaptive and weighted F / E values are averaged over the images each is defined on.
* The precision of a threshold at which no pixel is predicted is 0 (as in both libraries); F is 0 there
  in any case, the recall being 0.

Images on which a quantity is undefined. Each protocol's statistics (:class:`ImageStats`) name an
image's conditions, and per quantity the conditions on which it is undefined (``undefined_when``: the
image is left out of that quantity's mean, and of nothing else) or on which its value, kept, deserves a
note (``noted_when``); the accumulator counts, per quantity, the images it covers, and names the images
of each condition, so that the runner says per metric how many images it covers and why. The quantities
of one metric (AUC: TPR and FPR) are defined on the same images. Which images each protocol leaves out
or notes, its module's docstring says (:mod:`metrics.paper`, :mod:`metrics.sod`). The E-measure's two
conditions are shared: on a single pixel it divides by N - 1 = 0 (undefined in both protocols), and as
Fan et al. divide the alignment summed over N pixels by N - 1, an image scores up to N / (N - 1), so a
near-perfect map scores above 1 (1 + 1 / (N - 1): noted, and kept, as defined).

Which of these a protocol reports, and under which key, is the metric table's (:mod:`metrics.table`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

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


@dataclass(frozen=True)
class ImageStats:
    """One image's SOD statistics under one protocol (subclassed by each protocol's module): array fields
    are curves, one value per threshold of ``thresholds`` (ascending), float fields per-image values;
    ``conditions`` holds the image's conditions, each a clause naming what holds and why it matters
    ("mask is all foreground (...)"), which make quantities undefined or worth a note (module docstring)."""

    thresholds: ClassVar[np.ndarray]
    undefined_when: ClassVar[Mapping[str, frozenset[str]]]  # quantity -> conditions it is undefined on
    noted_when: ClassVar[Mapping[str, frozenset[str]]]  # quantity -> conditions its kept value is noted on
    conditions: frozenset[str]
    # The curves both protocols compute, per threshold; each protocol's module adds its per-image values.
    f_curve: np.ndarray
    e_curve: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray

    def defined(self) -> Iterator[tuple[str, np.ndarray | float]]:
        """(name, value) of each quantity defined on this image."""
        for item in fields(self):
            if item.name != "conditions" and not self.undefined_when.get(item.name, frozenset()) & self.conditions:
                yield item.name, getattr(self, item.name)


SINGLE_PIXEL = "map has a single pixel (the E-measure divides by N - 1 = 0)"
E_ABOVE_ONE = (
    "E-measure exceeds 1 at some threshold (Fan et al. divide the alignment summed over the N pixels by N - 1, "
    "so a near-perfect map scores up to N / (N - 1))"
)


def e_measure_conditions(e_values: np.ndarray, n_pixels: int) -> frozenset[str]:
    """The E-measure's conditions of an image of ``n_pixels`` pixels whose E values are ``e_values``."""
    if n_pixels == 1:
        return frozenset({SINGLE_PIXEL})
    return frozenset({E_ABOVE_ONE}) if np.max(e_values) > 1 else frozenset()


@dataclass
class ImageAccumulator:
    """The :class:`ImageStats` of a set of images: each quantity over the images where it is defined, curves
    summed and values kept in image order, with the images of each condition, so that merging shards in
    order equals a single pass."""

    sums: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # images on which each quantity is defined
    condition_images: dict[str, list[str]] = field(default_factory=dict)  # condition -> its images, in order
    n_images: int = 0
    kind: type[ImageStats] | None = None  # the statistics' class: thresholds and the conditions' rules

    def add(self, stats: ImageStats, name: str) -> None:
        """Record one image, called ``name`` where notes name it."""
        for quantity, value in stats.defined():
            if isinstance(value, np.ndarray):
                self.sums[quantity] = self.sums.get(quantity, 0.0) + value
            else:
                self.values.setdefault(quantity, []).append(value)
            self.counts[quantity] = self.counts.get(quantity, 0) + 1
        for condition in sorted(stats.conditions):  # a set's order varies with the process's hash seed
            self.condition_images.setdefault(condition, []).append(name)
        self.kind = type(stats)
        self.n_images += 1

    def merge(self, other: ImageAccumulator) -> None:
        """Append the images of ``other`` (which come after this accumulator's images)."""
        for quantity, curve in other.sums.items():
            self.sums[quantity] = self.sums.get(quantity, 0.0) + curve
        for quantity, values in other.values.items():
            self.values.setdefault(quantity, []).extend(values)
        for quantity, count in other.counts.items():
            self.counts[quantity] = self.counts.get(quantity, 0) + count
        for condition, names in other.condition_images.items():
            self.condition_images.setdefault(condition, []).extend(names)
        self.kind = other.kind or self.kind
        self.n_images += other.n_images

    def covered(self, quantity: str) -> int:
        """How many images ``quantity`` is defined on."""
        return self.counts.get(quantity, 0)

    def mean(self, quantity: str) -> np.ndarray | float:
        """``quantity`` (a curve or a value) averaged over the images it is defined on."""
        if not self.covered(quantity):
            raise ValueError(f"{quantity} is defined on no image")
        if quantity in self.sums:
            return self.sums[quantity] / self.counts[quantity]
        return float(np.mean(self.values[quantity]))

    def left_out(self, quantities: Iterable[str]) -> dict[str, list[str]]:
        """The conditions, present in the set, on which some of ``quantities`` is undefined -> their images."""
        return self._present(quantities, self.kind.undefined_when if self.kind else {})

    def noted(self, quantities: Iterable[str]) -> dict[str, list[str]]:
        """The conditions, present in the set, on which some of ``quantities`` is noted -> their images."""
        return self._present(quantities, self.kind.noted_when if self.kind else {})

    def _present(self, quantities: Iterable[str], rules: Mapping[str, frozenset[str]]) -> dict[str, list[str]]:
        wanted = set().union(*(rules.get(quantity, frozenset()) for quantity in quantities))
        # In the order of first appearance, which merging in image order keeps.
        return {condition: names for condition, names in self.condition_images.items() if condition in wanted}


def mean_curves(accumulator: ImageAccumulator) -> dict[str, list[float] | None]:
    """The mean curves of the set against their thresholds (ascending, in [0, 1]), for plotting: each over
    the images it is defined on (None where it is defined on none: the false-positive rate of a set whose
    masks all lack background or foreground)."""
    curves: dict[str, list[float] | None] = {"threshold": [float(t) for t in accumulator.kind.thresholds]}
    for key, quantity in (("precision", "precision"), ("recall", "recall"), ("f_measure", "f_curve"), ("fpr", "fpr")):
        curves[key] = accumulator.mean(quantity).tolist() if accumulator.covered(quantity) else None
    return curves
