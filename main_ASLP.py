"""ASLP: train a saliency network with Adaptive Stochastic Label Perturbation, write its prediction
maps for the test sets, and score them (ECE, OE, accuracy, F-measure, ...).

    CUDA_VISIBLE_DEVICES=0 python main_ASLP.py            # the paper's full reproduction
    python main_ASLP.py --demo                            # the whole pipeline on synthetic data, CPU
    python main_ASLP.py --weights=Model_30_Gen.pth --stages=test,eval
    python main_ASLP.py --compare=BCE,LS,DisturbLabel,SLP,ASLP,Focal,Brier,MbLS,TS,LTS,ASLP+TS,ASLP+LTS

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
SPLIT_DIR = ""                  # folder of the split lists <TRAIN_SET>-Train/-Validation.txt; "" = DATASET_ROOT
TRAIN_SET = "DUTS-TR"           # training set under DATASET_ROOT/Train/
TEST_DATASETS = ("DUTS-TE", "DUT-OMRON", "PASCAL-S", "SOD", "HKU-IS", "ECSSD", "DTD_Texture_500")  # under Test/
VALIDATION_SIZE = 1000          # DUTS-TR images held out when no split lists exist
TRAIN_SIZE = 384                # training resolution (square)
TEST_SIZE = 384                 # inference resolution (square); maps are resized back
NUM_WORKERS = 8                 # DataLoader processes (never more than the cores there are)
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
METHOD = "ASLP"                 # ASLP, BCE, LS, DisturbLabel, SLP, Focal, Brier, MbLS; TS, LTS (post-hoc, on BCE); X+TS, X+LTS
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
LTS_EPOCHS = 40                 # LTS: passes over the validation maps to fit the local temperature network
LTS_LR = 0.01                   # LTS: Adam learning rate of that fit
# ---- test and evaluation ------------------------------------------------------------------------
PROTOCOL = "paper"              # "paper": the authors' maps, validation accuracy and metrics; "calibrated": probability maps
TEST_BATCH_SIZE = 10            # images per inference batch
N_BINS = 10                     # confidence bins of ECE / OE
BOUNDARY_WIDTH = 5              # px: ECE / OE also over the pixels this close to the mask's object boundary, and the rest
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

import shlex
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

from configurator import HELP_FLAGS, ConfigError, check_limits, constants_help, format_value, parse_overrides
from protocol import PROTOCOLS
from settings import LIMITS

STAGE_NAMES = ("train", "test", "eval")
TRAINED_METHODS = ("BCE", "ASLP", "LS", "DisturbLabel", "SLP", "Focal", "Brier", "MbLS")  # = loss.OBJECTIVES (tested)
POST_HOC = ("TS", "LTS")  # calibrations fitted on the validation split on top of a trained network
POST_HOC_BASE = "BCE"     # the network TS and LTS calibrate when named alone


def network_method(method: str) -> str:
    """The trained method whose network `method` uses: ASLP+TS -> ASLP, TS -> BCE, ASLP -> ASLP."""
    base, _, calibration = method.rpartition("+")
    if calibration in POST_HOC:
        return base or POST_HOC_BASE
    return method


def post_hoc(method: str) -> str | None:
    """The post-hoc calibration of `method` (TS, LTS), or None for a method trained as it is."""
    calibration = method.rpartition("+")[2]
    return calibration if calibration in POST_HOC else None


def known_method(method: str) -> bool:
    return network_method(method) in TRAINED_METHODS and (post_hoc(method) is not None or "+" not in method)


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


def check_weights_file(weights: str) -> None:
    path = Path(weights)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pth"))
        hint = f" it holds {', '.join(found[:5])}" + (" ..." if len(found) > 5 else "") if found else " it holds no .pth file"
        raise ConfigError(f"--weights={weights} is a folder; pass the checkpoint file inside it (e.g. "
                          f"{path / 'Model_30_Gen.pth'});{hint}")
    if not path.is_file():
        raise ConfigError(f"--weights: file not found: {weights}")


def check_arguments(c: SimpleNamespace) -> None:
    """Refuse a command line that cannot work, before anything is imported, read or written."""
    check_limits(vars(c), LIMITS)
    stages, methods = stage_list(c), method_list(c)
    if set(stages) - set(STAGE_NAMES):
        raise ConfigError(f"--stages: unknown stage(s) {', '.join(sorted(set(stages) - set(STAGE_NAMES)))}; "
                          f"use {','.join(STAGE_NAMES)}")
    unknown = [m for m in methods if not known_method(m)]
    if unknown:
        raise ConfigError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(TRAINED_METHODS)}, the "
                          f"post-hoc {' and '.join(POST_HOC)} (on {POST_HOC_BASE}), or METHOD+TS / METHOD+LTS")
    if len(set(methods)) != len(methods):
        raise ConfigError(f"--compare lists a method twice: {c.COMPARE}")
    parse_seeds(c.SEEDS, c.SEED)
    if c.PROTOCOL not in PROTOCOLS:
        raise ConfigError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {c.PROTOCOL!r}")
    if ("test" in stages or "eval" in stages) and not c.TEST_DATASETS:
        raise ConfigError("--test_datasets is empty: name at least one set under DATASET_ROOT/Test/, or run "
                          "--stages=train")
    if c.WEIGHTS:
        check_weights_file(c.WEIGHTS)
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

from data.datasets import check_test_set, pair_split
from data.demo import make_demo_dataset
from data.files import DataError, require_folder, require_writable_folder
from data.loaders import inference_loader, training_loader, usable_workers
from data.split import load_or_make_split, split_list_names
from distributed import DeviceError, barrier, setup, teardown
from evaluate import EvaluationInputError, evaluate_datasets
from report.comparison import write_comparison
from report.curves import save_run_curves
from protocol import Protocol, get_protocol
from calibrators.local_temperature import fit_local_temperature
from calibrators.temperature import fit_temperature
from loss import build_objective, inert_reason, training_note
from model import CheckpointError, build_model, load_weights
from predict import Inference, Temperature, map_folders, validation_batch, validation_pixels, write_predictions
from settings import (
    ASLPSettings, BaselineSettings, DataSettings, EvaluationSettings, ModelSettings, OptimisationSettings,
    PostHocSettings, SpeedSettings, from_constants,
)
from train import (
    TrainingError, TrainingInterrupted, TrainingRun, final_weights_name, previous_run, run_record, seed_everything,
    train,
)

README_DATA = "see 'Data' in README.md, or run with --demo for the built-in synthetic data"
EXPERIMENTS = Path("experiments")


def experiment_dir(experiment: str, method: str, aslp_mode: str, comparing: bool, seed: int | None = None) -> Path:
    """experiments/<EXPERIMENT or method>/; when comparing, experiments/<EXPERIMENT or compare>/<method>/,
    or .../seed<seed>/<method>/ when several seeds are run. ASLP is named with its mode (ASLP_MC,
    ASLP_MC+TS)."""
    auto = method.replace("ASLP", f"ASLP_{aslp_mode}", 1) if network_method(method) == "ASLP" else method
    if not comparing:
        return EXPERIMENTS / (experiment or auto)
    return EXPERIMENTS / (experiment or "compare") / ("" if seed is None else f"seed{seed}") / auto


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


def check_networks(c: SimpleNamespace, methods: list[str], trained: list[str], folder_of) -> None:
    """Every method tested needs a network: --weights, one trained by this run, or the final weights
    of an earlier run of its network's method. Say which is missing before any work."""
    if c.WEIGHTS or "test" not in stage_list(c):
        return
    for method in methods:
        base = network_method(method)
        if base in trained or (folder_of(base) / final_weights_name(c.EPOCHS)).is_file():
            continue
        what = f"{method} calibrates a {base} network" if base != method else f"{method} is not trained by this run"
        raise ConfigError(f"{what}, and none exists in {folder_of(base)}: add {base} to --compare (it is "
                          f"trained first), train it with --stages=train, or pass --weights=FILE")


