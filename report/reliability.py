"""Reliability diagrams (PNG, matplotlib's Agg renderer) for the scored datasets.

Each diagram shows, per equal-width confidence bin, the pixel accuracy as a
bar against the diagonal of perfect calibration, the gap between the bin's
accuracy and its mean confidence as a hatched outline (above the bar where the
bin is over-confident, over the bar's top where it is under-confident, so the
bar always ends at the accuracy), and below it the share of pixels in each bin
on a log scale (most pixels of a saliency map sit in the top bin).
Confidence max(p, 1 - p) cannot be below 50 %, so the x axis spans 50-100 %.
Each diagram is titled with the maps it shows (e.g. the stretched maps of the
paper protocol, or the probability maps). One PNG per dataset and kind of maps,
plus one figure per kind with every dataset side by side; the file names say
the kind (:func:`report.tables.reliability_plot_name`). Figures are built
with ``matplotlib.figure.Figure`` and the Agg canvas directly, so the caller's
pyplot backend and state are left alone.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from common.text import counted
from metrics.calibration import calibration_bins
from metrics.table import METRICS
from report.tables import Diagram, combined_figures, combined_plot_name
from common import atomic

PANELS_PER_ROW = 4
_PANEL_SIZE = (4.2, 5.0)
# The numbers under each diagram's title, titled and formatted as the metric table says.
TITLE_METRICS = ("ECE", "OE", "ACC")
_ACCURACY_COLOUR = "#3b6fb6"
_OVER_COLOUR = "#d9534f"
_UNDER_COLOUR = "#f0ad4e"
_COUNT_COLOUR = "#7f7f7f"
_DPI = 120
_TITLE_WIDTH = 44  # characters of the kind-of-maps line that fit a panel at fontsize 10
_GAP_LINEWIDTH = 1.2
# Inches around each panel's axes: the y labels, the right edge, the title and legend, the x label.
_MARGINS = (0.7, 0.3, 1.3, 0.6)


def _draw_panel(fig: Figure, cell: SubplotSpec, diagram: Diagram, n_bins: int) -> None:
    counts = diagram.counts
    stats = calibration_bins(counts, n_bins)
    edges = np.linspace(0.0, 100.0, n_bins + 1)
    # Bins below 50 % are always empty; one straddling 50 % (odd bin counts) is drawn from 50 %.
    lower = np.maximum(edges[:-1], 50.0)
    upper = edges[1:]
    filled = stats.count > 0
    left, width = lower[filled], (upper - lower)[filled]
    accuracy = 100 * stats.accuracy[filled]
    confidence = 100 * stats.confidence[filled]
    share = 100 * stats.weight[filled]

    grid = cell.subgridspec(2, 1, height_ratios=(3, 1.2), hspace=0.08)
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)

    top.bar(left, accuracy, width=width, align="edge", color=_ACCURACY_COLOUR, edgecolor="white")
    gap = np.abs(confidence - accuracy)
    gap_bottom = np.minimum(accuracy, confidence)
    over = confidence > accuracy
    # Outlined and hatched, not filled: over an under-confident bin's bar a filled gap would hide
    # the accuracy, and the bar would seem to end at the confidence.
    for mask, colour in ((over, _OVER_COLOUR), (~over, _UNDER_COLOUR)):
        top.bar(
            left[mask],
            gap[mask],
            bottom=gap_bottom[mask],
            width=width[mask],
            align="edge",
            facecolor="none",
            edgecolor=colour,
            linewidth=_GAP_LINEWIDTH,
            hatch="//",
        )
    top.plot([50, 100], [50, 100], linestyle="--", color="black", linewidth=1)
    # Fixed legend entries, so every panel reads the same whether or not a kind of gap occurs.
    legend = [
        Line2D([], [], linestyle="--", color="black", linewidth=1, label="Perfect calibration"),
        Patch(color=_ACCURACY_COLOUR, label="Accuracy"),
        Patch(facecolor="none", hatch="//", edgecolor=_OVER_COLOUR, label="Gap to confidence: over-confident"),
        Patch(facecolor="none", hatch="//", edgecolor=_UNDER_COLOUR, label="Gap to confidence: under-confident"),
    ]
    # Bars can fill any corner, so the legend sits between the title and the axes.
    top.legend(handles=legend, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=7, frameon=False)
    top.set_xlim(50, 100)
    top.set_ylim(0, 100)
    top.set_ylabel("Accuracy (%)")
    top.grid(axis="y", alpha=0.3)
    top.tick_params(labelbottom=False)
    shown = [METRICS[key] for key in TITLE_METRICS]
    top.set_title(
        # The kind of maps wrapped to the panel's width: a longer line would run into the next panel.
        f"{diagram.dataset}  ({counted(diagram.n_images, 'image')})\n{textwrap.fill(diagram.title, _TITLE_WIDTH)}\n"
        + "   ".join(f"{m.title} {m.format(m.from_counts(counts, n_bins))}{m.unit}" for m in shown),
        fontsize=10,
        pad=30,
    )

    bottom.bar(left, share, width=width, align="edge", color=_COUNT_COLOUR, edgecolor="white")
    bottom.set_yscale("log")
    bottom.set_ylim(max(share.min() / 3, 1e-4), 500)
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}" if value <= 100 else ""))
    # Above 100 % is only room for the bars' labels: no tick there (one bin at 100 % labelled minor ticks to 400).
    bottom.yaxis.set_minor_formatter(NullFormatter())
    for x, w, s in zip(left, width, share, strict=True):
        bottom.text(x + w / 2, s * 1.3, f"{s:.2g}%", ha="center", va="bottom", fontsize=7)
    bottom.set_ylabel("Pixels (%)")
    bottom.set_xlabel("Confidence max(p, 1-p) (%)")
    bottom.set_xticks(np.arange(50, 101, 10))


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic.replacing(path) as temporary:
        fig.savefig(temporary, dpi=_DPI)
    return path


def reliability_figure(diagrams: Sequence[Diagram], n_bins: int) -> Figure:
    """The given reliability diagrams side by side (wrapping after ``PANELS_PER_ROW``)."""
    rows = -(-len(diagrams) // PANELS_PER_ROW)
    # Spread the panels evenly over the rows (5 sets: 3 + 2 rather than 4 + 1).
    columns = -(-len(diagrams) // rows)
    width, height = _PANEL_SIZE[0] * columns, _PANEL_SIZE[1] * rows
    fig = Figure(figsize=(width, height))
    # Fixed margins, not a constrained layout: every panel is laid out alike, and fitting them took a
    # third of the time of drawing a figure.
    left, right, top, bottom = _MARGINS
    axes_width, axes_height = width / columns - left - right, height / rows - top - bottom
    grid = fig.add_gridspec(rows, columns, left=left / width, right=1 - right / width, top=1 - top / height,
                            bottom=bottom / height, wspace=(left + right) / axes_width,
                            hspace=(top + bottom) / axes_height)
    for index, diagram in enumerate(diagrams):
        _draw_panel(fig, grid[index // columns, index % columns], diagram, n_bins)
    return fig


def save_reliability_plots(out_dir: Path, diagrams: Sequence[Diagram], n_bins: int) -> list[Path]:
    """Write each diagram, and per kind of maps shown for several datasets the figure of them all, into
    ``out_dir``."""
    out_dir = Path(out_dir)
    paths = [_save(reliability_figure([diagram], n_bins), out_dir / diagram.file_name) for diagram in diagrams]
    for maps, same_kind in combined_figures(diagrams).items():
        paths.append(_save(reliability_figure(same_kind, n_bins), out_dir / combined_plot_name(maps)))
    return paths
