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
ASLP_MODE = "MC"                # MC: entropy gain with the accuracy penalty; CS: clamp only
BETA = 2.0                      # perturbation strength: perturbed label = (1 - 2 BETA) y + BETA (ASLP, SLP)
ETA = 0.002                     # step size of the alpha update
LAMBDA = 2000.0                 # weight of the penalty keeping 1 - alpha BETA above validation accuracy
START_EPOCH = 5                 # alpha is first updated in epoch START_EPOCH + 1
# ---- comparison methods -------------------------------------------------------------------------
LS_EPSILON = 0.1                # LS: target (1 - eps) y + eps / 2
DL_ALPHA = 0.1                  # DisturbLabel: probability of flipping an image's mask per step
SLP_ALPHA = 0.1                 # SLP: the same fixed perturbation probability for every image (with BETA)
FOCAL_GAMMA = 3.0               # Focal: focusing exponent
MBLS_MARGIN = 10.0              # MbLS: logits beyond +-margin are penalised
MBLS_LAMBDA = 0.1               # MbLS: weight of that penalty
TS_PIXELS_PER_IMAGE = 4096      # TS: validation pixels sampled per image to fit the temperature
# ---- test and evaluation ------------------------------------------------------------------------
MINMAX_NORMALIZE = False        # stretch each map to [0, 255] like the authors' test script (breaks calibration)
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

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from configurator import ConfigError, parse_overrides
from data import (
    DataError, inference_loader, load_or_make_split, make_demo_dataset, pair_split, require_dir, training_loader,
)
from distributed import DeviceError, barrier, setup, teardown
from evaluate import EvaluationInputError, evaluate_datasets
from evaluate.comparison import write_comparison
from loss import OBJECTIVES, build_objective, fit_temperature
from model import CheckpointError, build_model, load_weights
from predict import validation_pixels, write_predictions
from train import TrainingError, final_weights_name, seed_everything, train

README_DATA = "see 'Data' in README.md, or run with --demo for the built-in synthetic data"
STAGE_NAMES = ("train", "test", "eval")
METHODS = (*OBJECTIVES, "TS")
EXPERIMENTS = Path("experiments")


def configure(argv: list[str]) -> SimpleNamespace:
    """The constants above, with the demo preset (if --demo) and then the command line applied."""
    constants = dict(CONSTANTS)
    overrides = parse_overrides(constants, argv)
    if overrides.get("DEMO", DEMO):
        scaled = {k: v for k, v in DEMO_PRESET.items() if k not in overrides}
        print("Demo configuration: " + ", ".join(f"{k.lower()}={v}" for k, v in scaled.items()))
        constants.update(scaled)
    constants.update(overrides)
    return SimpleNamespace(**constants)


def experiment_dir(experiment: str, method: str, aslp_mode: str, comparing: bool) -> Path:
    """experiments/<EXPERIMENT or method>/, or experiments/<EXPERIMENT or compare>/<method>/ when comparing."""
    auto = f"ASLP_{aslp_mode}" if method == "ASLP" else method
    return EXPERIMENTS / (experiment or "compare") / auto if comparing else EXPERIMENTS / (experiment or auto)


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


