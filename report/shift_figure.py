"""The shift figure (report.shift): per test set, ECE and ACC against severity, clean then 1 to 5, one
box per method over the corruptions (Ovadia et al., NeurIPS 2019, Fig. 2); the clean box spans the seeds.
Whiskers reach the least and greatest value, the spread the table gives; the diamond is the table's mean."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from common import atomic
from common.palette import method_colour
from data.corruptions import ShiftedSet
from metrics.table import column_title, metric_of

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with the module
    from matplotlib.figure import Figure

FIGURE_KEYS = ("ECE", "ACC")


def _scale(key: str) -> float:
    return 100.0 if metric_of(key).unit == "%" else 1.0


def save_shift_figure(summaries: dict[str, dict[str, dict]], by_source: dict[str, list[ShiftedSet]],
                      keys: dict[str, str], path: Path) -> Figure:
    """Draw one row per test set (`report.shift.summarise`'s summaries) into `path`; returns the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(12, 3.4 * len(summaries) + 0.5), layout="constrained")
    grid = figure.subplots(len(summaries), len(FIGURE_KEYS), squeeze=False)
    # One colour per method across the rows, hence one legend for them all.
    methods = list(dict.fromkeys(method for summary in summaries.values() for method in summary))
    width = 0.8 / len(methods)
    for row, (source, summary) in zip(grid, summaries.items()):
        severities = sorted({s.severity for s in by_source[source]})
        for axis, key in zip(row, FIGURE_KEYS):
            scale = _scale(key)
            for i, method in enumerate(methods):
                if method not in summary:
                    continue
                clean = summary[method]["clean"][key]
                groups = [[v * scale for v in clean["values"]] if clean else []]
                groups += [[summary[method]["sets"][s.name][key] * scale for s in by_source[source]
                            if s.severity == level and summary[method]["sets"][s.name][key] is not None]
                           for level in severities]
                positions = [x + (i - (len(methods) - 1) / 2) * width for x in range(len(groups))]
                kept = [(p, g) for p, g in zip(positions, groups) if g]
                if not kept:
                    continue
                boxes = axis.boxplot([g for _, g in kept], positions=[p for p, _ in kept], widths=width * 0.9,
                                     patch_artist=True, manage_ticks=False, whis=(0, 100), showmeans=True,
                                     meanprops={"marker": "D", "markersize": 3, "markerfacecolor": "white",
                                                "markeredgecolor": "black"})
                for box in boxes["boxes"]:
                    box.set(facecolor=method_colour(i), alpha=0.6)
                for median in boxes["medians"]:  # in the method's colour: a box of equal values is only this line
                    median.set(color=method_colour(i), linewidth=2)
            axis.set_xticks(range(len(severities) + 1), ["clean", *map(str, severities)])
            axis.set(xlabel="severity", ylabel=column_title(key, probabilities=keys[key] != key), title=source)
            axis.grid(axis="y", alpha=0.3)
    # Beside the panels, not over them: the clean group holds a box per method.
    figure.legend([Patch(facecolor=method_colour(i), alpha=0.6) for i in range(len(methods))], methods,
                  loc="outside right upper", fontsize=8)
    figure.suptitle("Calibration under corruption: per method a box over the corruptions (clean: over the seeds)\n"
                    "box: quartiles, whiskers: min-max (the table's spread), diamond: mean", fontsize=10)
    FigureCanvasAgg(figure)
    with atomic.replacing(path) as temporary:
        figure.savefig(temporary, dpi=120)
    return figure
