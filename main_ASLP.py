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
METHOD = "ASLP"                 # ASLP or a comparison method, post-hoc TS/LTS/SEL/SEL-context on BCE, or X+TS etc.
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
SVLS_KERNEL = 3                 # SVLS: side of the smoothing kernel (mobarakol/SVLS svls.py, kernel_size=3)
SVLS_SIGMA = 1.0                # SVLS: its Gaussian's sigma (mobarakol/SVLS main.py, --svls_smoothing 1.0)
NACL_KERNEL = 3                 # NACL: side of the mean filter of the label proportions (MONAI NACLLoss, kernel_size=3)
NACL_WEIGHT = 0.1               # NACL: weight of the logit-proportion L1 penalty (MONAI NACLLoss, alpha=0.1)
TS_PIXELS_PER_IMAGE = 4096      # TS: validation pixels sampled per image to fit the temperature
LTS_EPOCHS = 40                 # LTS: passes over the validation maps to fit the local temperature network
LTS_LR = 0.01                   # LTS: Adam learning rate of that fit
SEL_CONTEXT = 5                 # SEL-context: side of the logit patch its detector reads (SEL, the paper's: 1)
# ---- test and evaluation ------------------------------------------------------------------------
PROTOCOL = "paper"              # "paper": the authors' maps, validation accuracy and metrics; "calibrated": probability maps
TEST_BATCH_SIZE = 10            # images per inference batch
N_BINS = 10                     # equal-width confidence bins of the binned calibration metrics (metrics/table.py)
BOUNDARY_WIDTH = 5              # px: calibration metrics also within this of a mask's object boundary, and in the rest
EVAL_WORKERS = 0                # evaluation processes (0: all cores)
# ---- calibration under shift (docs/shift.md) ----------------------------------------------------
CORRUPTIONS = ""                # also score the test sets under these corruptions: names, noise/blur/weather/digital, all
SEVERITIES = "1,2,3,4,5"        # severities of CORRUPTIONS (1 to 5)
CORRUPTED_SETS = ""             # the test sets to corrupt; "" every one of TEST_DATASETS
# ---- speed --------------------------------------------------------------------------------------
AMP = False                     # bfloat16 autocast (off: the authors' float32 recipe)
CHANNELS_LAST = False           # channels-last memory format
LOG_EVERY = 20                  # progress-bar refresh (host sync) every LOG_EVERY steps

CONSTANTS = {name: value for name, value in globals().items() if name.isupper()}  # what --name=value may set

# The demo: small synthetic images, a small decoder and a random-init backbone, so that the whole
# pipeline runs on 2 CPU cores in about a minute and a half. Alpha starts after two epochs and steps
# ten times the paper's ETA, so that in eight epochs it grows enough to perturb some labels (the
# paper's 30 epochs give it 25 updates per image). Explicit command-line values still win.
DEMO_PRESET = dict(
    EXPERIMENT="demo", DATASET_ROOT="demo_data", TEST_DATASETS=("DEMO-SOD", "DEMO-Texture"),
    VALIDATION_SIZE=20, TRAIN_SIZE=64, TEST_SIZE=64, NUM_WORKERS=0, FEAT_CHANNEL=32,
    PRETRAINED_BACKBONE="", EPOCHS=8, LR=5e-4, BATCH_SIZE=10, DECAY_EPOCH=10, START_EPOCH=2, ETA=0.02, LOG_EVERY=5,
)

from common.interrupts import command_main, exiting_on_interrupt, run_command, start_command

INTERRUPTED = "interrupted"  # what Ctrl-C outside training says (training's says where its checkpoint is)
if __name__ == "__main__":  # Ctrl-C while the modules load: this one line and status 130 (common/interrupts.py)
    start_command(INTERRUPTED)

import shlex  # noqa: E402  (after the handler above)
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from common.configurator import HELP_FLAGS, constants_help, format_value, parse_overrides  # noqa: E402
from common.settings import Settings  # noqa: E402


def configure(argv: list[str], announce: bool = True) -> Settings:
    """The constants above, with the demo preset (if --demo) and then the command line applied, as the
    settings groups; a ConfigError names an option that cannot work. Imports nothing heavy."""
    constants = dict(CONSTANTS)
    overrides = parse_overrides(constants, argv)
    if overrides.get("DEMO", DEMO):
        scaled = {k: v for k, v in DEMO_PRESET.items() if k not in overrides}
        if announce:
            print("Demo configuration: " + ", ".join(f"{k.lower()}={v}" for k, v in scaled.items()))
        constants.update(scaled)
    return Settings.from_constants({**constants, **overrides})


def main(argv: list[str]) -> int:
    """train -> test -> evaluate, for every method and seed asked for; returns the exit status."""
    settings = configure(argv)
    with exiting_on_interrupt(INTERRUPTED):
        import pipeline  # torch and the network load only now (5-20 s): a typo above costs nothing

    with pipeline.prepared(settings) as run:  # device, demo data, the split; every input and output checked
        for seed in settings.run.seeds:
            for method in run.order:  # networks first: a post-hoc method calibrates a trained one
                # ---- train: SC-BCE on labels perturbed with a learnt alpha per image (or the method's objective)
                if method in run.trained:
                    pipeline.train_network(run, method, seed)
                if not run.reports(method):
                    continue
                # ---- test: the protocol's maps of every test set (a post-hoc method first fits its calibrator)
                if "test" in settings.run.stages:
                    pipeline.write_test_maps(run, method, seed)
                # ---- evaluate: calibration and SOD metrics from the maps on disk
                if "eval" in settings.run.stages:
                    pipeline.score_test_maps(run, method, seed)
        pipeline.finish(run)  # the comparison of the runs, and where every file went
    return 0


def usage() -> str:
    """--help: the docstring, then every constant with its default and comment, from the block above."""
    demo = " ".join(f"--{k.lower()}={format_value(v)}" for k, v in DEMO_PRESET.items())
    options = constants_help(Path(__file__).read_text(), CONSTANTS)
    demo_note = textwrap.fill(f"--demo changes the defaults to {demo}", 100, break_on_hyphens=False)
    return f"{__doc__.strip()}\n\nOptions, with their defaults:\n\n{options}\n\n{demo_note}"


def interruption_message(interrupt: KeyboardInterrupt, argv: list[str]) -> str:
    """What Ctrl-C left behind and, after a checkpoint, the exact command that continues the run
    (training's interruption says whether it is `resumable`; read without importing training)."""
    resumable = getattr(interrupt, "resumable", None)
    if resumable is None:
        return INTERRUPTED
    if not resumable:
        return f"{interrupt}; run the same command again to start over"
    kept = [a for a in argv if a.lstrip("-").partition("=")[0].replace("-", "_").lower() != "resume"]
    return f"{interrupt}; continue with:\n  {shlex.join(['python', sys.argv[0], *kept, '--resume'])}"


def body(argv: list[str]) -> int:
    """--help, or main()."""
    if set(HELP_FLAGS) & set(argv):
        print(usage())
        return 0
    return main(argv)


def cli(argv: list[str]) -> int:
    """main() as a command (common/interrupts.py): one `error:` line and status 2 for what the user can fix;
    for Ctrl-C, where things stand and 130; a closed pipe, quiet."""
    return run_command(lambda: body(argv), interrupted=lambda interrupt: interruption_message(interrupt, argv))


if __name__ == "__main__":  # Ctrl-C now lets training save and say where it stands
    command_main(lambda: cli(sys.argv[1:]))
