"""The real-image calibration study: several methods, several seeds, on PASCAL-S.

    python benchmarks/real_study.py             # full study: every method and post-hoc row x 3 seeds, 384 px (a GPU)
    python benchmarks/real_study.py --reduced   # what fits 2 CPU cores: 4 trained methods, 7 post-hoc rows, 3 seeds
    python benchmarks/real_study.py --reduced --source=PATH/TO/PASCAL-S   # PASCAL-S kept elsewhere

The source folder (--source, default ../shared/data/PASCAL-S beside the repository) must hold
PASCAL-S's Image/ (the 850 photographs) and GT/ (their binary masks, <stem>.png). It is split once
into 600 training, 100 validation and 150 test images (lists committed in `Dataset/PASCAL-S-study/`)
and laid out as a data root (`data/pascal_s.py`); then `main_ASLP.py` trains and scores each method
once per seed (`--compare`, `--seeds`) and writes the mean ± std table (`comparison.md`, `.tex`) and
the SOD curves beside the runs, under the paper protocol with the probability maps' calibration
beside it, and the validation calibration of every trained run over its epochs
(`validation_calibration.png`). Post-hoc rows (TS, LTS, SEL, ASLP+TS, ...) reuse a trained network:
they need no training. This script adds `reliability_study.png`: per method, accuracy against
confidence of every seed's probability maps, pooled over the test images; and
`validation_calibration.md`: each trained method's validation ECE per epoch over the seeds, and how far
it moved in the epochs that drew perturbed labels against the others.

ImageNet weights cannot be had on the machines this was written on, so the backbone starts from
random initialisation (`--pretrained_backbone=""`) with the demo's learning rate: not the paper's
setting, and said so wherever the numbers are shown.

A study can be completed across several sittings: run the same command again. Trainings that
finished are reused (their final weights are kept), one that was interrupted continues from its last
checkpoint (main_ASLP.py's --resume, which the study always passes), and only the post-hoc fits,
the test maps and the scores are redone. Arguments this script does not know go to main_ASLP.py
(e.g. --device=cuda).
"""
from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from common.interrupts import command_main, run_child, run_command, start_command  # noqa: E402

if __name__ == "__main__":
    start_command("interrupted")  # Ctrl-C while the modules load: one line, status 130

# Light modules only at the top, so that --help answers at once; the plotting and reading ones are
# imported where they are used.
import argparse  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import main_ASLP  # noqa: E402
from common import atomic  # noqa: E402
from common.layout import EXPERIMENTS, VALIDATION_PLOT, experiment_dir, map_folders  # noqa: E402
from common.methods import POST_HOC, TRAINED  # noqa: E402
from common.text import plural  # noqa: E402
from protocol import Protocol, get_protocol  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SET_NAME = "PASCAL-S"  # as data.pascal_s lays it out (a test keeps the two equal)

DEFAULT_SOURCE = PROJECT.parent / "shared" / "data" / "PASCAL-S"
SOURCE_FOLDERS = {"Image": "the 850 photographs", "GT": "their binary masks, <stem>.png"}
FULL = dict(methods=",".join([*TRAINED, *POST_HOC, *(f"ASLP+{calibrator}" for calibrator in POST_HOC)]),
            seeds="1,2,3", size=384, epochs=30, feat_channel=256)
REDUCED = dict(methods="BCE,ASLP,SVLS,NACL,TS,LTS,SEL,SEL-context,ASLP+TS,ASLP+LTS,ASLP+SEL", seeds="1,2,3", size=64,
               epochs=16, feat_channel=32)
PLOT = "reliability_study.png"
PANELS_PER_ROW = 4  # a study of eleven rows still fits a page
VALIDATION_TABLE = "validation_calibration.md"


class StudyError(RuntimeError):
    """The study found nothing to show."""


def source_problem(source: Path) -> str | None:
    """Why `source` is not a PASCAL-S folder (naming what it must hold and --source), or None if it is."""
    missing = [name for name in SOURCE_FOLDERS if not (source / name).is_dir()]
    if not missing:
        return None
    needed = " and ".join(f"{name}/ ({what})" for name, what in SOURCE_FOLDERS.items())
    # Naming what is there instead helps with another layout (images/ and masks/, a nested folder).
    held = sorted(f"{p.name}/" if p.is_dir() else p.name for p in source.iterdir()) if source.is_dir() else []
    there = f"; it holds {', '.join(held[:8])}{', ...' if len(held) > 8 else ''}" if held else ""
    return (f"PASCAL-S not found at {source} (no {' or '.join(m + '/' for m in missing)} there{there}): the source "
            f"folder must hold {needed}; set it with --source=PATH")


