"""The reliability diagram: the bar is the accuracy, the gap to the confidence is an outline."""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from metrics.calibration import calibration_bins
from report.reliability import _ACCURACY_COLOUR, reliability_figure, save_reliability_plots
from protocol import PROBABILITY_MAPS, STRETCHED_MAPS
from report.tables import Diagram


def under_and_over_confident_counts() -> np.ndarray:
    """Level 153 (p 0.6, confidence 60 %) right 90 % of the time: under-confident. Level 242 (p 0.95)
    right 70 % of the time: over-confident."""
    counts = np.zeros((256, 2), np.int64)
    counts[153] = (100, 900)
    counts[242] = (300, 700)
    return counts


def score(counts: np.ndarray, name: str = "S", maps=PROBABILITY_MAPS) -> Diagram:
    return Diagram(name, maps, "calibrated" if maps == PROBABILITY_MAPS else "paper", counts, n_images=1)


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


def test_legend_names_both_kinds_of_gap():
    figure = reliability_figure([score(under_and_over_confident_counts())], n_bins=10)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any("over-confident" in label for label in labels) and any("under-confident" in label for label in labels)


def test_title_says_which_maps_and_files_are_named_after_them(tmp_path):
    counts = under_and_over_confident_counts()
    title = reliability_figure([score(counts, maps=STRETCHED_MAPS)], n_bins=10).axes[0].get_title()
    # Half the pixels at confidence 0.6, 90 % right; half at 242/255, 70 % right: ECE (0.3 + 242/255 - 0.7) / 2.
    # The set, the kind of maps (wrapped), then the numbers once (they were once joined by the lines above).
    lines = title.split("\n")
    assert lines[0] == "S  (1 image)" and " ".join(lines[1:-1]) == f"{STRETCHED_MAPS.title}, paper protocol"
    assert lines[-1].startswith("ECE 27.45%") and lines[-1].endswith("ACC 80.00%") and title.count("ECE") == 1
    paths = save_reliability_plots(tmp_path, [score(counts, "A", STRETCHED_MAPS), score(counts, "A")], n_bins=10)
    # One file per diagram; no figure of all sets for kinds shown for one set only (it would repeat it).
    assert [path.name for path in paths] == ["reliability_A_stretched.png", "reliability_A_probabilities.png"]
    assert all(path.stat().st_size > 10_000 for path in paths)


def test_alpha_plot_leaves_the_pyplot_backend_alone(tmp_path):
    import importlib

    import matplotlib

    import training.plots as alpha_plot

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        importlib.reload(alpha_plot)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    log = tmp_path / "alpha_log.csv"
    keys = ("epoch", "q10", "q25", "q50", "q75", "q90", "q100", "mean", "at_zero", "at_ceiling")
    rows = ("1,0,0,0.01,0.02,0.03,0.05,0.01,0.4,0", "2,0,0.01,0.02,0.03,0.05,0.08,0.02,0.2,0.1")
    log.write_text("\n".join([",".join(keys), *rows]) + "\n")
    alpha_plot.plot_alpha_history(log, tmp_path / "alpha.png")
    assert (tmp_path / "alpha.png").stat().st_size > 10_000


def test_one_bin_pixel_share_axis_labels_no_share_above_100_percent():
    counts = np.zeros((256, 2), np.int64)
    counts[255] = (0, 500)  # every pixel in the top bin: 100 %
    figure = reliability_figure([score(counts)], n_bins=10)
    FigureCanvasAgg(figure).draw()
    bottom = figure.axes[1]
    labels = [tick.get_text() for tick in [*bottom.get_yticklabels(), *bottom.get_yticklabels(minor=True)]]
    shown = [float(text) for text in labels if text]
    assert shown and max(shown) <= 100


def test_a_long_kind_of_maps_line_is_wrapped_inside_the_panel():
    counts = under_and_over_confident_counts()
    figure = reliability_figure([score(counts, name, STRETCHED_MAPS) for name in "ABCDE"], n_bins=10)
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    tops = figure.axes[::2]  # each panel: the diagram, then the pixel shares under it
    titles = [top.title.get_window_extent(renderer) for top in tops]
    assert all(t.x0 >= 0 and t.x1 <= figure.bbox.width and t.y1 <= figure.bbox.height for t in titles)
    # Five panels in rows of 3 and 2 (fixed margins): no title runs into its neighbour or the row above.
    assert titles[0].x1 < titles[1].x0 and titles[1].x1 < titles[2].x0
    assert titles[3].y1 < tops[0].xaxis.label.get_window_extent(renderer).y0
