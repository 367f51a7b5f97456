"""The stages main_ASLP.py runs, one function each: prepare (check everything, pick the device, split
the training set), train a network, write its test maps, score them, and compare the runs.

`prepare` does every check that can fail before the first epoch: the perturbation actually happens,
every tested method has a network, no earlier run would be mixed into, each input folder and test set
is usable and each output folder writable. The other stages then only work. Under DDP (torchrun)
every process trains; only the first tests, scores and writes the tables.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from calibrators import fit_calibrator
from common.configurator import ConfigError
from data.corruptions import ShiftedSet, count_note, describe, parse_shifted
from data.datasets import check_test_set, pair_split
from data.demo import make_demo_dataset
from data.files import require_folder, require_writable_folder
from data.loaders import inference_loader, training_loader, usable_workers
from data.shift_sets import write_shifted_sets
from data.split import read_or_draw_split, save_split
from common.distributed import Context, barrier, setup, teardown
from evaluate import evaluate_datasets
from common.layout import (VALIDATION_PLOT, comparison_dir, experiment_dir, experiment_root, final_weights_name,
                           map_folders, previous_run)
from common.lock import folder_lock
from loss import build_objective, inert_reason, training_note
from common.methods import network_method, post_hoc
from common.text import counted
from model import build_model, load_weights
from model.checkpoint import check_recorded_method
from predict import Inference, write_predictions
from protocol import Protocol, get_protocol
from report.comparison import write_comparison
from report.curves import save_run_curves
from report.html import render_run_page, write_comparison_page
from report.shift import write_shift
from common.settings import Settings
from common.text import counted
from training.checkpoint import run_record, seed_everything
from training.loop import TrainingRun, train
from training.plots import plot_validation_calibration
from training.validation import ValidationPass

README_DATA = "see 'Data' in README.md, or run with --demo for the built-in synthetic data"

Pairs = list[tuple[str, Path, Path]]


@dataclass
class Run:
    """One invocation of main_ASLP.py: its settings, device, data split, and the results so far."""

    settings: Settings
    context: Context
    inference: Inference
    protocol: Protocol
    workers: int
    trained: list[str]  # the methods this invocation trains: those listed, and networks post-hoc rows need
    train_pairs: Pairs = field(default_factory=list)
    val_pairs: Pairs = field(default_factory=list)
    val_loader: DataLoader | None = None  # this process's shard of the validation images
    results: dict[str, dict[int, dict]] = field(default_factory=dict)  # method -> seed -> results.json
    curves: dict[str, dict[int, dict]] = field(default_factory=dict)  # method -> seed -> curves.json
    shifted: list[ShiftedSet] = field(default_factory=list)  # the corrupted copies of the test sets

    @property
    def root(self) -> Path:
        return Path(self.settings.data.dataset_root)

    @property
    def test_sets(self) -> list[str]:
        """The test sets, then their corrupted copies: every set tested and scored."""
        return [*self.settings.data.test_datasets, *(shifted.name for shifted in self.shifted)]

    def folder(self, method: str, seed: int) -> Path:
        """The run folder of `method` with `seed` (`layout.experiment_dir`)."""
        run = self.settings.run
        return experiment_dir(run.experiment, method, self.settings.aslp.aslp_mode, run.comparing,
                              seed if len(run.seeds) > 1 else None)

    def weights(self, method: str, seed: int) -> Path:
        """The network `method` is tested with: --weights, or the final weights of its network's run."""
        if self.settings.run.weights:
            return Path(self.settings.run.weights)
        return self.folder(network_method(method), seed) / final_weights_name(self.settings.optimisation.epochs)

    def kept(self, method: str, seed: int) -> bool:
        """Whether a comparison keeps the network of `method` it finds, rather than training it again."""
        return self.settings.run.comparing and self.weights(method, seed).is_file() and not self.settings.run.resume


    @property
    def order(self) -> list[str]:
        """Every method this invocation handles, networks first: a post-hoc method needs its network
        trained before it is fitted."""
        methods = dict.fromkeys([*self.trained, *self.settings.run.methods])
        return sorted(methods, key=lambda method: post_hoc(method) is not None)

    def reports(self, method: str) -> bool:
        """Whether `method` is tested and scored here: those listed are, on the first process; a network
        trained only because a post-hoc row needs it is not."""
        return self.context.is_main and method in self.settings.run.methods


