"""ASLP: train a saliency network with Adaptive Stochastic Label Perturbation, write its prediction
maps for the test sets, and score them (ECE, OE, accuracy, F-measure, ...).

    CUDA_VISIBLE_DEVICES=0 python main_ASLP.py            # the paper's full reproduction
    python main_ASLP.py --demo                            # the whole pipeline on synthetic data, CPU
    python main_ASLP.py --weights=Model_30_Gen.pth --stages=test,eval
    python main_ASLP.py --compare=BCE,LS,DisturbLabel,SLP,ASLP,Focal,Brier,MbLS,TS

Every constant below can be overridden on the command line: --epochs=2 --train_size=64.
"""
# ---- experiment -------------------------------------------------------------------------------
EXPERIMENT = ""                 # output folder experiments/<EXPERIMENT>/; "" names it after the method (ASLP_MC)
STAGES = "train,test,eval"      # stages to run, in this order
WEIGHTS = ""                    # test/evaluate this checkpoint instead of training (ours or Model_30_Gen.pth)
RESUME = False                  # continue from the experiment's checkpoint.pth
COMPARE = ""                    # comma-separated methods to run in turn and tabulate, e.g. BCE,LS,ASLP,TS
DEMO = False                    # synthetic demo data and a scaled-down configuration (see DEMO_PRESET)
SEED = 1                        # seeds Python, NumPy, torch, the split and the label perturbation
SEEDS = ""                      # e.g. "1,2,3": every method once per seed, compared as mean ± std; "" runs SEED once
DEVICE = "auto"                 # "auto" (CUDA if present, else CPU), "cuda", "cuda:1" or "cpu"
# ---- data ---------------------------------------------------------------------------------------
DATASET_ROOT = "Dataset"        # holds Train/DUTS-TR/{Image,GT}, Test/<set>/{Image,GT} and the split lists
TRAIN_SET = "DUTS-TR"           # training set under DATASET_ROOT/Train/
TEST_DATASETS = ("DUTS-TE", "DUT-OMRON", "PASCAL-S", "SOD", "HKU-IS", "ECSSD", "DTD_Texture_500")  # under Test/
VALIDATION_SIZE = 1000          # DUTS-TR images held out when no split lists exist
TRAIN_SIZE = 384                # training resolution (square)
TEST_SIZE = 384                 # inference resolution (square); maps are resized back
NUM_WORKERS = 8                 # DataLoader processes
# ---- model --------------------------------------------------------------------------------------
FEAT_CHANNEL = 256              # channels of the decoder
PRETRAINED_BACKBONE = "imagenet"  # "imagenet" (torchvision IMAGENET1K_V1), a local .pth of those weights, or ""
# ---- optimisation -------------------------------------------------------------------------------
EPOCHS = 30                     # training epochs
LR = 2.5e-5                     # Adam learning rate
BATCH_SIZE = 10                 # images per step
DECAY_RATE = 0.95               # lr *= DECAY_RATE ** (epoch // DECAY_EPOCH) after every epoch (compounds)
DECAY_EPOCH = 10                # see DECAY_RATE
# ---- ASLP ---------------------------------------------------------------------------------------
METHOD = "ASLP"                 # ASLP, BCE, LS, DisturbLabel, SLP, Focal, Brier, MbLS, or TS (post-hoc, on BCE)
ASLP_MODE = "MC"                # MC: entropy gain + accuracy penalty (the authors' only rule); CS: entropy gain, clamps only
BETA = 2.0                      # perturbation strength: perturbed label = (1 - 2 BETA) y + BETA (ASLP, SLP)
ETA = 0.002                     # step size of the alpha update
LAMBDA = 2000.0                 # weight of the penalty keeping 1 - alpha BETA above validation accuracy
START_EPOCH = 5                 # alpha is first updated in epoch START_EPOCH + 1
PERTURB_NOISE = False           # add noise, N(0, 1) truncated to [-0.25, 0.25], to perturbed labels (authors' option, off)
# ---- comparison methods -------------------------------------------------------------------------
LS_EPSILON = 0.1                # LS: target (1 - eps) y + eps / 2
DL_ALPHA = 0.1                  # DisturbLabel: probability of flipping an image's mask per step
SLP_ALPHA = 0.1                 # SLP: the same fixed perturbation probability for every image (with BETA)
FOCAL_GAMMA = 3.0               # Focal: focusing exponent
MBLS_MARGIN = 10.0              # MbLS: logits beyond +-margin are penalised
MBLS_LAMBDA = 0.1               # MbLS: weight of that penalty
TS_PIXELS_PER_IMAGE = 4096      # TS: validation pixels sampled per image to fit the temperature
# ---- test and evaluation ------------------------------------------------------------------------
PROTOCOL = "paper"              # "paper": the authors' maps, validation accuracy and metrics; "calibrated": raw p (README)
TEST_BATCH_SIZE = 10            # images per inference batch
N_BINS = 10                     # confidence bins of ECE / OE
EVAL_WORKERS = 0                # evaluation processes (0: all cores)
# ---- speed --------------------------------------------------------------------------------------
AMP = False                     # bfloat16 autocast (off: the authors' float32 recipe)
CHANNELS_LAST = False           # channels-last memory format
LOG_EVERY = 20                  # progress-bar refresh (host sync) every LOG_EVERY steps

