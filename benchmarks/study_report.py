"""The study's own outputs beside main_ASLP.py's: the tables of all its runs together (comparison and
shift), the reliability figure of every method's probability maps over the seeds, and the validation
calibration table (benchmarks/real_study.py runs the study; this draws and tabulates it)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from common import atomic
from common.layout import VALIDATION_PLOT, map_folders
from common.text import plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from protocol import Protocol

SET_NAME = "PASCAL-S"  # as data.pascal_s lays it out (a test keeps the two equal)
PLOT = "reliability_study.png"
PANELS_PER_ROW = 4  # a study of eleven rows still fits a page
VALIDATION_TABLE = "validation_calibration.md"


class StudyError(RuntimeError):
    """The study found nothing to show."""


def study_tables(study_dir: Path, folders: dict[str, dict[int, Path]], protocol: Protocol) -> list[Path]:
    """The comparison (clean sets) and the shift table and figure of every run of the study that has
    results.json, all plans together (each main_ASLP.py run tabulated only its own); their paths."""
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
    if write_shift(runs, study_dir, protocol.name) is not None:
        written += [study_dir / "shift.md", study_dir / "shift.png"]
    return written


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
    missing = []
    for axis, (method, per_seed) in zip(axes, folders.items(), strict=True):
        absent = []
        for seed, folder in per_seed.items():
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
            axis.plot(stats.confidence[filled], stats.accuracy[filled], "o-", ms=3, label=f"seed {seed}")
        axis.plot([0.5, 1], [0.5, 1], "k--", lw=0.8, label="calibrated")
        axis.set(title=method, xlabel="confidence", xlim=(0.5, 1), ylim=(0.3, 1))
        if absent:
            text = ("no probability maps found" if len(absent) == len(per_seed)
                    else f"no probability maps for seed {', '.join(map(str, absent))}")
            axis.text(0.5, 0.5, text, transform=axis.transAxes, ha="center", va="center", fontsize=8, color="red")
        axis.legend(fontsize=7)
    for axis in grid[::columns]:
        axis.set_ylabel("accuracy")
    seeds = sorted({seed for per_seed in folders.values() for seed in per_seed})
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