def _add_needed_networks(run: Run) -> None:
    """Train, first, the network of each post-hoc row that is neither listed nor there yet, and say so."""
    for method in run.settings.run.methods:
        base = network_method(method)
        missing = [seed for seed in run.settings.run.seeds if not run.weights(method, seed).is_file()]
        if base != method and base not in run.trained and missing:
            run.trained.append(base)
            if run.context.is_main:
                print(f"{method} calibrates the {base} network, which --compare does not list and "
                      f"{run.folder(base, missing[0])} does not hold yet: training it first (its maps are not "
                      "tested or scored; list it to see its row)")


def _check_perturbation(settings: Settings, methods: list[str]) -> None:
    """A perturbation method whose perturbation never happens would train plain BCE and print a row
    equal to BCE's: refuse it, saying why and how to fix it."""
    for method in methods:
        reason = inert_reason(method, settings.aslp, settings.baselines, settings.optimisation.epochs)
        if reason:
            raise ConfigError(f"{method} would train exactly as BCE: {reason}")
        note = training_note(method, settings.aslp, settings.baselines, settings.optimisation.epochs)
        if note:
            print(f"Note on {method}: {note}")


def _check_networks(run: Run) -> None:
    """Every method tested needs a network: --weights, one trained by this invocation, or the final
    weights of an earlier run of its network's method. Say which is missing before any work."""
    settings = run.settings
    if settings.run.weights or "test" not in settings.run.stages:
        return
    for seed in settings.run.seeds:
        for method in settings.run.methods:
            base = network_method(method)
            if base in run.trained or run.weights(method, seed).is_file():
                continue
            what = f"{method} calibrates the {base} network" if base != method else f"{method} is not trained by this run"
            raise ConfigError(f"{what}, and none exists in {run.folder(base, seed)}: run the train stage too (it "
                              f"trains {base} first), train it with --stages=train, or pass --weights=FILE")


def _check_fresh_outputs(run: Run, out_dirs: list[Path]) -> None:
    """A run that is not a --resume must not write into a folder holding an earlier training run: the
    files would mix (a new Model_1_Gen.pth beside an old Model_20_Gen.pth, results overwritten). When
    comparing, a method whose final weights exist is kept, not retrained: that continues a comparison."""
    settings = run.settings.run
    if settings.resume:
        return
    final = final_weights_name(run.settings.optimisation.epochs)
    for out_dir in out_dirs:
        earlier = previous_run(out_dir)
        continued = settings.comparing and (out_dir / final).is_file()
        own_weights = bool(settings.weights) and Path(settings.weights).resolve().parent == out_dir.resolve()
        if earlier and ((run.trained and not continued) or (settings.weights and not own_weights)):
            raise ConfigError(f"{out_dir} already holds an earlier run ({', '.join(p.name for p in earlier)}) that "
                              f"this run would mix its files with; write elsewhere with --experiment=NEW_NAME, "
                              f"continue that run with --resume, or delete {out_dir}")


@contextmanager
def prepared(settings: Settings) -> Iterator[Run]:
    """`prepare` the run, holding its experiment folders' locks until it ends, and leave torchrun's
    process group when it ends, however it ends."""
    try:
        with ExitStack() as locks:
            yield prepare(settings, locks)
    finally:
        teardown()


