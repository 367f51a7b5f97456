"""The real-image calibration study: several methods, several seeds, on PASCAL-S.

    python benchmarks/real_study.py             # full study: every method and post-hoc row x 3 seeds, 384 px (a GPU)
    python benchmarks/real_study.py --reduced   # what 2 CPU cores can run (about 3 h; resumable)
    python benchmarks/real_study.py --reduced --source=PATH/TO/PASCAL-S   # PASCAL-S kept elsewhere

The source folder (--source, default ../shared/data/PASCAL-S beside the repository) must hold
PASCAL-S's Image/ (the 850 photographs) and GT/ (their binary masks, <stem>.png). It is split once
into 600 training, 100 validation and 150 test images (lists committed in `Dataset/PASCAL-S-study/`)
and laid out as a data root (`data/pascal_s.py`); then `main_ASLP.py` trains and scores each method
once per seed (`--compare`, `--seeds`) and writes the mean ± std table (`comparison.md`, `.tex`),
`report.html` (every test image, the methods side by side) and the SOD curves beside the runs, under
the paper protocol with the probability maps' calibration beside it, and the validation calibration
of every trained run over its epochs (`validation_calibration.png`). Post-hoc rows (TS, LTS, SEL, ASLP+TS, ...) reuse a trained network:
they need no training. This script adds `reliability_study.png`: per method, accuracy against
confidence of every seed's probability maps, pooled over the test images; and
`validation_calibration.md`: each trained method's validation ECE per epoch over the seeds, and how far
it moved in the epochs that drew perturbed labels against the others.

ImageNet weights cannot be had on the machines this was written on, so the backbone starts from
random initialisation (`--pretrained_backbone=""`) with the demo's learning rate: not the paper's
setting, and said so wherever the numbers are shown.

The study asks how calibration holds up under shift (docs/shift.md). Beside the in-domain PASCAL-S
test images it scores SOD (--sod, a cross-dataset test set: other photographs, other annotators), the
DTD textures (--dtd, out-of-distribution: empty masks; the part of the authors' 500 the folder holds,
`Dataset/make_texture_set.py`) and the PASCAL-S test images under one corruption per family and two
that survive the reduced study's 64-px downscale (brightness, contrast), at severities 1 to 5
(`SHIFT`). Either folder absent: the study runs without that set and says so.
Every method runs with --seeds; the rows the question turns on (`MORE_SEEDS`: BCE, ASLP, TS, ASLP+TS)
also with --more-seeds, and they run first (`plans`): a sitting cut short leaves them whole. Only the
rows of --corrupted-methods are scored under the corruptions (--reduced: those four; the full study:
all). The study then tabulates all runs together: `comparison.md` (the clean sets), `shift.md` /
`shift.png` (report/shift.py), `shift_summary.md` (the README's table), `report.html` and
`validation_calibration.png`.

A study can be completed across several sittings: run the same command again. A plan whose every
run has scored every one of its sets is kept as it is (`plan_done`); in the others, trainings that
finished are reused (their final weights are kept), one that was interrupted continues from its last
checkpoint (main_ASLP.py's --resume, which the study always passes), and the post-hoc fits, the test
maps and the scores are redone. Arguments this script does not know go to main_ASLP.py (e.g.
--device=cuda).
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
import types  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import main_ASLP  # noqa: E402
from common.configurator import ConfigError  # noqa: E402
from common.errors import UserFacingError  # noqa: E402
from common.text import counted  # noqa: E402
from common.settings import Settings  # noqa: E402
from common.layout import EXPERIMENTS, experiment_dir  # noqa: E402
from common.methods import POST_HOC, TRAINED, post_hoc  # noqa: E402
from benchmarks.study_report import SET_NAME, SOD_NAME, StudyError, report_study, study_tables  # noqa: E402
from protocol import get_protocol  # noqa: E402


DEFAULT_SOURCE = PROJECT.parent / "shared" / "data" / "PASCAL-S"
SOURCE_FOLDERS = {"Image": "the 850 photographs", "GT": "their binary masks, <stem>.png"}
DEFAULT_SOD = PROJECT.parent / "shared" / "data" / "SOD"
DEFAULT_DTD = PROJECT.parent / "shared" / "data" / "DTD" / "Image"
# One corruption per family, each a few milliseconds a photo (glass_blur takes seconds: data/corruptions.py),
# at every severity, scored by every run: sensor noise, a lens out of focus, haze over the whole scene and
# the blocks of web compression. At the reduced study's 64 px the 7-fold downscale averages noise, blur and
# JPEG blocks away, so two corruptions that change a photo's global statistics, and so survive the
# downscale, stand beside them: brightness (weather) and contrast (digital). 30 corrupted copies of the
# 150 test photos; scoring them costs about half a training per run (under 3 min against 5 on 2 cores).
SHIFT = dict(corruptions="gaussian_noise,defocus_blur,fog,brightness,contrast,jpeg_compression",
             severities="1,2,3,4,5")
# The rows the question "when ASLP over TS?" turns on get two more seeds (five in all), and run first.
MORE_SEEDS = dict(more_seeds="4,5", more_seeds_methods="BCE,ASLP,TS,ASLP+TS")
FULL = dict(methods=",".join([*TRAINED, *POST_HOC, *(f"ASLP+{calibrator}" for calibrator in POST_HOC)]),
            seeds="1,2,3", size=384, epochs=30, feat_channel=256, corrupted_methods="all", **SHIFT, **MORE_SEEDS)
# On 2 CPU cores the whole study takes about three hours: 10 epochs (16 trainings of about 5 min), and
# only the rows the question turns on scored under the corruptions (the other seven rows x 3 seeds would
# add about an hour: 21 runs x 3 min of scoring the corrupted sets).
REDUCED = dict(methods="BCE,ASLP,SVLS,NACL,TS,LTS,SEL,SEL-context,ASLP+TS,ASLP+LTS,ASLP+SEL", seeds="1,2,3", size=64,
               epochs=10, feat_channel=32, corrupted_methods=MORE_SEEDS["more_seeds_methods"], **SHIFT, **MORE_SEEDS)


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


@dataclass(frozen=True)
class Plan:
    """One main_ASLP.py run of the study: these methods with these seeds, with or without the corrupted
    copies of PASCAL-S's test images."""

    methods: str
    seeds: str
    corrupted: bool


