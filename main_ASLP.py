"""ASLP: train a saliency network with Adaptive Stochastic Label Perturbation, write its prediction
maps for the test sets, and score them (ECE, OE, accuracy, F-measure, ...).

    CUDA_VISIBLE_DEVICES=0 python main_ASLP.py            # the paper's full reproduction
    python main_ASLP.py --demo                            # the whole pipeline on synthetic data, CPU
    python main_ASLP.py --weights=Model_30_Gen.pth --stages=test,eval

Every constant below can be overridden on the command line: --epochs=2 --train_size=64.
"""
# ---- experiment -------------------------------------------------------------------------------
EXPERIMENT = "ASLP_MC"          # output folder: experiments/<EXPERIMENT>/
STAGES = "train,test,eval"      # stages to run, in this order
WEIGHTS = ""                    # test/evaluate this checkpoint instead of training (ours or Model_30_Gen.pth)
RESUME = False                  # continue from experiments/<EXPERIMENT>/checkpoint.pth
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
METHOD = "ASLP"                 # training objective: ASLP or BCE
ASLP_MODE = "MC"                # MC: entropy gain with the accuracy penalty; CS: clamp only
BETA = 2.0                      # perturbation strength: perturbed label = (1 - 2 BETA) y + BETA
ETA = 0.002                     # step size of the alpha update
LAMBDA = 2000.0                 # weight of the penalty keeping 1 - alpha BETA above validation accuracy
START_EPOCH = 5                 # alpha is first updated in epoch START_EPOCH + 1
# ---- test and evaluation ------------------------------------------------------------------------
MINMAX_NORMALIZE = False        # stretch each map to [0, 255] like the authors' test script (breaks calibration)
TEST_BATCH_SIZE = 10            # images per inference batch
N_BINS = 10                     # confidence bins of ECE / OE
EVAL_WORKERS = 0                # evaluation processes (0: all cores)
# ---- speed --------------------------------------------------------------------------------------
AMP = False                     # bfloat16 autocast (off: the authors' float32 recipe)
CHANNELS_LAST = False           # channels-last memory format
LOG_EVERY = 20                  # progress-bar refresh (host sync) every LOG_EVERY steps

# The demo: small synthetic images, a small decoder and a random-init backbone, so that the whole
# pipeline runs on 2 CPU cores in a few minutes. Explicit command-line values still win.
DEMO_PRESET = dict(
    EXPERIMENT="demo", DATASET_ROOT="demo_data", TEST_DATASETS=("DEMO-SOD", "DEMO-Texture"),
    VALIDATION_SIZE=20, TRAIN_SIZE=64, TEST_SIZE=64, NUM_WORKERS=0, FEAT_CHANNEL=32,
    PRETRAINED_BACKBONE="", EPOCHS=20, LR=5e-4, BATCH_SIZE=10, DECAY_EPOCH=10, START_EPOCH=6, LOG_EVERY=5,
)

import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch
from torch.utils.data import DataLoader

from configurator import ConfigError, parse_overrides
from data import DataError, TrainingSet, load_or_make_split, make_demo_dataset, pair_files, require_dir
from evaluate import EvaluationInputError, evaluate_datasets
from loss import build_objective
from model import CheckpointError, build_model, load_weights
from predict import inference_loader, write_predictions
from train import TrainingError, final_weights_name, seed_everything, train

README_DATA = "see 'Data' in README.md, or run with --demo for the built-in synthetic data"