def prepare(settings: Settings, locks: ExitStack) -> Run:
    """Check every input and output, pick the device (joining torchrun's process group) and split the
    training set, before any epoch; returns the run the other stages share. The first process takes the
    lock of each experiment folder the run writes into (`common.lock`), held by `locks`, before it reads
    or writes any of them: a second run into the same folder stops at once."""
    stages, methods = settings.run.stages, settings.run.methods
    training = "train" in stages and not settings.run.weights
    trained = [m for m in methods if post_hoc(m) is None] if training else []
    calibrated = [m for m in methods if post_hoc(m) is not None] if "test" in stages else []
    if settings.run.weights:  # read it now, not at the test stage: a file that is no checkpoint of this network stops here
        load_weights(build_model(settings.model.feat_channel), settings.run.weights)
        check_recorded_method(settings.run.weights, settings.run.methods)
    context = setup(settings.run.device)
    data = settings.data
    workers = usable_workers(data.num_workers)
    if workers < data.num_workers and context.is_main:
        print(f"NUM_WORKERS={data.num_workers} but this machine has {workers} core(s): using {workers} DataLoader "
              "process(es)")
    inference = Inference(context.device, data.test_size, data.test_batch_size, workers, settings.speed.amp,
                          settings.speed.channels_last)
    run = Run(settings, context, inference, get_protocol(settings.evaluation.protocol), workers, trained)
    if training:
        _add_needed_networks(run)
    _check_perturbation(settings, run.trained)
    _check_networks(run)
    out_dirs = [run.folder(method, seed) for seed in settings.run.seeds for method in run.order]
    if context.is_main:
        for root in dict.fromkeys(experiment_root(out_dir) for out_dir in out_dirs):
            require_writable_folder(root)  # a file in the way, a read-only disk: one line naming it
            locks.enter_context(folder_lock(root))
    _check_fresh_outputs(run, out_dirs)
    if settings.run.demo and context.is_main:
        make_demo_dataset(run.root, seed=settings.run.seeds[0])
    barrier()

    image_dir, mask_dir = run.root / "Train" / data.train_set / "Image", run.root / "Train" / data.train_set / "GT"
    if trained or calibrated:
        for folder in (image_dir, mask_dir):
            require_folder(folder, hint=README_DATA)
    if context.is_main:
        for name in data.test_datasets if {"test", "eval"} & set(stages) else ():
            check_test_set(run.root / "Test" / name, needs_images="test" in stages, needs_masks="eval" in stages,
                           hint=README_DATA)
        for out_dir in out_dirs:
            require_writable_folder(out_dir)
    run.shifted = settings.shift.sets(data.test_datasets)
    if run.shifted and context.is_main and {"test", "eval"} & set(stages):
        _prepare_shifted(run)
    seed_everything(settings.run.seeds[0] + context.rank)
    if context.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if trained or calibrated:
        _split(run, image_dir, mask_dir)
    return run


def _prepare_shifted(run: Run) -> None:
    """Write the corrupted test sets the test stage needs and the root lacks (once: later runs reuse
    them), or, to score only, check that they are there."""
    shift = run.settings.shift
    print(f"Calibration under shift: {', '.join(dict.fromkeys(s.source for s in run.shifted))} also under "
          f"{count_note(shift.names, tuple(dict.fromkeys(s.severity for s in run.shifted)))} "
          f"({describe(shift.names)})")
    if "test" in run.settings.run.stages:
        written = write_shifted_sets(run.root / "Test", run.shifted)
        if written:
            print(f"Wrote {counted(len(written), 'corrupted test set')} to {run.root / 'Test'}")
        return
    for shifted in run.shifted:
        check_test_set(run.root / "Test" / shifted.name, needs_images=False, needs_masks=True,
                       hint="the test stage writes it: run --stages=test,eval")