def study_command(args: argparse.Namespace, root: Path, extra: list[str]) -> list[str]:
    """The main_ASLP.py invocation of the study (printed, so that it can be rerun by hand)."""
    return [
        sys.executable, "main_ASLP.py", f"--dataset_root={root}", f"--train_set={SET_NAME}",
        f"--test_datasets={SET_NAME}", f"--compare={args.methods}", f"--seeds={args.seeds}",
        f"--experiment={args.experiment}", f"--train_size={args.size}", f"--test_size={args.size}",
        f"--feat_channel={args.feat_channel}", f"--epochs={args.epochs}", f"--lr={args.lr}",
        "--pretrained_backbone=", f"--num_workers={args.num_workers}", "--resume", *extra,
    ]


def run_folders(cwd: Path, experiment: str, methods: list[str], seeds: list[int],
                aslp_mode: str) -> dict[str, dict[int, Path]]:
    """method -> seed -> the folder main_ASLP.py, run in `cwd`, writes that run into (a study always
    compares, so with one seed experiments/<experiment>/<method>/, with several .../seed<s>/<method>/)."""
    several = len(seeds) > 1
    return {method: {seed: cwd / experiment_dir(experiment, method, aslp_mode, comparing=True,
                                               seed=seed if several else None)
                     for seed in seeds} for method in methods}


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

    from train_plots import LOG_NAME, read_log

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
    outputs = [study_dir / name for name in ("comparison.md", "comparison.tex", "curves", PLOT, VALIDATION_PLOT,
                                             VALIDATION_TABLE)]
    runs = [folder for per_seed in folders.values() for folder in per_seed.values()]
    return [path for path in outputs + runs if path.exists()]


def main(argv: list[str]) -> int:
    """The study as a command (common/interrupts.py): one `error:` line, one Ctrl-C line (the training
    child's, when it runs), or none for a closed pipe."""
    return run_command(lambda: study(argv), interrupted="interrupted: run the same command again to continue the "
                                                        "study (finished runs are kept)")


def study(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reduced", action="store_true",
                        help="the CPU study: " + ", ".join(f"{k}={v}" for k, v in REDUCED.items()))
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the PASCAL-S folder; it must hold "
                        + " and ".join(f"{name}/ ({what})" for name, what in SOURCE_FOLDERS.items())
                        + f" (default {DEFAULT_SOURCE})")
    parser.add_argument("--experiment", default="real_study", help="runs go to experiments/<experiment>/<method>/ "
                        "(one seed) or experiments/<experiment>/seed<s>/<method>/ (several)")
    parser.add_argument("--methods", help=f"default {FULL['methods']}")
    parser.add_argument("--seeds", help=f"default {FULL['seeds']}")
    parser.add_argument("--size", type=int, help=f"train and test resolution, default {FULL['size']}")
    parser.add_argument("--epochs", type=int, help=f"default {FULL['epochs']}")
    parser.add_argument("--feat-channel", type=int, help=f"decoder channels, default {FULL['feat_channel']}")
    parser.add_argument("--lr", type=float, default=5e-4,
                        help="Adam learning rate (the demo's, for a random-init backbone)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader processes")
    args, extra = parser.parse_known_args(argv)  # the rest goes to main_ASLP.py, e.g. --device=cuda
    problem = source_problem(args.source)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for key, value in (REDUCED if args.reduced else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    study_dir = PROJECT / EXPERIMENTS / args.experiment
    root = study_dir / "data"
    command = study_command(args, root.relative_to(PROJECT), extra)
    settings = main_ASLP.configure(command[2:], announce=False)  # main_ASLP.py's check, before the data is laid out
    methods, seeds = settings.run.methods, settings.run.seeds
    if not settings.run.comparing:
        print("error: a study compares runs: give two or more --methods or --seeds", file=sys.stderr)
        return 2
    from data.pascal_s import lay_out

    lay_out(args.source, root)  # checks that the source holds every image of the split before it creates anything
    print("Running:", shlex.join(command[1:]),
          f"\n(on {platform.node()}, {platform.processor() or platform.machine()})")
    started = time.monotonic()
    status = run_child(command, cwd=PROJECT)  # an interrupted child has said so: its 130 ends the study quietly
    if status != 0:
        return status
    folders = run_folders(PROJECT, settings.run.experiment, methods, seeds, settings.aslp.aslp_mode)
    try:
        outputs = report_study(study_dir, folders, root / "Test" / SET_NAME / "GT",
                               get_protocol(settings.evaluation.protocol))
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"\nStudy done in {(time.monotonic() - started) / 60:.1f} min:\n  " + "\n  ".join(map(str, outputs)))
    return 0


if __name__ == "__main__":
    command_main(lambda: main(sys.argv[1:]))