CONSTANTS = {name: value for name, value in globals().items() if name.isupper()}  # what --name=value may set

# The demo: small synthetic images, a small decoder and a random-init backbone, so that the whole
# pipeline runs on 2 CPU cores in a few minutes. Explicit command-line values still win.
DEMO_PRESET = dict(
    EXPERIMENT="demo", DATASET_ROOT="demo_data", TEST_DATASETS=("DEMO-SOD", "DEMO-Texture"),
    VALIDATION_SIZE=20, TRAIN_SIZE=64, TEST_SIZE=64, NUM_WORKERS=0, FEAT_CHANNEL=32,
    PRETRAINED_BACKBONE="", EPOCHS=20, LR=5e-4, BATCH_SIZE=10, DECAY_EPOCH=10, START_EPOCH=6, LOG_EVERY=5,
)

# The range of each numeric constant (a rule of configurator.RULES), checked with the command line.
LIMITS = dict(
    VALIDATION_SIZE="at least 1", TRAIN_SIZE="a positive multiple of 32", TEST_SIZE="a positive multiple of 32",
    NUM_WORKERS="at least 0", FEAT_CHANNEL="at least 1", EPOCHS="at least 1", LR="positive", BATCH_SIZE="at least 1",
    DECAY_RATE="positive", DECAY_EPOCH="at least 1", BETA="positive", ETA="at least 0", LAMBDA="at least 0",
    START_EPOCH="at least 0", LS_EPSILON="between 0 and 1", DL_ALPHA="between 0 and 1", SLP_ALPHA="between 0 and 1",
    FOCAL_GAMMA="at least 0", MBLS_MARGIN="at least 0", MBLS_LAMBDA="at least 0", TS_PIXELS_PER_IMAGE="at least 1",
    TEST_BATCH_SIZE="at least 1", N_BINS="at least 1", EVAL_WORKERS="at least 0", LOG_EVERY="at least 1",
)

import shlex
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

from configurator import HELP_FLAGS, ConfigError, check_limits, constants_help, format_value, parse_overrides

STAGE_NAMES = ("train", "test", "eval")
METHODS = ("BCE", "ASLP", "LS", "DisturbLabel", "SLP", "Focal", "Brier", "MbLS", "TS")  # loss.OBJECTIVES + TS (tested)
PROTOCOLS = ("paper", "calibrated")


