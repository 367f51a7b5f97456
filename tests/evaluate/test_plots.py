"""The reliability diagram: the bar is the accuracy, the gap to the confidence is an outline."""
from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from evaluate.calibration import calibration_bins
from evaluate.plots import _ACCURACY_COLOUR, reliability_figure, save_reliability_plots
from evaluate.report import DatasetScore


def under_and_over_confident_counts() -> np.ndarray:
    """Level 153 (p 0.6, confidence 60 %) right 90 % of the time: under-confident. Level 242 (p 0.95)
    right 70 % of the time: over-confident."""
    counts = np.zeros((256, 2), np.int64)
    counts[153] = (100, 900)
    counts[242] = (300, 700)
    return counts


def score(counts: np.ndarray) -> DatasetScore:
    metrics = {"n_images": 1, "ECE": 0.3, "OE": 0.2, "ACC": 0.8}
    return DatasetScore("S", metrics, counts, [], Path("pred"), Path("gt"))


def top_rectangles(counts: np.ndarray) -> list[Rectangle]:
    figure = reliability_figure([score(counts)], n_bins=10)
    top = figure.axes[0]
    return [patch for patch in top.patches if isinstance(patch, Rectangle) and patch.get_height() > 0]


def test_accuracy_bars_end_at_the_accuracy_and_gaps_hide_nothing():
    counts = under_and_over_confident_counts()
    stats = calibration_bins(counts, 10)
    filled = stats.count > 0
    rectangles = top_rectangles(counts)
    bars = [r for r in rectangles if r.get_facecolor() == to_rgba(_ACCURACY_COLOUR)]
    assert [round(r.get_height(), 6) for r in bars] == [round(100 * a, 6) for a in stats.accuracy[filled]]
    gaps = [r for r in rectangles if r not in bars]
    assert len(gaps) == 2
    for gap in gaps:
        assert gap.get_facecolor()[3] == 0 and gap.get_hatch()  # outlined and hatched, not filled
    under = next(g for g in gaps if g.get_x() < 70)
    # 60 % confidence, 90 % accuracy: the gap spans 60-90 over the bar, which still reaches 90
    assert round(under.get_y(), 6) == round(100 * stats.confidence[filled][0], 6)
    assert round(under.get_y() + under.get_height(), 6) == round(100 * stats.accuracy[filled][0], 6)


def test_legend_names_both_kinds_of_gap(tmp_path):
    figure = reliability_figure([score(under_and_over_confident_counts())], n_bins=10)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any("over-confident" in label for label in labels) and any("under-confident" in label for label in labels)
    paths = save_reliability_plots(tmp_path, [score(under_and_over_confident_counts())], n_bins=10)
    assert all(path.stat().st_size > 10_000 for path in paths)
