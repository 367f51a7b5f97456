"""Plots of a training run's logs: the learnt alpha distribution over epochs (alpha_log.csv), the
validation calibration over epochs with the epochs that drew perturbed labels (log.csv), and the
latter for several runs side by side, one line per method and seed.

The figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly (as :mod:`report.reliability`),
so that importing this module leaves the caller's pyplot backend and state alone.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from metrics.boundary import BOUNDARY_WIDTH
from metrics.calibration import N_BINS
from common import atomic
from common.palette import method_colour
from training.log import LOG_NAME

CALIBRATION_PLOT_NAME = "calibration_history.png"
ALPHA_PLOT_NAME = "alpha_history.png"
# log.csv's validation calibration columns (fractions) and what the plots call them.
CALIBRATION_COLUMNS = {"val_ECE": "ECE", "val_OE": "OE", "val_ECE_boundary": "boundary ECE"}
# One line style per seed; six, since the study runs five seeds of the methods its answer turns on
# (with four, the fifth seed was drawn like the first).
SEED_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 3)))


def plot_alpha_history(log_csv: Path, out_png: Path) -> None:
    """Median alpha with its 25-75% and 10-90% bands and the maximum (top), and the share of images
    held at each clamp (bottom), per epoch."""
    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    column = {key: [float(row[key]) for row in rows] for key in rows[0]}
    epochs = column["epoch"]
    figure = Figure(figsize=(7, 6), layout="tight")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.fill_between(epochs, column["q10"], column["q90"], color="tab:blue", alpha=0.15, label="10-90%")
    top.fill_between(epochs, column["q25"], column["q75"], color="tab:blue", alpha=0.3, label="25-75%")
    top.plot(epochs, column["q50"], color="tab:blue", label="median")
    top.plot(epochs, column["mean"], color="tab:blue", linestyle=":", label="mean")
    top.plot(epochs, column["q100"], color="tab:red", linestyle="--", label="max")
    top.set_ylabel("alpha (perturbation probability)")
    top.set_title("Learnt alpha over training images")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(epochs, [100 * v for v in column["at_zero"]], marker="o", label="at 0")
    bottom.plot(epochs, [100 * v for v in column["at_ceiling"]], marker="o", label="at the upper clamp")
    bottom.set_ylabel("images (%)")
    bottom.set_xlabel("epoch")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.legend(fontsize=8)
    bottom.grid(alpha=0.3)
    FigureCanvasAgg(figure)
    with atomic.replacing(out_png) as temporary:
        figure.savefig(temporary, dpi=120)


def read_log(log_csv: Path) -> dict[str, list[float]]:
    """log.csv's columns as floats, an empty cell as NaN (a column a method does not have, or one an
    epoch logged before the column existed)."""
    with open(log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = rows[0].keys() if rows else ()
    return {name: [float(row.get(name) or math.nan) for row in rows] for name in names}


def _calibration_subtitle(n_bins: int, boundary_width: int) -> str:
    return (f"probability maps round(255 p), masks thresholded at 128, {n_bins} equal-width bins; "
            f"boundary: band of {boundary_width} px")


def _perturbed_epochs(log: dict[str, list[float]]) -> list[float]:
    return [epoch for epoch, share in zip(log["epoch"], log.get("perturbed_share", ())) if share > 0]


def plot_calibration_history(
    log_csv: Path, out_png: Path, n_bins: int = N_BINS, boundary_width: int = BOUNDARY_WIDTH,
) -> Figure | None:
    """One run's validation ECE, OE and boundary-band ECE per epoch (in %), and, for methods that
    perturb labels, the share of each epoch's images trained on a perturbed label as bars on a twin
    axis, so that a change of calibration can be set beside the perturbations before it. Writes
    `out_png` and returns the figure; None (nothing written) for a log without rows."""
    log = read_log(log_csv)
    if not log:
        return None
    epochs = log["epoch"]
    figure = Figure(figsize=(8, 4.5), layout="tight")
    axes = figure.subplots()
    shares = log.get("perturbed_share", [math.nan] * len(epochs))
    if any(share > 0 for share in shares):
        bars = axes.twinx()
        bars.bar(epochs, [100 * share for share in shares], width=0.6, color="tab:gray", alpha=0.35,
                 label="images with a perturbed label")
        bars.set_ylabel("images with a perturbed label (% of the epoch's)")
        # The lines above the bars: the twin axes is drawn after, so put this one in front.
        axes.set_zorder(bars.get_zorder() + 1)
        axes.patch.set_visible(False)
    for column, words in CALIBRATION_COLUMNS.items():
        axes.plot(epochs, [100 * value for value in log.get(column, [math.nan] * len(epochs))], marker="o",
                  markersize=3, label=f"validation {words}")
    axes.set_xlabel("epoch")
    axes.set_ylabel("calibration error (%)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(f"Validation calibration per epoch\n{_calibration_subtitle(n_bins, boundary_width)}", fontsize=9)
    handles = [line for ax in figure.axes for line in ax.get_legend_handles_labels()[0]]
    axes.legend(handles=handles, fontsize=8)
    axes.grid(alpha=0.3)
    FigureCanvasAgg(figure)
    with atomic.replacing(out_png) as temporary:
        figure.savefig(temporary, dpi=120)
    return figure


def plot_validation_calibration(
    runs: dict[str, dict[int, Path]], out_png: Path, n_bins: int = N_BINS, boundary_width: int = BOUNDARY_WIDTH,
) -> Figure | None:
    """Validation ECE, OE and boundary-band ECE per epoch of several runs, one panel each: one line
    per method (colour) and seed (line style), dots on the epochs in which some labels were
    perturbed, so that the swings of a method between epochs and seeds show.

    `runs` maps a method to its seeds' run folders (each holding a log.csv from training); runs
    without one (post-hoc methods, runs not trained here) are left out. Writes `out_png` and returns
    the figure; None (nothing written) when no run has a log.
    """
    # Seeds in order within each method, however the runs were listed (the study trains seeds 4 and 5 first).
    logs = {(method, seed): read_log(folder / LOG_NAME) for method, seeds in runs.items()
            for seed, folder in sorted(seeds.items()) if (folder / LOG_NAME).is_file()}
    logs = {key: log for key, log in logs.items() if log}
    if not logs:
        return None
    methods = list(dict.fromkeys(method for method, _ in logs))
    seeds = sorted({seed for _, seed in logs})
    figure = Figure(figsize=(5 * len(CALIBRATION_COLUMNS), 4.5), layout="constrained")
    panels = figure.subplots(1, len(CALIBRATION_COLUMNS), sharex=True)
    for axes, (column, words) in zip(panels, CALIBRATION_COLUMNS.items()):
        drawn: dict[tuple, str] = {}  # the values of each line drawn -> its label
        for (method, seed), log in logs.items():
            color = method_colour(methods.index(method))
            values = [100 * value for value in log.get(column, [math.nan] * len(log["epoch"]))]
            label = f"{method} seed {seed}"
            twin = drawn.setdefault((tuple(log["epoch"]), *(tuple(log.get(c, ())) for c in CALIBRATION_COLUMNS)), label)
            # A run identical to one drawn would hide under it: crosses on its epochs, and the legend says so.
            same = {"marker": "x", "markersize": 6, "linewidth": 0.8} if twin != label else {}
            axes.plot(log["epoch"], values, color=color, linestyle=SEED_STYLES[seeds.index(seed) % len(SEED_STYLES)],
                      label=label if twin == label else f"{label} (same values as {twin})", **same)
            perturbed = set(_perturbed_epochs(log))
            marked = [(epoch, value) for epoch, value in zip(log["epoch"], values) if epoch in perturbed]
            if marked:
                axes.plot(*zip(*marked), linestyle="none", marker="o", markersize=4, color=color)
        axes.set_title(f"validation {words}")
        axes.set_xlabel("epoch")
        axes.set_ylabel(f"{words} (%)")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    # One legend for the three panels, beside them, so that no line is hidden under it.
    figure.legend(*panels[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    figure.suptitle("Validation calibration per epoch, one line per method and seed (dots: epochs with perturbed "
                    f"labels)\n{_calibration_subtitle(n_bins, boundary_width)}", fontsize=10)
    FigureCanvasAgg(figure)
    with atomic.replacing(out_png) as temporary:
        figure.savefig(temporary, dpi=120)
    return figure