def study_command(args: argparse.Namespace, root: Path, extra: list[str], test_sets: tuple[str, ...] = (SET_NAME,),
                  plan: Plan | None = None) -> list[str]:
    """The main_ASLP.py invocation of the study (printed, so that it can be rerun by hand): the `plan`'s
    methods and seeds (default: the study's, corrupted) tested on `test_sets`, PASCAL-S's also under the
    corruptions where the plan is corrupted."""
    plan = plan or Plan(args.methods, args.seeds, corrupted=True)
    shift = ([f"--corrupted_sets={SET_NAME}", f"--corruptions={args.corruptions}", f"--severities={args.severities}"]
             if plan.corrupted and args.corruptions else [])
    return [
        sys.executable, "main_ASLP.py", f"--dataset_root={root}", f"--train_set={SET_NAME}",
        f"--test_datasets={','.join(test_sets)}", *shift, f"--compare={plan.methods}", f"--seeds={plan.seeds}",
        f"--experiment={args.experiment}", f"--train_size={args.size}", f"--test_size={args.size}",
        f"--feat_channel={args.feat_channel}", f"--epochs={args.epochs}", f"--lr={args.lr}",
        # Channels-last memory: the same numbers, a training step 1.4 and a test pass 2 times as fast on 2 CPU cores.
        "--pretrained_backbone=", f"--num_workers={args.num_workers}", "--channels_last=True", "--resume", *extra,
    ]


def plans(args: argparse.Namespace) -> list[Plan]:
    """The main_ASLP.py runs of the study, in order: the rows that get more seeds (`--more-seeds-methods`)
    with those seeds, then with the study's seeds; then the other rows, post-hoc ones first (they need
    no training); each group split by whether its rows are scored under the corruptions
    (`--corrupted-methods`). So the rows the question turns on are complete first, the cheap rows next,
    and a sitting cut short leaves whole rows."""
    methods = args.methods.split(",")
    first = [m for m in (args.more_seeds_methods or "").split(",") if m in methods]
    rest = [m for m in methods if m not in first]
    corrupted = set(methods) if args.corrupted_methods == "all" else set(args.corrupted_methods.split(","))
    groups = [(first, args.more_seeds)] if args.more_seeds and first else []
    groups += [(first, args.seeds), ([m for m in rest if post_hoc(m)], args.seeds),
               ([m for m in rest if not post_hoc(m)], args.seeds)]
    return [Plan(",".join(part), seeds, flag) for rows, seeds in groups
            for flag in (True, False) if (part := [m for m in rows if (m in corrupted) == flag])]