def check_perturbation(methods: list[str], aslp: ASLPSettings, baselines: BaselineSettings, epochs: int) -> None:
    """A perturbation method whose perturbation never happens would train plain BCE and print a row
    equal to BCE's: refuse it, saying why and how to fix it."""
    for method in methods:
        reason = inert_reason(method, aslp, baselines, epochs)
        if reason:
            raise ConfigError(f"{method} would train exactly as BCE: {reason}")
        note = training_note(method, aslp, baselines, epochs)
        if note:
            print(f"Note on {method}: {note}")


def outputs_summary(out_dirs: list[Path], table_dir: Path | None) -> str:
    """Where the run's files are: the network, maps, results and plots in each output folder."""
    kinds = (("network", "Model_*_Gen.pth"), ("maps", "predictions/*"), ("prob. maps", "probabilities/*"),
             ("results", "results.md"), ("plots", "*.png"), ("alpha", "alpha.json"), ("comparison", "comparison.md"))
    lines = ["Outputs:"]
    for folder in [*out_dirs, *([table_dir] if table_dir else [])]:
        for label, pattern in kinds:
            found = sorted(folder.glob(pattern))
            if found:
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                lines.append(f"  {label:<10} {found[0]}{more}")
    return "\n".join(lines)


def fit_post_hoc(
    calibration: str, network: torch.nn.Module, val_pairs: list, inference: Inference, post: PostHocSettings,
    seed: int, out_dir: Path, weights: Path,
) -> Temperature:
    """Fit TS or LTS on all validation images (not a DDP shard) with the network frozen; write what
    was fitted into `out_dir` and return the temperature to divide the logits by."""
    images, masks = [p for _, p, _ in val_pairs], [m for _, _, m in val_pairs]
    loader = inference_loader(images, inference.size, inference.batch_size, inference.num_workers,
                              inference.device.type == "cuda", masks)
    if calibration == "TS":
        logits, labels = validation_pixels(network, loader, inference, post.ts_pixels_per_image, seed)
        fit = fit_temperature(logits, labels)
        record = {"temperature": fit.temperature, "nll_before": fit.nll_before, "nll_after": fit.nll_after,
                  "converged": fit.converged, "at_bound": fit.at_bound, "pixels": fit.pixels,
                  "positive_fraction": fit.positive_fraction, "evaluations": fit.evaluations}

        def result(logits: torch.Tensor, images: torch.Tensor) -> float:
            return fit.temperature
    else:
        logits, images_at_size, labels = validation_batch(network, loader, inference)
        fit = fit_local_temperature(logits, images_at_size, labels, epochs=post.lts_epochs, lr=post.lts_lr,
                                    batch_size=inference.batch_size, seed=seed, device=inference.device)
        torch.save(fit.module.state_dict(), out_dir / "local_temperature.pth")
        record = {"nll_before": fit.nll_before, "nll_after": fit.nll_after, "converged": fit.converged,
                  "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "held_out_images": fit.held_out_images,
                  "temperature_range": list(fit.temperature_range)}
        result = fit.module.to(inference.device)
    print(f"{calibration} on {weights}: {fit.describe()}")
    (out_dir / f"{calibration.lower()}_fit.json").write_text(
        json.dumps({**record, "weights": str(weights), "description": fit.describe()}, indent=1) + "\n")
    return result