def pick_device(name: str) -> torch.device:
    """The one device of the run; CUDA asked for but absent is an error, 'auto' falls back with a warning."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        print("Warning: CUDA is not available, running on the CPU (slow for the full configuration).")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"DEVICE={name} but CUDA is not available here; use --device=cpu or --device=auto")
    return device


def check_inputs(root: Path, train_set: str, test_sets: list[str], stages: list[str], weights: str) -> None:
    """Fail at once, before any training, if a folder that a later stage needs is missing."""
    if "train" in stages and not weights:
        for sub in ("Image", "GT"):
            require_dir(root / "Train" / train_set / sub, README_DATA)
    for name in test_sets:
        if "test" in stages:
            require_dir(root / "Test" / name / "Image", README_DATA)
        if "eval" in stages:
            require_dir(root / "Test" / name / "GT", README_DATA)


def main(argv: list[str]) -> int:
    constants = {k: v for k, v in globals().items() if k.isupper() and k != "DEMO_PRESET" and k != "README_DATA"}
    overrides = parse_overrides(constants, argv)
    if overrides.get("DEMO", DEMO):
        scaled = {k: v for k, v in DEMO_PRESET.items() if k not in overrides}
        print("Demo configuration: " + ", ".join(f"{k.lower()}={v}" for k, v in scaled.items()))
        constants.update(scaled)
    constants.update(overrides)
    c = SimpleNamespace(**constants)

    stages = [s.strip() for s in c.STAGES.split(",") if s.strip()]
    unknown = set(stages) - {"train", "test", "eval"}
    if unknown:
        raise ConfigError(f"--stages: unknown stage(s) {', '.join(sorted(unknown))}; use train,test,eval")
    root, out_dir = Path(c.DATASET_ROOT), Path("experiments") / c.EXPERIMENT
    test_sets = list(c.TEST_DATASETS)
    if c.DEMO:
        make_demo_dataset(root, seed=c.SEED)
    check_inputs(root, c.TRAIN_SET, test_sets, stages, c.WEIGHTS)
    device = pick_device(c.DEVICE)
    seed_everything(c.SEED)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    pin = device.type == "cuda"

    training = "train" in stages and not c.WEIGHTS
    network = build_model(c.FEAT_CHANNEL, c.PRETRAINED_BACKBONE if training else "", device)
    weights = Path(c.WEIGHTS) if c.WEIGHTS else out_dir / final_weights_name(c.EPOCHS)

    if training:
        image_dir, mask_dir = root / "Train" / c.TRAIN_SET / "Image", root / "Train" / c.TRAIN_SET / "GT"
        train_stems, val_stems = load_or_make_split(root, image_dir, c.VALIDATION_SIZE, c.SEED)
        train_pairs = pair_files(image_dir, mask_dir, train_stems)
        val_pairs = pair_files(image_dir, mask_dir, val_stems)
        training_set = TrainingSet(train_pairs, c.TRAIN_SIZE)
        train_loader = DataLoader(
            training_set, batch_size=c.BATCH_SIZE, shuffle=True, num_workers=c.NUM_WORKERS, pin_memory=pin,
            persistent_workers=c.NUM_WORKERS > 0, generator=torch.Generator(),
        )
        val_loader = inference_loader([p for _, p, _ in val_pairs], c.TEST_SIZE, c.TEST_BATCH_SIZE, c.NUM_WORKERS,
                                      pin, masks=[m for _, _, m in val_pairs])
        generator = torch.Generator(device).manual_seed(c.SEED)
        objective = build_objective(
            c.METHOD, num_images=len(training_set), beta=c.BETA, eta=c.ETA, lam=c.LAMBDA,
            start_epoch=c.START_EPOCH, aslp_mode=c.ASLP_MODE, generator=generator, device=device,
        )
        print(f"Training {c.METHOD} on {len(training_set)} images ({len(val_pairs)} for validation) on {device}, "
              f"{c.EPOCHS} epochs of batch {c.BATCH_SIZE} at {c.TRAIN_SIZE}px -> {out_dir}")
        weights = train(
            network, objective, train_loader, val_loader, names=training_set.names, out_dir=out_dir, device=device,
            epochs=c.EPOCHS, lr=c.LR, decay_rate=c.DECAY_RATE, decay_epoch=c.DECAY_EPOCH, seed=c.SEED,
            generator=generator, resume=c.RESUME, amp=c.AMP, channels_last=c.CHANNELS_LAST, log_every=c.LOG_EVERY,
        )
        print(f"Saved {weights}")

    if "test" in stages:
        load_weights(network, weights)
        for name in test_sets:
            count = write_predictions(
                network, root / "Test" / name / "Image", out_dir / "predictions" / name, size=c.TEST_SIZE,
                device=device, batch_size=c.TEST_BATCH_SIZE, num_workers=c.NUM_WORKERS,
                minmax_normalize=c.MINMAX_NORMALIZE, amp=c.AMP, desc=f"Testing {name}",
            )
            print(f"Wrote {count} maps to {out_dir / 'predictions' / name}")

    if "eval" in stages:
        evaluate_datasets(out_dir / "predictions", root / "Test", test_sets, out_dir,
                          workers=c.EVAL_WORKERS or None, n_bins=c.N_BINS)
    return 0


if __name__ == "__main__":
    warnings.simplefilter("default")
    try:
        sys.exit(main(sys.argv[1:]))
    except (ConfigError, DataError, CheckpointError, EvaluationInputError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