def plan_done(folders: dict[str, dict[int, Path]], test_sets: list[str]) -> bool:
    """Whether every run of a plan (`folders`: method -> seed -> run folder) has scored every one of
    `test_sets`: then a later sitting skips the plan instead of testing and scoring it again."""
    import json

    for per_seed in folders.values():
        for folder in per_seed.values():
            results = folder / "results.json"
            if not results.is_file() or not set(test_sets) <= set(json.loads(results.read_text())):
                return False
    return True


def lay_out_test_sets(root: Path, sod: Path, dtd: Path) -> tuple[str, ...]:
    """Beside PASCAL-S's test images: SOD linked from `sod` and the texture set built from `dtd` into
    `root`/Test (each kept once there), as far as the folders exist; returns the test sets' names."""
    from data.pascal_s import link_test_set

    sets = [SET_NAME]
    if (sod / "Image").is_dir() and (sod / "GT").is_dir():
        link_test_set(sod, root / "Test" / SOD_NAME)
        sets.append(SOD_NAME)
    else:
        print(f"note: no SOD at {sod} (Image/ and GT/): the study runs without its cross-dataset set; set --sod=PATH")
    if dtd.is_dir():
        sets.append(texture_script().build_texture_set(dtd, root / "Test").name)
    else:
        print(f"note: no DTD images at {dtd}: the study runs without its texture set; set --dtd=PATH")
    return tuple(sets)


