"""The metric table's entries say what their formulas do."""
from __future__ import annotations

import numpy as np

from metrics.sod import sod_image_stats
from metrics.table import EQUAL_WIDTH, METRICS


def test_an_entry_is_binned_by_the_scoring_bins_exactly_when_its_formula_depends_on_them() -> None:
    # Level counts (256, 2) spread over every level, so that every bin holds pixels of both labels.
    counts = np.random.default_rng(0).integers(1, 50, size=(256, 2)).astype(np.int64)
    for metric in METRICS.values():
        if metric.from_counts is None:
            continue
        depends = len({metric.from_counts(counts, n_bins) for n_bins in (3, 10, 15)}) > 1
        assert depends == (metric.bins == EQUAL_WIDTH), metric.key


def test_an_entry_summarises_curves_exactly_when_its_quantities_are_curves() -> None:
    # One image's statistics: curves are arrays (a value per threshold), the other quantities numbers.
    gt = np.zeros((12, 16), np.uint8)
    gt[3:9, 4:12] = 255
    stats = sod_image_stats(np.random.default_rng(1).integers(0, 256, gt.shape, dtype=np.uint8), gt)
    for metric in METRICS.values():
        if metric.from_sod is not None:
            curves = [np.ndim(getattr(stats, quantity)) == 1 for quantity in metric.from_sod.quantities]
            assert all(curves) == metric.from_sod.of_curves and len(set(curves)) == 1, metric.key