def main(argv: list[str]) -> int:
    c = configure(argv)
    constants = vars(c)
    data, model_settings = from_constants(DataSettings, constants), from_constants(ModelSettings, constants)
    optimisation, aslp = from_constants(OptimisationSettings, constants), from_constants(ASLPSettings, constants)
    baselines, post = from_constants(BaselineSettings, constants), from_constants(PostHocSettings, constants)
    speed, evaluation = from_constants(SpeedSettings, constants), from_constants(EvaluationSettings, constants)
    protocol: Protocol = get_protocol(evaluation.protocol)
    stages, methods, seeds = stage_list(c), method_list(c), parse_seeds(c.SEEDS, c.SEED)
    comparing = len(methods) > 1 or len(seeds) > 1
    several_seeds = len(seeds) > 1

    def folder_of(method: str, seed: int = seeds[0]) -> Path:
        return experiment_dir(c.EXPERIMENT, method, aslp.aslp_mode, comparing, seed if several_seeds else None)

    # What this run trains: each listed method that is not post-hoc (post-hoc ones reuse a network).
    trained = [m for m in methods if post_hoc(m) is None] if "train" in stages and not c.WEIGHTS else []
    calibrated = [m for m in methods if post_hoc(m) is not None] if "test" in stages else []
    needs_validation = bool(trained or calibrated)
    check_perturbation(trained, aslp, baselines, optimisation.epochs)
    check_networks(c, methods, trained, folder_of)
    if c.WEIGHTS:  # read it now, not at the test stage: a file that is no checkpoint of this network stops here
        load_weights(build_model(model_settings.feat_channel), c.WEIGHTS)
    out_dirs = [folder_of(method, seed) for seed in seeds for method in methods]
    check_fresh_outputs(c, out_dirs, bool(trained), comparing)
    context = setup(c.DEVICE)
    device = context.device
    workers = usable_workers(data.num_workers)
    if workers < data.num_workers and context.is_main:
        print(f"NUM_WORKERS={data.num_workers} but this machine has {workers} core(s): using {workers} DataLoader "
              "process(es)")
    inference = Inference(device, data.test_size, data.test_batch_size, workers, speed.amp)
    root = Path(data.dataset_root)
    if c.DEMO and context.is_main:
        make_demo_dataset(root, seed=c.SEED)
    barrier()

    # ---- check every input and output before epoch 1 -----------------------------------------
    image_dir, mask_dir = root / "Train" / data.train_set / "Image", root / "Train" / data.train_set / "GT"
    if needs_validation:
        for folder in (image_dir, mask_dir):
            require_folder(folder, hint=README_DATA)
    if context.is_main:
        for name in data.test_datasets if {"test", "eval"} & set(stages) else ():
            check_test_set(root / "Test" / name, needs_images="test" in stages, needs_masks="eval" in stages,
                           hint=README_DATA)
        for out_dir in out_dirs:
            require_writable_folder(out_dir)
    seed_everything(c.SEED + context.rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    # ---- data: the train/validation split of TRAIN_SET ------------------------------------------
    if needs_validation:
        list_dir = Path(data.split_dir or data.dataset_root)
        if context.is_main:  # the first call may write the split lists; the other processes then read them
            load_or_make_split(list_dir, image_dir, data.validation_size, c.SEED, data.train_set)
        barrier()
        train_stems, val_stems = load_or_make_split(list_dir, image_dir, data.validation_size, c.SEED,
                                                    data.train_set, report=False)
        train_pairs, val_pairs = pair_split(image_dir, mask_dir, train_stems, val_stems, report=context.is_main,
                                            lists=tuple(list_dir / name for name in split_list_names(data.train_set)))
        val_loader = inference_loader([p for _, p, _ in val_pairs], data.test_size, data.test_batch_size, workers,
                                      device.type == "cuda", [m for _, _, m in val_pairs], context.rank,
                                      context.world_size)

    runs: dict[str, dict[int, dict]] = {}  # method -> seed -> results, for the comparison table
    curves: dict[str, dict[int, dict]] = {}
    for seed in seeds:
        # Networks first: a post-hoc method needs its network trained before it is fitted.
        for method in sorted(methods, key=lambda m: post_hoc(m) is not None):
            out_dir = folder_of(method, seed)
            weights = Path(c.WEIGHTS) if c.WEIGHTS else folder_of(network_method(method), seed) / final_weights_name(
                optimisation.epochs)

            # ---- train --------------------------------------------------------------------------
            if method in trained and comparing and weights.is_file() and not c.RESUME:
                if context.is_main:
                    print(f"{method}: {weights} exists, so {method} is not retrained (this continues the "
                          f"comparison; delete {out_dir} to retrain it)")
            elif method in trained:
                seed_everything(seed + context.rank)
                network = build_model(model_settings.feat_channel, model_settings.pretrained_backbone, device)
                train_loader = training_loader(train_pairs, data.train_size, optimisation.batch_size, workers,
                                               device.type == "cuda", seed, context.rank, context.world_size)
                generator = torch.Generator(device).manual_seed(seed + context.rank)
                objective = build_objective(method, aslp, baselines, num_images=len(train_pairs),
                                            generator=generator, device=device)
                if context.is_main:
                    print(f"Training {method} (seed {seed}) on {len(train_pairs)} images ({len(val_pairs)} for "
                          f"validation), {optimisation.epochs} epochs at {data.train_size}px on "
                          f"{context.world_size} x {device.type}: batch {optimisation.batch_size} per process, "
                          f"{optimisation.batch_size * context.world_size} effective -> {out_dir}")
                run = TrainingRun(out_dir, inference, seed, generator, run_record({**constants, "SEED": seed}, method),
                                  [stem for stem, _, _ in train_pairs], c.RESUME)
                weights = train(network, objective, train_loader, val_loader, run, optimisation, speed, protocol)
                if context.is_main:
                    print(f"Saved {weights}")
            if not context.is_main:
                continue

            # ---- test: maps (a post-hoc method first fits its calibration on the validation split) ---
            if "test" in stages:
                network = load_weights(build_model(model_settings.feat_channel, device=device), weights)
                calibration = post_hoc(method)
                temperature = None if calibration is None else fit_post_hoc(
                    calibration, network, val_pairs, inference, post, seed, out_dir, weights)
                for name in data.test_datasets:
                    count = write_predictions(network, root / "Test" / name / "Image", out_dir, name, protocol,
                                              inference, temperature)
                    print(f"Wrote {count} maps of {name} to {out_dir}")

            # ---- evaluate: calibration and SOD metrics from the maps on disk ---------------------
            if "eval" in stages:
                print(f"Evaluating {method} ({out_dir}, {protocol.name} protocol)")
                test_root, probability_root = map_folders(out_dir, protocol)
                separate = probability_root != test_root and probability_root.is_dir()
                runs.setdefault(method, {})[seed] = evaluate_datasets(
                    test_root, root / "Test", list(data.test_datasets), out_dir, protocol=protocol,
                    workers=speed.eval_workers or None, n_bins=evaluation.n_bins,
                    boundary_width=evaluation.boundary_width,
                    probability_root=probability_root if separate else None, trust_map_levels=True,
                )
                curves_file = out_dir / "curves.json"
                if curves_file.is_file():  # only sets with foreground have curves
                    curves.setdefault(method, {})[seed] = json.loads(curves_file.read_text())
                    save_run_curves(out_dir, method)

    table_dir = EXPERIMENTS / (c.EXPERIMENT or "compare")
    if comparing and runs:
        print(f"\nComparison ({table_dir / 'comparison.md'})\n")
        ordered = {method: runs[method] for method in methods if method in runs}
        print(write_comparison(ordered, table_dir, protocol, curves))
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