def _split(run: Run, image_dir: Path, mask_dir: Path) -> None:
    """The training and validation pairs of TRAIN_SET, and this process's validation loader. A split
    drawn now is written only once its pairs pass the checks: lists left by a run that stopped on a
    bad mask would fix the next run's split."""
    data, context = run.settings.data, run.context
    list_dir, seed = Path(data.split_dir or data.dataset_root), run.settings.run.seeds[0]
    split = read_or_draw_split(list_dir, image_dir, data.validation_size, seed, data.train_set,
                               report=context.is_main)
    barrier()  # every process has its split (all draw the same one) before the main one writes lists
    run.train_pairs, run.val_pairs = pair_split(image_dir, mask_dir, split.train, split.validation,
                                                report=context.is_main,
                                                lists=split.files if split.drawn_with is None else None)
    if context.is_main:
        save_split(split)
    barrier()
    run.val_loader = inference_loader(
        [p for _, p, _ in run.val_pairs], data.test_size, data.test_batch_size, run.workers,
        context.device.type == "cuda", [m for _, _, m in run.val_pairs], context.rank, context.world_size)


def train_network(run: Run, method: str, seed: int) -> None:
    """Train `method` with `seed` into its run folder (every DDP process), unless a comparison finds its
    network there already."""
    settings, context, device = run.settings, run.context, run.context.device
    out_dir = run.folder(method, seed)
    if run.kept(method, seed):
        if context.is_main:
            print(f"{method}: {run.weights(method, seed)} exists, so {method} is not retrained (this continues the "
                  f"comparison; delete {out_dir} to retrain it)")
        return
    seed_everything(seed + context.rank)
    network = build_model(settings.model.feat_channel, settings.model.pretrained_backbone, device)
    loader = training_loader(run.train_pairs, settings.data.train_size, settings.optimisation.batch_size,
                             run.workers, device.type == "cuda", seed, context.rank, context.world_size)
    generator = torch.Generator(device).manual_seed(seed + context.rank)
    objective = build_objective(method, settings.aslp, settings.baselines, num_images=len(run.train_pairs),
                                generator=generator, device=device)
    if context.is_main:
        batch = settings.optimisation.batch_size
        epochs, images = settings.optimisation.epochs, len(run.train_pairs)
        print(f"Training {method} (seed {seed}) on {counted(images, 'image')} ({len(run.val_pairs)} "
              f"for validation), {counted(epochs, 'epoch')} at {settings.data.train_size}px on "
              f"{context.world_size} x {device.type}: batch {batch} per process, {batch * context.world_size} "
              f"effective -> {out_dir}")
    record = run_record({**settings.constants(), "SEED": seed}, method)
    training = TrainingRun(out_dir, run.inference, seed, generator, record, [s for s, _, _ in run.train_pairs],
                           settings.run.resume)
    validation = ValidationPass(run.val_loader, run.protocol, settings.evaluation.n_bins,
                                settings.evaluation.boundary_width)
    weights = train(network, objective, loader, validation, training, settings.optimisation, settings.speed)
    if context.is_main:
        print(f"Saved {weights}")


def write_test_maps(run: Run, method: str, seed: int) -> None:
    """The protocol's maps of every test set from `method`'s network; a post-hoc method first fits its
    calibrator on the validation split."""
    settings, inference = run.settings, run.inference
    out_dir, weights = run.folder(method, seed), run.weights(method, seed)
    network = load_weights(build_model(settings.model.feat_channel, device=inference.device), weights)
    temperature = None
    calibrator = post_hoc(method)
    if calibrator is not None:
        loader = inference_loader([p for _, p, _ in run.val_pairs], inference.size, inference.batch_size,
                                  inference.num_workers, inference.device.type == "cuda",
                                  [m for _, _, m in run.val_pairs])
        temperature = fit_calibrator(calibrator, network, loader, inference, settings.post_hoc, seed, out_dir, weights)
    for name in run.test_sets:
        count = write_predictions(network, run.root / "Test" / name / "Image", out_dir, name, run.protocol,
                                  inference, temperature, {"network": str(weights), "calibrator": calibrator,
                                                           "command": ["python", *sys.argv]})
        print(f"Wrote {counted(count, 'map')} of {name} to {out_dir}")


