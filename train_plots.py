"""Plot of the learnt alpha distribution over training epochs, from the run's alpha_log.csv.

The figure is built with ``matplotlib.figure.Figure`` and the Agg canvas directly (as :mod:`report.reliability`),
so that importing this module leaves the caller's pyplot backend and state alone.
"""
from __future__ import annotations

import csv
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


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
    figure.savefig(out_png, dpi=120)