def main(argv: list[str]) -> int:
    c = configure(argv)
    stages = [s.strip() for s in c.STAGES.split(",") if s.strip()]
    if set(stages) - set(STAGE_NAMES):
        raise ConfigError(f"--stages: unknown stage(s) {', '.join(sorted(set(stages) - set(STAGE_NAMES)))}; "
                          f"use {','.join(STAGE_NAMES)}")
    methods = [m.strip() for m in c.COMPARE.split(",") if m.strip()] or [c.METHOD]
    if set(methods) - set(METHODS):
        raise ConfigError(f"unknown method(s) {', '.join(sorted(set(methods) - set(METHODS)))}; "
                          f"choose from {', '.join(METHODS)}")
    comparing = len(methods) > 1
    training = "train" in stages and not c.WEIGHTS and methods != ["TS"]
    needs_validation = training or "TS" in methods
    root, test_sets = Path(c.DATASET_ROOT), list(c.TEST_DATASETS)
    if c.WEIGHTS and not Path(c.WEIGHTS).is_file():
        raise CheckpointError(f"--weights: file not found: {c.WEIGHTS}")
    context = setup(c.DEVICE)
    device, pin = context.device, context.device.type == "cuda"
    if c.DEMO and context.is_main:
        make_demo_dataset(root, seed=c.SEED)
    barrier()
    check_inputs(root, c.TRAIN_SET, test_sets, stages, needs_validation)
    seed_everything(c.SEED + context.rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    # ---- data: the train/validation split of DUTS-TR -------------------------------------------
    if needs_validation:
        image_dir, mask_dir = root / "Train" / c.TRAIN_SET / "Image", root / "Train" / c.TRAIN_SET / "GT"
        if context.is_main:  # the first call may write the split lists; the other processes then read them
            load_or_make_split(root, image_dir, c.VALIDATION_SIZE, c.SEED)
        barrier()
        train_stems, val_stems = load_or_make_split(root, image_dir, c.VALIDATION_SIZE, c.SEED)
        train_pairs, val_pairs = pair_split(image_dir, mask_dir, train_stems, val_stems, report=context.is_main)
        val_loader = inference_loader([p for _, p, _ in val_pairs], c.TEST_SIZE, c.TEST_BATCH_SIZE, c.NUM_WORKERS,
                                      pin, [m for _, _, m in val_pairs], context.rank, context.world_size)

    results = {}
    for method in methods:
        out_dir = experiment_dir(c.EXPERIMENT, method, c.ASLP_MODE, comparing)
        if context.is_main:
            prepare_output(out_dir)
        weights = Path(c.WEIGHTS) if c.WEIGHTS else out_dir / final_weights_name(c.EPOCHS)
        if method == "TS" and not c.WEIGHTS:  # temperature scaling sits on top of the BCE baseline
            weights = experiment_dir(c.EXPERIMENT, "BCE", c.ASLP_MODE, comparing) / final_weights_name(c.EPOCHS)

        # ---- train ------------------------------------------------------------------------------
        if training and method != "TS" and comparing and weights.is_file() and not c.RESUME:
            if context.is_main:
                print(f"{method}: {weights} exists, skipping its training")
        elif training and method != "TS":
            seed_everything(c.SEED + context.rank)
            network = build_model(c.FEAT_CHANNEL, c.PRETRAINED_BACKBONE, device)
            train_loader = training_loader(train_pairs, c.TRAIN_SIZE, c.BATCH_SIZE, c.NUM_WORKERS, pin, c.SEED,
                                           context.rank, context.world_size)
            generator = torch.Generator(device).manual_seed(c.SEED + context.rank)
            objective = build_objective(
                method, num_images=len(train_pairs), beta=c.BETA, eta=c.ETA, lam=c.LAMBDA,
                start_epoch=c.START_EPOCH, aslp_mode=c.ASLP_MODE, generator=generator, device=device,
                ls_epsilon=c.LS_EPSILON, dl_alpha=c.DL_ALPHA, slp_alpha=c.SLP_ALPHA, focal_gamma=c.FOCAL_GAMMA,
                mbls_margin=c.MBLS_MARGIN, mbls_lambda=c.MBLS_LAMBDA,
            )
            if context.is_main:
                print(f"Training {method} on {len(train_pairs)} images ({len(val_pairs)} for validation), "
                      f"{c.EPOCHS} epochs at {c.TRAIN_SIZE}px on {context.world_size} x {device.type}: batch "
                      f"{c.BATCH_SIZE} per process, {c.BATCH_SIZE * context.world_size} effective -> {out_dir}")
            weights = train(
                network, objective, train_loader, val_loader, names=[stem for stem, _, _ in train_pairs],
                out_dir=out_dir, device=device, epochs=c.EPOCHS, lr=c.LR, decay_rate=c.DECAY_RATE,
                decay_epoch=c.DECAY_EPOCH, seed=c.SEED, generator=generator, resume=c.RESUME, amp=c.AMP,
                channels_last=c.CHANNELS_LAST, log_every=c.LOG_EVERY,
            )
            if context.is_main:
                print(f"Saved {weights}")
        if not context.is_main:
            continue

        # ---- test: probability maps (TS first fits its temperature on the validation split) ------
        if "test" in stages:
            network = load_weights(build_model(c.FEAT_CHANNEL, device=device), weights)
            temperature = 1.0
            if method == "TS":
                all_val = inference_loader([p for _, p, _ in val_pairs], c.TEST_SIZE, c.TEST_BATCH_SIZE,
                                           c.NUM_WORKERS, pin, [m for _, _, m in val_pairs])  # every image, not a shard
                logits, labels = validation_pixels(network, all_val, device, c.TS_PIXELS_PER_IMAGE, c.SEED, c.AMP)
                temperature = fit_temperature(logits, labels)
                (out_dir / "temperature.json").write_text(json.dumps({"temperature": temperature,
                                                                      "weights": str(weights)}) + "\n")
                print(f"TS: temperature {temperature:.4f} fitted on {labels.numel()} validation pixels of {weights}")
            for name in test_sets:
                count = write_predictions(
                    network, root / "Test" / name / "Image", out_dir / "predictions" / name, size=c.TEST_SIZE,
                    device=device, batch_size=c.TEST_BATCH_SIZE, num_workers=c.NUM_WORKERS,
                    minmax_normalize=c.MINMAX_NORMALIZE, amp=c.AMP, temperature=temperature,
                    desc=f"Testing {name}",
                )
                print(f"Wrote {count} maps to {out_dir / 'predictions' / name}")

        # ---- evaluate: calibration and SOD metrics from the maps on disk -------------------------
        if "eval" in stages:
            print(f"Evaluating {method} ({out_dir})")
            results[method] = evaluate_datasets(out_dir / "predictions", root / "Test", test_sets, out_dir,
                                                workers=c.EVAL_WORKERS or None, n_bins=c.N_BINS)

    if comparing and results:
        table_dir = EXPERIMENTS / (c.EXPERIMENT or "compare")
        print(f"\nComparison ({table_dir / 'comparison.md'})\n")
        print(write_comparison(results, table_dir))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ConfigError, DataError, DeviceError, CheckpointError, EvaluationInputError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    finally:
        teardown()