def texture_script() -> types.ModuleType:
    """Dataset/make_texture_set.py as a module (loaded by its path: Dataset/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_texture_set", PROJECT / "Dataset" / "make_texture_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_folders(cwd: Path, experiment: str, methods: list[str], seeds: list[int],
                aslp_mode: str) -> dict[str, dict[int, Path]]:
    """method -> seed -> the folder main_ASLP.py, run in `cwd`, writes that run into (a study always
    compares, so with one seed experiments/<experiment>/<method>/, with several .../seed<s>/<method>/)."""
    several = len(seeds) > 1
    return {method: {seed: cwd / experiment_dir(experiment, method, aslp_mode, comparing=True,
                                               seed=seed if several else None)
                     for seed in seeds} for method in methods}


def run_plans(args: argparse.Namespace, root: Path, extra: list[str], settings: list[Settings]) -> int:
    """Lay out the data under `root` and run each plan not done in an earlier sitting; 0, or the status
    of the first that failed (2 for a source that lacks images of the split)."""
    from data.pascal_s import lay_out

    try:  # checks that the source holds every image of the split before it creates anything
        lay_out(args.source, root)
        test_sets = lay_out_test_sets(root, args.sod, args.dtd)
    except UserFacingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for plan, done in zip(plans(args), settings, strict=True):
        command = study_command(args, root.relative_to(PROJECT), extra, test_sets, plan)
        planned = run_folders(PROJECT, done.run.experiment, done.run.methods, done.run.seeds, done.aslp.aslp_mode)
        scored = [*test_sets, *(s.name for s in done.shift.sets((SET_NAME,)))] if plan.corrupted else [*test_sets]
        if plan_done(planned, scored):
            print(f"Done in an earlier sitting, kept: {plan.methods} with seeds {plan.seeds} (delete their "
                  "results.json to score them again)")
            continue
        print("Running:", shlex.join(command[1:]),
              f"\n(on {platform.node()}, {platform.processor() or platform.machine()})")
        status = run_child(command, cwd=PROJECT)  # an interrupted child has said so: its 130 ends the study quietly
        if status != 0:
            return status
    return 0


def finished_runs(folders: dict[str, dict[int, Path]]) -> tuple[dict[str, dict[int, Path]], list[str]]:
    """The runs of `folders` that scored their sets (results.json), and the others named ("TS seed 2").
    A run not finished (still training, or cut short) would put part of a training into the validation
    table and a run without maps into the figures: only the finished ones are tabulated."""
    finished = {method: done for method, per_seed in folders.items()
                if (done := {seed: f for seed, f in per_seed.items() if (f / "results.json").is_file()})}
    unfinished = [f"{method} seed {seed}" for method, per_seed in folders.items() for seed in per_seed
                  if seed not in finished.get(method, {})]
    return finished, unfinished


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
    parser.add_argument("--sod", type=Path, default=DEFAULT_SOD, help=f"the SOD folder, Image/ and GT/ (default "
                        f"{DEFAULT_SOD}; absent: no cross-dataset set)")
    parser.add_argument("--dtd", type=Path, default=DEFAULT_DTD, help=f"DTD images, flat or images/<category>/ (default "
                        f"{DEFAULT_DTD}; absent: no texture set)")
    parser.add_argument("--experiment", default="real_study", help="runs go to experiments/<experiment>/<method>/ "
                        "(one seed) or experiments/<experiment>/seed<s>/<method>/ (several)")
    parser.add_argument("--methods", help=f"default {FULL['methods']}")
    parser.add_argument("--seeds", help=f"default {FULL['seeds']}")
    parser.add_argument("--more-seeds", help=f"seeds also run for --more-seeds-methods, default {FULL['more_seeds']} "
                        "('' for none)")
    parser.add_argument("--more-seeds-methods", help=f"default {FULL['more_seeds_methods']}")
    parser.add_argument("--corruptions", help=f"of the PASCAL-S test images, default {FULL['corruptions']} ('' for "
                        "none)")
    parser.add_argument("--severities", help=f"default {FULL['severities']}")
    parser.add_argument("--corrupted-methods", help="the rows scored under the corruptions, or 'all' (default "
                        f"{FULL['corrupted_methods']}; --reduced: {REDUCED['corrupted_methods']})")
    parser.add_argument("--size", type=int, help=f"train and test resolution, default {FULL['size']}")
    parser.add_argument("--epochs", type=int, help=f"default {FULL['epochs']}")
    parser.add_argument("--feat-channel", type=int, help=f"decoder channels, default {FULL['feat_channel']}")
    parser.add_argument("--lr", type=float, default=5e-4,
                        help="Adam learning rate (the demo's, for a random-init backbone)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader processes")
    parser.add_argument("--tables-only", action="store_true", help="run nothing: tabulate and draw the runs that "
                        "have finished so far (a study cut short; its tables say how many seeds each row has)")
    args, extra = parser.parse_known_args(argv)  # the rest goes to main_ASLP.py, e.g. --device=cuda
    problem = source_problem(args.source)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for key, value in (REDUCED if args.reduced else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = set(args.corrupted_methods.split(",")) - set(args.methods.split(",")) - {"all"}
    if unknown:
        print(f"error: --corrupted-methods names {', '.join(sorted(unknown))}, not among --methods ({args.methods})",
              file=sys.stderr)
        return 2

    study_dir = PROJECT / EXPERIMENTS / args.experiment
    root = study_dir / "data"
    commands = [study_command(args, root.relative_to(PROJECT), extra, (SET_NAME,), plan) for plan in plans(args)]
    try:  # main_ASLP.py's own check of the command lines, before the data is laid out
        settings = [main_ASLP.configure(command[2:], announce=False) for command in commands]
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not settings[-1].run.comparing:
        print("error: a study compares runs: give two or more --methods or --seeds", file=sys.stderr)
        return 2
    if len(settings) > 1 and any(len(done.run.seeds) == 1 for done in settings):
        # main_ASLP.py writes a run of one seed to <method>/, of several to seed<s>/<method>/: two runs would mix
        print("error: with --more-seeds, give --seeds and --more-seeds two or more seeds each (or --more-seeds= "
              "for none)", file=sys.stderr)
        return 2
    started = time.monotonic()
    if not args.tables_only:
        status = run_plans(args, root, extra, settings)
        if status != 0:
            return status
    folders: dict[str, dict[int, Path]] = {}
    for done in settings:
        for method, per_seed in run_folders(PROJECT, done.run.experiment, done.run.methods, done.run.seeds,
                                            done.aslp.aslp_mode).items():
            folders.setdefault(method, {}).update(per_seed)
    finished, unfinished = finished_runs(folders)
    if not finished:
        print(f"error: no run of the study under {study_dir} has finished (none has results.json)", file=sys.stderr)
        return 1
    if unfinished:
        print(f"note: {counted(len(unfinished), 'run')} not finished, left out of the tables and figures: "
              f"{', '.join(unfinished)}")
    protocol = get_protocol(settings[-1].evaluation.protocol)
    try:
        tables = study_tables(study_dir, finished, protocol)
        outputs = report_study(study_dir, finished, root / "Test" / SET_NAME / "GT", protocol)
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"\nStudy done in {(time.monotonic() - started) / 60:.1f} min:\n  "
          + "\n  ".join(map(str, dict.fromkeys([*tables, *outputs]))))
    return 0


if __name__ == "__main__":
    command_main(lambda: main(sys.argv[1:]))