def configure(argv: list[str], announce: bool = True) -> SimpleNamespace:
    """The constants above, with the demo preset (if --demo) and then the command line applied.
    Raises ConfigError for a command line that cannot work (see `check_arguments`)."""
    constants = dict(CONSTANTS)
    overrides = parse_overrides(constants, argv)
    if overrides.get("DEMO", DEMO):
        scaled = {k: v for k, v in DEMO_PRESET.items() if k not in overrides}
        if announce:
            print("Demo configuration: " + ", ".join(f"{k.lower()}={v}" for k, v in scaled.items()))
        constants.update(scaled)
    constants.update(overrides)
    c = SimpleNamespace(**constants)
    check_arguments(c)
    return c


def stage_list(c: SimpleNamespace) -> list[str]:
    return [s.strip() for s in c.STAGES.split(",") if s.strip()]


def method_list(c: SimpleNamespace) -> list[str]:
    return [m.strip() for m in c.COMPARE.split(",") if m.strip()] or [c.METHOD]


def parse_seeds(text: str, default: int) -> list[int]:
    """The SEEDS list ("1,2,3"), or [default] when empty."""
    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ConfigError(f"--seeds expects comma-separated integers such as 1,2,3, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds lists a seed twice: {text}")
    return seeds or [default]


def check_arguments(c: SimpleNamespace) -> None:
    """Refuse a command line that cannot work, before anything is imported, read or written."""
    check_limits(vars(c), LIMITS)
    stages, methods = stage_list(c), method_list(c)
    if set(stages) - set(STAGE_NAMES):
        raise ConfigError(f"--stages: unknown stage(s) {', '.join(sorted(set(stages) - set(STAGE_NAMES)))}; "
                          f"use {','.join(STAGE_NAMES)}")
    if set(methods) - set(METHODS):
        raise ConfigError(f"unknown method(s) {', '.join(sorted(set(methods) - set(METHODS)))}; "
                          f"choose from {', '.join(METHODS)}")
    parse_seeds(c.SEEDS, c.SEED)
    if c.PROTOCOL not in PROTOCOLS:
        raise ConfigError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {c.PROTOCOL!r}")
    if c.WEIGHTS and not Path(c.WEIGHTS).is_file():
        raise ConfigError(f"--weights: file not found: {c.WEIGHTS}")
    if c.WEIGHTS and stages == ["train"]:
        raise ConfigError(f"--weights skips training, so --stages=train would do nothing; drop --weights={c.WEIGHTS} "
                          "to train, or test those weights with --stages=test,eval")


def usage() -> str:
    """--help: the docstring, then every constant with its default and comment, from the block above."""
    demo = " ".join(f"--{k.lower()}={format_value(v)}" for k, v in DEMO_PRESET.items())
    options = constants_help(Path(__file__).read_text(), CONSTANTS)
    demo_note = textwrap.fill(f"--demo changes the defaults to {demo}", 100, break_on_hyphens=False)
    return f"{__doc__.strip()}\n\nOptions, with their defaults:\n\n{options}\n\n{demo_note}"


if __name__ == "__main__":
    # --help and command-line errors are answered before the heavy imports below: importing torch
    # alone takes 5-20 s, which a typo should not cost.
    if set(HELP_FLAGS) & set(sys.argv[1:]):
        print(usage())
        sys.exit(0)
    try:
        configure(sys.argv[1:], announce=False)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)

import json

import torch

from data import (
    DataError, inference_loader, load_or_make_split, make_demo_dataset, pair_split, require_dir, training_loader,
)
from data.split import split_list_names
from distributed import DeviceError, barrier, setup, teardown
from evaluate import EvaluationInputError, evaluate_datasets
from evaluate.comparison import write_comparison
from loss import build_objective, fit_temperature
from model import CheckpointError, build_model, load_weights
from predict import validation_pixels, write_predictions
from train import (
    TrainingError, TrainingInterrupted, final_weights_name, previous_run, run_record, seed_everything, train,
)

README_DATA = "see 'Data' in README.md, or run with --demo for the built-in synthetic data"
EXPERIMENTS = Path("experiments")


