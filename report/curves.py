"""The SOD curves (PNG, matplotlib's Agg renderer): per test set, precision against recall and the
F-measure against the threshold, one line per label (a method), from the curves.json files the
evaluation writes beside results.json.

A label's line is the mean of its runs' curves (one per seed) point by point, so the runs of a label
must share their thresholds; the legend says how many runs each line averages. Figures are built
with ``matplotlib.figure.Figure`` and the Agg canvas directly, so the caller's pyplot backend and
state are left alone.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from common.palette import method_colour
from common.text import counted
from metrics.measures import F_BETA2
from report.tables import CURVES_JSON, file_stem
from common import atomic

CURVES_FOLDER = "curves"
CURVE_KEYS = ("threshold", "precision", "recall", "f_measure")
PLOT_PREFIXES = ("pr", "f_measure")
# Post-hoc calibration can leave a method's curves on top of another's: dashes keep both visible.
_LINE_STYLES = ("-", "--", "-.", ":")
_FIGURE_SIZE = (5.0, 4.2)
_DPI = 120


@dataclass(frozen=True)
class MeanCurves:
    """One label's curves on one test set, averaged point by point over its runs."""

    threshold: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f_measure: np.ndarray
    n_runs: int


def _set_arrays(arrays: dict, label: str, name: str) -> dict[str, np.ndarray]:
    missing = [key for key in CURVE_KEYS if key not in arrays]
    if missing:
        raise ValueError(f"the curves of {label} on {name} lack {', '.join(missing)}; the evaluation writes "
                         f"{', '.join(CURVE_KEYS)} per set into {CURVES_JSON}: evaluate the run again")
    curves = {key: np.asarray(arrays[key], dtype=float) for key in CURVE_KEYS}
    if len({values.shape for values in curves.values()}) != 1:
        raise ValueError(f"the curves of {label} on {name} differ in length: "
                         + ", ".join(f"{key} {values.size}" for key, values in curves.items()))
    return curves


def average_curves(contents: Sequence[dict], label: str) -> dict[str, MeanCurves]:
    """Test set -> the mean of the curves of the runs (curves.json contents) that hold that set."""
    per_set: dict[str, list[dict[str, np.ndarray]]] = {}
    for content in contents:
        for name, arrays in content["sets"].items():
            per_set.setdefault(name, []).append(_set_arrays(arrays, label, name))
    averaged = {}
    for name, runs in per_set.items():
        if any(run["threshold"].shape != runs[0]["threshold"].shape
               or not np.allclose(run["threshold"], runs[0]["threshold"]) for run in runs):
            raise ValueError(f"the runs of {label} on {name} were scored at different thresholds, so their "
                             "curves cannot be averaged point by point; evaluate them with the same evaluator")
        mean = {key: np.mean([run[key] for run in runs], axis=0) for key in CURVE_KEYS}
        averaged[name] = MeanCurves(**mean, n_runs=len(runs))
    return averaged


def _protocol(curves: dict[str, Sequence[dict]]) -> str:
    """The one protocol every run was scored under (lines of two protocols do not compare)."""
    protocols = {content["protocol"] for contents in curves.values() for content in contents}
    if len(protocols) != 1:
        raise ValueError(f"the curves were scored under {len(protocols)} protocols ({', '.join(sorted(protocols))}); "
                         "draw the runs of one protocol together")
    return protocols.pop()


def plot_names(dataset: str) -> tuple[str, str]:
    """File names of a test set's precision-recall and F-measure plots (safe for any set name)."""
    return tuple(f"{prefix}_{file_stem(dataset)}.png" for prefix in PLOT_PREFIXES)


def curve_figures(curves: dict[str, Sequence[dict]]) -> dict[str, tuple[Figure, Figure]]:
    """Test set -> (precision-recall figure, F-measure-vs-threshold figure), one line per label.

    `curves` maps a label (method) to the curves.json contents of its runs (one per seed)."""
    protocol = _protocol(curves)
    averaged = {label: average_curves(contents, label) for label, contents in curves.items()}
    datasets = list(dict.fromkeys(name for per_set in averaged.values() for name in per_set))
    figures = {}
    for name in datasets:
        pr = Figure(figsize=_FIGURE_SIZE, layout="constrained")
        f_measure = Figure(figsize=_FIGURE_SIZE, layout="constrained")
        pr_axes, f_axes = pr.add_subplot(), f_measure.add_subplot()
        for index, (label, per_set) in enumerate(averaged.items()):
            if name not in per_set:
                continue
            mean, style = per_set[name], _LINE_STYLES[index % len(_LINE_STYLES)]
            legend = f"{label} ({counted(mean.n_runs, 'seed')})"
            pr_axes.plot(mean.recall, mean.precision, style, color=method_colour(index), label=legend)
            f_axes.plot(mean.threshold, mean.f_measure, style, color=method_colour(index), label=legend)
        pr_axes.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.02),
                    title=f"{name}: precision-recall ({protocol} protocol)")
        f_axes.set(xlabel="Threshold", ylabel=f"F-measure (β² = {F_BETA2:g})", xlim=(0, 1), ylim=(0, 1.02),
                   title=f"{name}: F-measure by threshold ({protocol} protocol)")
        for axes in (pr_axes, f_axes):
            axes.grid(alpha=0.3)
            axes.legend(fontsize=8)
        figures[name] = (pr, f_measure)
    return figures


def save_sod_curves(curves: dict[str, Sequence[dict]], out_dir: Path) -> list[Path]:
    """Draw `curve_figures` into `out_dir` as pr_<set>.png and f_measure_<set>.png, replacing the
    plots an earlier call left there, and return the paths written."""
    figures = curve_figures(curves)
    names = {name: plot_names(name) for name in figures}
    clashes = [name for name in names if list(names.values()).count(names[name]) > 1]
    if clashes:
        raise ValueError(f"the test sets {', '.join(clashes)} would share plot file names {names[clashes[0]]}; "
                         "rename one of them")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (path for prefix in PLOT_PREFIXES for path in out_dir.glob(f"{prefix}_*.png")):
        stale.unlink()
    paths = []
    for name, pair in figures.items():
        for figure, file_name in zip(pair, names[name], strict=True):
            FigureCanvasAgg(figure)
            with atomic.replacing(out_dir / file_name) as temporary:
                figure.savefig(temporary, dpi=_DPI)
            paths.append(out_dir / file_name)
    return paths


def save_run_curves(run_dir: Path, label: str) -> list[Path]:
    """One run's SOD curves: read `run_dir`/curves.json and draw its sets into `run_dir`/curves/."""
    path = Path(run_dir) / CURVES_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the evaluation writes it beside results.json; "
                                "evaluate the run first")
    return save_sod_curves({label: [json.loads(path.read_text())]}, Path(run_dir) / CURVES_FOLDER)