def score_test_maps(run: Run, method: str, seed: int) -> None:
    """Score `method`'s maps on disk against the test masks; keep the results for the comparison."""
    settings, protocol = run.settings, run.protocol
    out_dir = run.folder(method, seed)
    print(f"Evaluating {method} ({out_dir}, {protocol.name} protocol)")
    test_root, probability_root = map_folders(out_dir, protocol)
    separate = probability_root != test_root
    if separate and not probability_root.is_dir():
        print(f"Note: {probability_root} is missing, so the '{probability_root.name}' columns (the probability "
              f"maps' calibration under the {protocol.name} protocol) are n/a; the test stage writes them: run "
              "--stages=test,eval")
    run.results.setdefault(method, {})[seed] = evaluate_datasets(
        test_root, run.root / "Test", run.test_sets, out_dir, protocol=protocol,
        workers=settings.speed.eval_workers or None, n_bins=settings.evaluation.n_bins,
        boundary_width=settings.evaluation.boundary_width,
        probability_root=probability_root if separate and probability_root.is_dir() else None, trust_map_levels=True,
    )
    curves_file = out_dir / "curves.json"
    if curves_file.is_file():  # only sets with foreground have curves
        run.curves.setdefault(method, {})[seed] = json.loads(curves_file.read_text())
        save_run_curves(out_dir, method)
        render_run_page(out_dir)  # report.html again, with the curves just drawn


def finish(run: Run) -> None:
    """Tabulate a comparison of several runs, and say where the run's files are."""
    if not run.context.is_main:
        return
    settings = run.settings.run
    table_dir = comparison_dir(settings.experiment)
    ordered = {method: run.results[method] for method in settings.methods if method in run.results}
    if settings.comparing and run.results:  # the clean sets; the corrupted ones go to the shift table
        print(f"\nComparison ({table_dir / 'comparison.md'})\n")
        clean = {method: {seed: {name: metrics for name, metrics in result.items() if parse_shifted(name) is None}
                          for seed, result in per_seed.items()} for method, per_seed in ordered.items()}
        print(write_comparison(clean, table_dir, run.protocol, run.curves))
        first_runs = {method: run.folder(method, min(seeds)) for method, seeds in ordered.items()}
        print(f"Every image, the methods side by side: {write_comparison_page(table_dir, first_runs)}")
    if run.shifted and ordered:
        shift_dir = table_dir if settings.comparing else run.folder(settings.methods[0], settings.seeds[0])
        print(f"\nCalibration under shift ({shift_dir / 'shift.md'})\n")
        print(write_shift(ordered, shift_dir, run.protocol.name))
    if settings.comparing:  # every trained run's validation calibration over its epochs, side by side
        folders = {method: {seed: run.folder(method, seed) for seed in settings.seeds}
                   for method in settings.methods if post_hoc(method) is None}
        evaluation = run.settings.evaluation
        plot_validation_calibration(folders, table_dir / VALIDATION_PLOT, evaluation.n_bins,
                                    evaluation.boundary_width)
    out_dirs = [run.folder(method, seed) for seed in settings.seeds for method in run.order]
    print(outputs_summary(out_dirs, table_dir if settings.comparing else None))


def outputs_summary(out_dirs: list[Path], table_dir: Path | None) -> str:
    """Where the run's files are: the network, maps, results and plots in each output folder."""
    kinds = (("network", "Model_*_Gen.pth"), ("maps", "predictions/*"), ("prob. maps", "probabilities/*"),
             ("results", "results.md"), ("page", "report.html"), ("plots", "*.png"), ("alpha", "alpha.json"),
             ("comparison", "comparison.md"), ("shift", "shift.md"))
    lines = ["Outputs:"]
    for folder in [*out_dirs, *([table_dir] if table_dir else [])]:
        for label, pattern in kinds:
            found = sorted(folder.glob(pattern))
            if found:
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                lines.append(f"  {label:<10} {found[0]}{more}")
    return "\n".join(lines)
