"""The study's own outputs beside main_ASLP.py's: the tables of all its runs together (comparison and
shift), the reliability figure of every method's probability maps over the seeds, and the validation
calibration table (benchmarks/real_study.py runs the study; this draws and tabulates it)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common import atomic
from common.layout import VALIDATION_PLOT, map_folders
from common.text import plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from protocol import Protocol

SET_NAME = "PASCAL-S"  # as data.pascal_s lays it out (a test keeps the two equal)
SOD_NAME = "SOD"  # the cross-dataset test set, linked in as it is
SUMMARY_TABLE = "shift_summary.md"  # the table the README's "when ASLP, when TS" reading quotes
SUMMARY_KEY = "ECE"
TIED = "≈"  # after a cell whose range over seeds meets the column's best: the spread cannot tell them apart
PLOT = "reliability_study.png"
PANELS_PER_ROW = 4  # a study of eleven rows still fits a page
VALIDATION_TABLE = "validation_calibration.md"


class StudyError(RuntimeError):
    """The study found nothing to show."""


def study_tables(study_dir: Path, folders: dict[str, dict[int, Path]], protocol: Protocol) -> list[Path]:
    """The comparison (clean sets), its report.html, the validation plot, and the shift table, figure and
    summary of every run of the study that has results.json, all plans together (each main_ASLP.py run
    tabulated only its own); their paths."""
    import json

    from data.corruptions import parse_shifted
    from report.comparison import write_comparison
    from report.shift import write_shift

    runs, curves = {}, {}
    for method, per_seed in folders.items():
        for seed, folder in per_seed.items():
            if (folder / "results.json").is_file():
                runs.setdefault(method, {})[seed] = json.loads((folder / "results.json").read_text())
            if (folder / "curves.json").is_file():
                curves.setdefault(method, {})[seed] = json.loads((folder / "curves.json").read_text())
    if not runs:
        return []
    clean = {method: {seed: {name: metrics for name, metrics in result.items() if parse_shifted(name) is None}
                      for seed, result in per_seed.items()} for method, per_seed in runs.items()}
    write_comparison(clean, study_dir, protocol, curves)
    written = [study_dir / "comparison.md"]
    # Each main_ASLP.py run drew its own rows only: the study's page and validation plot show them all.
    from report.html import PAGE_DATA, write_comparison_page
    from report.names import PICTURES_FOLDER
    from training.plots import plot_validation_calibration

    paged = {method: folder for method, per_seed in folders.items()
             if (folder := next((per_seed[seed] for seed in sorted(per_seed)
                                 if (per_seed[seed] / PICTURES_FOLDER / PAGE_DATA).is_file()), None))}
    if paged:
        written.append(write_comparison_page(study_dir, paged))
    if plot_validation_calibration(folders, study_dir / VALIDATION_PLOT) is not None:
        written.append(study_dir / VALIDATION_PLOT)
    if write_shift(runs, study_dir, protocol.name) is not None:
        written += [study_dir / "shift.md", study_dir / "shift.png"]
    summary = shift_summary(runs)
    if summary:
        atomic.write_text(study_dir / SUMMARY_TABLE, summary)
        written.append(study_dir / SUMMARY_TABLE)
    return written


@dataclass(frozen=True)
class SummaryColumn:
    """One column of the shift summary: the mean of one metric over some test sets (a run's value; a
    run that lacks one of them has none)."""

    title: str
    sets: tuple[str, ...]
    key: str


def summary_columns(runs: dict[str, dict[int, dict[str, dict]]]) -> list[SummaryColumn]:
    """The columns the study's runs can fill: in-domain, cross-dataset, out-of-distribution (the sets no
    run has an F-measure for), the in-domain set's corrupted copies at each severity (the mean over the
    corruptions), then the boundary band in-domain and cross-dataset; probability maps where scored."""
    from data.corruptions import parse_shifted
    from metrics.table import BOUNDARY, result_key
    from report.shift import metric_keys

    results = [result for per_seed in runs.values() for result in per_seed.values()]
    names = list(dict.fromkeys(name for result in results for name in result))
    probabilities = metric_keys(runs)[SUMMARY_KEY] != SUMMARY_KEY
    key = result_key(SUMMARY_KEY, probabilities=probabilities)
    band = result_key(SUMMARY_KEY, BOUNDARY, probabilities=probabilities)
    shifted = [s for s in map(parse_shifted, names) if s is not None and s.source == SET_NAME]
    ood = [n for n in names if parse_shifted(n) is None and n not in (SET_NAME, SOD_NAME)
           and all(result.get(n, {}).get("maxF") is None for result in results)]
    columns = [SummaryColumn(f"in-domain {SET_NAME}", (SET_NAME,), key),
               SummaryColumn(f"cross-dataset {SOD_NAME}", (SOD_NAME,), key),
               *(SummaryColumn(f"out-of-distribution {n}", (n,), key) for n in ood),
               *(SummaryColumn(f"corrupted, severity {level}", tuple(s.name for s in shifted if s.severity == level),
                               key) for level in sorted({s.severity for s in shifted})),
               SummaryColumn(f"boundary, in-domain {SET_NAME}", (SET_NAME,), band),
               SummaryColumn(f"boundary, cross-dataset {SOD_NAME}", (SOD_NAME,), band)]
    # A column stays where some run has a value for it (no boundary band scored: no boundary columns).
    return [c for c in columns if any(_run_value(result, c) is not None for result in results)]


def _run_value(result: dict[str, dict], column: SummaryColumn) -> float | None:
    values = [result.get(name, {}).get(column.key) for name in column.sets]
    return None if None in values else sum(values) / len(values)


def shift_summary(runs: dict[str, dict[int, dict[str, dict]]]) -> str:
    """Markdown: one row per method, one column per kind of test (`summary_columns`), each cell the
    mean ± std over the method's seeds of its ECE (%); the best mean in bold, and `TIED` after each cell
    whose range over seeds meets the best's. Empty when the runs have no column."""
    from metrics.table import column_title
    from report.comparison import seed_summary

    columns = summary_columns(runs)
    if not columns:
        return ""
    cells = {method: [seed_summary([_run_value(result, column) for result in per_seed.values()])
                      for column in columns] for method, per_seed in runs.items()}
    lines = ["| Method (seeds) | " + " | ".join(column.title for column in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    best = []
    for index in range(len(columns)):
        present = {method: row[index] for method, row in cells.items() if row[index] is not None}
        best.append(min(present, key=lambda method: present[method]["mean"]) if present else None)
    for method, row in cells.items():
        texts = []
        for index, (summary, leader) in enumerate(zip(row, best, strict=True)):
            if summary is None:
                texts.append("n/a")
                continue
            top = cells[leader][index]
            # One seed has no spread: its value alone, not a "± 0.00" that would claim one.
            text = f"{100 * summary['mean']:.2f}" + (f" ± {100 * summary['std']:.2f}" if summary["n"] > 1 else "")
            if leader == method:
                text = f"**{text}**"
            elif min(top["n"], summary["n"]) > 1 and summary["min"] <= top["max"] and top["min"] <= summary["max"]:
                text += f" {TIED}"
            texts.append(text)
        seeds = max((summary["n"] for summary in row if summary), default=0)
        lines.append(f"| {method} ({seeds}) | " + " | ".join(texts) + " |")
    what = column_title(SUMMARY_KEY, probabilities=columns[0].key != SUMMARY_KEY)
    return (f"{what}, mean ± std over each method's seeds. Corrupted: per seed the mean over the corruptions of "
            f"{SET_NAME}'s test images at that severity (shift.md breaks it down). Boundary: the band around the "
            f"objects' edges. **Bold**: the column's lowest mean; {TIED}: the method's range over seeds meets the "
            f"best's, so the seeds cannot tell the two apart (a row of one seed has no spread: no ± and no {TIED}). "
            "Post-hoc calibrators are fitted on the clean validation split.\n\n" + "\n".join(lines) + "\n")


def reliability_figure(folders: dict[str, dict[int, Path]], gt_dir: Path, protocol: Protocol,
                       n_bins: int = 10) -> tuple[Figure, list[str]]:
    """One panel per method: accuracy against confidence of each seed's probability maps (where the
    test stage under `protocol` writes them, `predict.map_folders`). Also returns one line per run
    whose maps were not found; its panel says so too."""
    from matplotlib.figure import Figure

    from evaluate.io import EvaluationInputError, load_pair, pair_folders
    from metrics.calibration import calibration_bins
    from protocol import level_counts

    columns = min(PANELS_PER_ROW, len(folders))
    rows = -(-len(folders) // columns)
    figure = Figure(figsize=(3.2 * columns, 3.0 * rows + 0.4), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for spare in grid[len(folders):]:
        spare.set_axis_off()
    axes = grid[:len(folders)]
    # A seed keeps its colour in every panel, and the legends list seeds in order, whatever order they ran in.
    seeds = sorted({seed for per_seed in folders.values() for seed in per_seed})
    missing = []
    for axis, (method, per_seed) in zip(axes, folders.items(), strict=True):
        absent = []
        for seed, folder in sorted(per_seed.items()):
            maps = map_folders(folder, protocol)[1] / SET_NAME
            try:
                if not maps.is_dir():
                    raise EvaluationInputError(f"{maps} does not exist")
                pairs = pair_folders(maps, gt_dir).pairs
            except EvaluationInputError as error:
                absent.append(seed)
                missing.append(f"{method}, seed {seed}: no probability maps ({error})")
                continue
            counts = sum(level_counts(pair.pred, pair.gt) for pair in map(load_pair, pairs))
            stats = calibration_bins(counts, n_bins)
            filled = stats.count > 0
            axis.plot(stats.confidence[filled], stats.accuracy[filled], "o-", ms=3, color=f"C{seeds.index(seed) % 10}",
                      label=f"seed {seed}")
        axis.plot([0.5, 1], [0.5, 1], "k--", lw=0.8, label="calibrated")
        axis.set(title=method, xlabel="confidence", xlim=(0.5, 1), ylim=(0.3, 1))
        if absent:
            text = ("no probability maps found" if len(absent) == len(per_seed)
                    else f"no probability maps for seed {', '.join(map(str, absent))}")
            axis.text(0.5, 0.5, text, transform=axis.transAxes, ha="center", va="center", fontsize=8, color="red")
        axis.legend(fontsize=7)
    for axis in grid[::columns]:
        axis.set_ylabel("accuracy")
    figure.suptitle(f"{SET_NAME} test images, probability maps (random-init backbone, {len(seeds)} "
                    f"{plural('seed', len(seeds))})", fontsize=9)
    return figure, missing


def validation_table(folders: dict[str, dict[int, Path]]) -> str:
    """Markdown: each trained method's validation ECE per epoch (mean ± std over its seeds, in %), and
    how far it moved in the epochs after perturbed labels against the epochs after none, so that a
    reader can see whether a method's final calibration hangs on a few late perturbations."""
    import statistics

    from training.log import LOG_NAME
    from training.plots import read_log

    logs = {method: [read_log(folder / LOG_NAME) for folder in per_seed.values() if (folder / LOG_NAME).is_file()]
            for method, per_seed in folders.items()}
    logs = {method: runs for method, runs in logs.items() if runs}
    if not logs:
        return ""
    epochs = max(len(run["epoch"]) for runs in logs.values() for run in runs)

    def cell(values: list[float]) -> str:
        values = [100 * value for value in values]
        return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 \
            else f"{values[0]:.2f}" if values else "n/a"

    header = ["Method", *(str(epoch + 1) for epoch in range(epochs))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * epochs) + "|"]
    moves = []
    for method, runs in logs.items():
        by_epoch = [[run["val_ECE"][e] for run in runs if e < len(run["val_ECE"])] for e in range(epochs)]
        lines.append("| " + " | ".join([method, *map(cell, by_epoch)]) + " |")
        after, quiet = [], []  # |change of val ECE| from the epoch before, by whether the epoch perturbed labels
        for run in runs:
            perturbed = run.get("perturbed_labels", [0.0] * len(run["epoch"]))
            for e in range(1, len(run["val_ECE"])):
                (after if perturbed[e] > 0 else quiet).append(abs(run["val_ECE"][e] - run["val_ECE"][e - 1]))
        if after:
            moves.append(f"- {method}: in the {len(after)} run-epochs that drew perturbed labels the validation ECE "
                         f"moved {100 * statistics.fmean(after):.2f} points on average from the epoch before; in "
                         f"the {len(quiet)} others {100 * statistics.fmean(quiet):.2f}.")
    return ("Validation ECE (%) of the probability maps after each epoch, mean ± std over seeds:\n\n"
            + "\n".join(lines) + "\n\n" + "\n".join(moves) + ("\n" if moves else ""))


def report_study(study_dir: Path, folders: dict[str, dict[int, Path]], gt_dir: Path,
                 protocol: Protocol) -> list[Path]:
    """Draw `PLOT` into `study_dir`, warn about each run without maps and return the study's outputs
    that exist. Raises StudyError if no run has maps (then nothing is drawn)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure, missing = reliability_figure(folders, gt_dir, protocol)
    for line in missing:
        print(f"warning: {line}", file=sys.stderr)
    if len(missing) == sum(len(per_seed) for per_seed in folders.values()):
        raise StudyError(f"no run of the study has probability maps under {study_dir} (looked in "
                         f"{', '.join(str(f) for per_seed in folders.values() for f in per_seed.values())}); "
                         "did main_ASLP.py run its test stage?")
    FigureCanvasAgg(figure)
    with atomic.replacing(study_dir / PLOT) as temporary:
        figure.savefig(temporary, dpi=120)
    table = validation_table(folders)
    if table:
        atomic.write_text(study_dir / VALIDATION_TABLE, table)
    outputs = [study_dir / name for name in ("comparison.md", "report.html", "comparison.tex", "curves", PLOT,
                                             VALIDATION_PLOT, VALIDATION_TABLE)]
    runs = [folder for per_seed in folders.values() for folder in per_seed.values()]
    return [path for path in outputs + runs if path.exists()]
