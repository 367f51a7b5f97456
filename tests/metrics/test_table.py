"""The metric table's entries say what their formulas do."""
from __future__ import annotations

import numpy as np

from metrics.table import EQUAL_WIDTH, METRICS


def test_an_entry_is_binned_by_the_scoring_bins_exactly_when_its_formula_depends_on_them() -> None:
    # Level counts (256, 2) spread over every level, so that every bin holds pixels of both labels.
    counts = np.random.default_rng(0).integers(1, 50, size=(256, 2)).astype(np.int64)
    for metric in METRICS.values():
        if metric.from_counts is None:
            continue
        depends = len({metric.from_counts(counts, n_bins) for n_bins in (3, 10, 15)}) > 1
        assert depends == (metric.bins == EQUAL_WIDTH), metric.key