def experiment_dir(experiment: str, method: str, aslp_mode: str, comparing: bool, seed: int | None = None) -> Path:
    """experiments/<EXPERIMENT or method>/; when comparing, experiments/<EXPERIMENT or compare>/<method>/,
    or .../seed<seed>/<method>/ when several seeds are run."""
    auto = f"ASLP_{aslp_mode}" if method == "ASLP" else method
    if not comparing:
        return EXPERIMENTS / (experiment or auto)
    return EXPERIMENTS / (experiment or "compare") / ("" if seed is None else f"seed{seed}") / auto


def check_inputs(root: Path, train_set: str, test_sets: list[str], stages: list[str], needs_train_set: bool) -> None:
    """Fail at once, before any training, if a folder that a later stage needs is missing."""
    if needs_train_set:
        for sub in ("Image", "GT"):
            require_dir(root / "Train" / train_set / sub, README_DATA)
    for name in test_sets:
        if "test" in stages:
            require_dir(root / "Test" / name / "Image", README_DATA)
        if "eval" in stages:
            require_dir(root / "Test" / name / "GT", README_DATA)


def prepare_output(out_dir: Path) -> None:
    """Create `out_dir` and prove it writable now, rather than after hours of training."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise DataError(f"cannot write to the output folder {out_dir} ({error}); choose another --experiment "
                        "or fix its permissions") from error


def check_fresh_outputs(c: SimpleNamespace, out_dirs: list[Path], training: bool, comparing: bool) -> None:
    """A run that is not a --resume must not write into a folder holding an earlier training run: the
    files would mix (a new Model_1_Gen.pth beside an old Model_20_Gen.pth, results overwritten). When
    comparing, a method whose final weights exist is kept, not retrained: that continues a comparison."""
    if c.RESUME:
        return
    for out_dir in out_dirs:
        earlier = previous_run(out_dir)
        continued = comparing and (out_dir / final_weights_name(c.EPOCHS)).is_file()
        own_weights = bool(c.WEIGHTS) and Path(c.WEIGHTS).resolve().parent == out_dir.resolve()
        if earlier and ((training and not continued) or (c.WEIGHTS and not own_weights)):
            raise ConfigError(f"{out_dir} already holds an earlier run ({', '.join(p.name for p in earlier)}) that "
                              f"this run would mix its files with; write elsewhere with --experiment=NEW_NAME, "
                              f"continue that run with --resume, or delete {out_dir}")


def outputs_summary(out_dirs: list[Path], table_dir: Path | None) -> str:
    """Where the run's files are: the network, maps, results and plots in each output folder."""
    kinds = (("network", "Model_*_Gen.pth"), ("maps", "predictions/*"), ("raw maps", "probabilities/*"),
             ("results", "results.md"), ("plots", "*.png"), ("alpha", "alpha.json"), ("comparison", "comparison.md"))
    lines = ["Outputs:"]
    for folder in [*out_dirs, *([table_dir] if table_dir else [])]:
        for label, pattern in kinds:
            found = sorted(folder.glob(pattern))
            if found:
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                lines.append(f"  {label:<10} {found[0]}{more}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    c = configure(argv)
    stages, methods, seeds = stage_list(c), method_list(c), parse_seeds(c.SEEDS, c.SEED)
    comparing = len(methods) > 1 or len(seeds) > 1
    training = "train" in stages and not c.WEIGHTS and methods != ["TS"]
    needs_validation = training or "TS" in methods
    root, test_sets = Path(c.DATASET_ROOT), list(c.TEST_DATASETS)
    if c.WEIGHTS:  # read it now, not at the test stage: a file that is no checkpoint of this network stops here
        load_weights(build_model(c.FEAT_CHANNEL), c.WEIGHTS)
    out_dirs = [experiment_dir(c.EXPERIMENT, method, c.ASLP_MODE, comparing, seed if len(seeds) > 1 else None)
                for seed in seeds for method in methods]
    check_fresh_outputs(c, out_dirs, training, comparing)
    context = setup(c.DEVICE)
    device, pin = context.device, context.device.type == "cuda"
    if c.DEMO and context.is_main:
        make_demo_dataset(root, seed=c.SEED)
    barrier()
    check_inputs(root, c.TRAIN_SET, test_sets, stages, needs_validation)
    seed_everything(c.SEED + context.rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    # ---- data: the train/validation split of TRAIN_SET ------------------------------------------
    if needs_validation:
        image_dir, mask_dir = root / "Train" / c.TRAIN_SET / "Image", root / "Train" / c.TRAIN_SET / "GT"
        if context.is_main:  # the first call may write the split lists; the other processes then read them
            load_or_make_split(root, image_dir, c.VALIDATION_SIZE, c.SEED, c.TRAIN_SET)
        barrier()
        train_stems, val_stems = load_or_make_split(root, image_dir, c.VALIDATION_SIZE, c.SEED, c.TRAIN_SET)
        train_pairs, val_pairs = pair_split(image_dir, mask_dir, train_stems, val_stems, report=context.is_main,
                                            lists=tuple(root / name for name in split_list_names(c.TRAIN_SET)))
        val_loader = inference_loader([p for _, p, _ in val_pairs], c.TEST_SIZE, c.TEST_BATCH_SIZE, c.NUM_WORKERS,
                                      pin, [m for _, _, m in val_pairs], context.rank, context.world_size)

    runs: dict[str, dict[int, dict]] = {}  # method -> seed -> results, for the comparison table
    for seed in seeds:
        for method in methods:
            seed_folder = seed if len(seeds) > 1 else None
            out_dir = experiment_dir(c.EXPERIMENT, method, c.ASLP_MODE, comparing, seed_folder)
            if context.is_main:
                prepare_output(out_dir)
            weights = Path(c.WEIGHTS) if c.WEIGHTS else out_dir / final_weights_name(c.EPOCHS)
            if method == "TS" and not c.WEIGHTS:  # temperature scaling sits on top of the BCE baseline
                bce_dir = experiment_dir(c.EXPERIMENT, "BCE", c.ASLP_MODE, comparing, seed_folder)
                weights = bce_dir / final_weights_name(c.EPOCHS)

            # ---- train --------------------------------------------------------------------------
            if training and method != "TS" and comparing and weights.is_file() and not c.RESUME:
                if context.is_main:
                    print(f"{method}: {weights} exists, so {method} is not retrained (this continues the "
                          f"comparison; delete {out_dir} to retrain it)")
            elif training and method != "TS":
                seed_everything(seed + context.rank)
                network = build_model(c.FEAT_CHANNEL, c.PRETRAINED_BACKBONE, device)
                train_loader = training_loader(train_pairs, c.TRAIN_SIZE, c.BATCH_SIZE, c.NUM_WORKERS, pin, seed,
                                               context.rank, context.world_size)
                generator = torch.Generator(device).manual_seed(seed + context.rank)
                objective = build_objective(
                    method, num_images=len(train_pairs), beta=c.BETA, eta=c.ETA, lam=c.LAMBDA,
                    start_epoch=c.START_EPOCH, aslp_mode=c.ASLP_MODE, generator=generator, device=device,
                    perturb_noise=c.PERTURB_NOISE, ls_epsilon=c.LS_EPSILON, dl_alpha=c.DL_ALPHA,
                    slp_alpha=c.SLP_ALPHA, focal_gamma=c.FOCAL_GAMMA, mbls_margin=c.MBLS_MARGIN,
                    mbls_lambda=c.MBLS_LAMBDA,
                )
                if context.is_main:
                    print(f"Training {method} (seed {seed}) on {len(train_pairs)} images ({len(val_pairs)} for "
                          f"validation), {c.EPOCHS} epochs at {c.TRAIN_SIZE}px on {context.world_size} x "
                          f"{device.type}: batch {c.BATCH_SIZE} per process, {c.BATCH_SIZE * context.world_size} "
                          f"effective -> {out_dir}")
                weights = train(
                    network, objective, train_loader, val_loader, names=[stem for stem, _, _ in train_pairs],
                    out_dir=out_dir, device=device, epochs=c.EPOCHS, lr=c.LR, decay_rate=c.DECAY_RATE,
                    decay_epoch=c.DECAY_EPOCH, seed=seed, generator=generator, resume=c.RESUME, amp=c.AMP,
                    channels_last=c.CHANNELS_LAST, log_every=c.LOG_EVERY, protocol=c.PROTOCOL,
                    run=run_record({**vars(c), "SEED": seed}, method),
                )
                if context.is_main:
                    print(f"Saved {weights}")
            if not context.is_main:
                continue

            # ---- test: maps (TS first fits its temperature on the validation split) ----------------
            # Paper protocol: the authors' stretched maps in predictions/, and the raw round(255 p)
            # in probabilities/ from the same forward pass; calibrated: round(255 p) in predictions/.
            paper = c.PROTOCOL == "paper"
            if "test" in stages:
                network = load_weights(build_model(c.FEAT_CHANNEL, device=device), weights)
                temperature = 1.0
                if method == "TS":
                    all_val = inference_loader([p for _, p, _ in val_pairs], c.TEST_SIZE, c.TEST_BATCH_SIZE,
                                               c.NUM_WORKERS, pin, [m for _, _, m in val_pairs])  # all, not a shard
                    logits, labels = validation_pixels(network, all_val, device, c.TS_PIXELS_PER_IMAGE, seed, c.AMP)
                    temperature = fit_temperature(logits, labels)
                    (out_dir / "temperature.json").write_text(json.dumps({"temperature": temperature,
                                                                          "weights": str(weights)}) + "\n")
                    print(f"TS: temperature {temperature:.4f} fitted on {labels.numel()} validation pixels of {weights}")
                for name in test_sets:
                    count = write_predictions(
                        network, root / "Test" / name / "Image", out_dir / "predictions" / name, size=c.TEST_SIZE,
                        device=device, batch_size=c.TEST_BATCH_SIZE, num_workers=c.NUM_WORKERS, stretched=paper,
                        probability_dir=out_dir / "probabilities" / name if paper else None, amp=c.AMP,
                        temperature=temperature, desc=f"Testing {name}",
                    )
                    print(f"Wrote {count} maps to {out_dir / 'predictions' / name}"
                          + (f" (stretched) and {out_dir / 'probabilities' / name} (raw)" if paper else ""))

            # ---- evaluate: calibration and SOD metrics from the maps on disk ---------------------
            if "eval" in stages:
                print(f"Evaluating {method} ({out_dir}, {c.PROTOCOL} protocol)")
                runs.setdefault(method, {})[seed] = evaluate_datasets(
                    out_dir / "predictions", root / "Test", test_sets, out_dir, workers=c.EVAL_WORKERS or None,
                    n_bins=c.N_BINS, protocol=c.PROTOCOL,
                    prob_root=out_dir / "probabilities" if (out_dir / "probabilities").is_dir() and paper else None,
                )

    table_dir = EXPERIMENTS / (c.EXPERIMENT or "compare")
    if comparing and runs:
        print(f"\nComparison ({table_dir / 'comparison.md'})\n")
        print(write_comparison(runs, table_dir, c.PROTOCOL))
    if context.is_main:
        print(outputs_summary(out_dirs, table_dir if comparing else None))
    return 0


def interruption_message(interrupt: KeyboardInterrupt, argv: list[str]) -> str:
    """What Ctrl-C left behind and, after a checkpoint, the exact command that continues the run."""
    if not isinstance(interrupt, TrainingInterrupted):
        return "interrupted"
    if not interrupt.resumable:
        return f"{interrupt}; run the same command again to start over"
    kept = [a for a in argv if a.lstrip("-").partition("=")[0].replace("-", "_").lower() != "resume"]
    return f"{interrupt}; continue with:\n  {shlex.join(['python', sys.argv[0], *kept, '--resume'])}"


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ConfigError, DataError, DeviceError, CheckpointError, EvaluationInputError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as interrupt:  # Ctrl-C: say where things stand instead of a traceback
        print(f"\n{interruption_message(interrupt, sys.argv[1:])}", file=sys.stderr)
        sys.exit(130)
    finally:
        teardown()
