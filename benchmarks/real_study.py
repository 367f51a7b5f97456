"""The real-image calibration study: several methods, several seeds, on PASCAL-S.

    python benchmarks/real_study.py              # full study: 7 methods x 3 seeds, 384 px, 30 epochs (a GPU)
    python benchmarks/real_study.py --reduced    # what fits 2 CPU cores: BCE, ASLP and TS x 3 seeds, 96 px

PASCAL-S is split once into 600 training, 100 validation and 150 test images (lists committed in
`Dataset/PASCAL-S-study/`) and laid out as a data root (`data/pascal_s.py`); then `main_ASLP.py`
trains and scores each method once per seed (`--compare`, `--seeds`) and writes the mean ± std
table, `comparison.md`, beside the runs, under the paper protocol with the raw-probability ECE / OE
beside it. This script adds `reliability_study.png`: per method, accuracy against confidence of
every seed's raw probabilities, pooled over the test images.

ImageNet weights cannot be had on the machines this was written on, so the backbone starts from
random initialisation (`--pretrained_backbone=""`) with the demo's learning rate: not the paper's
setting, and said so wherever the numbers are shown. A method whose final weights exist is not
retrained, so an interrupted study continues where it stopped.
"""
from __future__ import annotations

import argparse
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from data.pascal_s import SET_NAME, lay_out  # noqa: E402
from evaluate.calibration import calibration_bins, level_counts  # noqa: E402
from evaluate.io import load_pair, pair_folders  # noqa: E402

DEFAULT_SOURCE = PROJECT.parent / "shared" / "data" / "PASCAL-S"
FULL = dict(methods="BCE,LS,SLP,ASLP,Focal,MbLS,TS", seeds="1,2,3", size=384, epochs=30, feat_channel=256)
REDUCED = dict(methods="BCE,ASLP,TS", seeds="1,2,3", size=96, epochs=16, feat_channel=32)


def study_command(args: argparse.Namespace, root: Path, extra: list[str]) -> list[str]:
    """The main_ASLP.py invocation of the study (printed, so that it can be rerun by hand)."""
    return [
        sys.executable, "main_ASLP.py", f"--dataset_root={root}", f"--train_set={SET_NAME}",
        f"--test_datasets={SET_NAME}", f"--compare={args.methods}", f"--seeds={args.seeds}",
        f"--experiment={args.experiment}", f"--train_size={args.size}", f"--test_size={args.size}",
        f"--feat_channel={args.feat_channel}", f"--epochs={args.epochs}", f"--lr={args.lr}",
        "--pretrained_backbone=", f"--num_workers={args.num_workers}", *extra,
    ]


def method_folder(method: str) -> str:
    return "ASLP_MC" if method == "ASLP" else method


def plot_study(run_dir: Path, methods: list[str], seeds: list[int], root: Path, out: Path, n_bins: int = 10) -> None:
    """One panel per method: accuracy against confidence of each seed's raw probability maps."""
    gt_dir = root / "Test" / SET_NAME / "GT"
    figure, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.4), squeeze=False)
    for axis, method in zip(axes[0], methods):
        for seed in seeds:
            maps = run_dir / f"seed{seed}" / method_folder(method) / "probabilities" / SET_NAME
            if not maps.is_dir():
                continue
            counts = sum(level_counts(pair.pred, pair.gt) for pair in map(load_pair, pair_folders(maps, gt_dir).pairs))
            stats = calibration_bins(counts, n_bins)
            filled = stats.count > 0
            axis.plot(stats.confidence[filled], stats.accuracy[filled], "o-", ms=3, label=f"seed {seed}")
        axis.plot([0.5, 1], [0.5, 1], "k--", lw=0.8, label="calibrated")
        axis.set(title=method, xlabel="confidence", xlim=(0.5, 1), ylim=(0.3, 1))
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(f"PASCAL-S test images, raw probabilities (random-init backbone, {len(seeds)} seeds)", fontsize=9)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="the CPU study: " + ", ".join(f"{k}={v}" for k, v in REDUCED.items()))
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the PASCAL-S folder (Image/, GT/)")
    parser.add_argument("--experiment", default="real_study", help="runs go to experiments/<experiment>/seed<s>/<method>/")
    parser.add_argument("--methods", help=f"default {FULL['methods']}")
    parser.add_argument("--seeds", help=f"default {FULL['seeds']}")
    parser.add_argument("--size", type=int, help=f"train and test resolution, default {FULL['size']}")
    parser.add_argument("--epochs", type=int, help=f"default {FULL['epochs']}")
    parser.add_argument("--feat-channel", type=int, help=f"decoder channels, default {FULL['feat_channel']}")
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (the demo's, for a random-init backbone)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader processes")
    args, extra = parser.parse_known_args(argv)  # the rest goes to main_ASLP.py, e.g. --device=cuda
    for key, value in (REDUCED if args.reduced else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not (args.source / "Image").is_dir():
        print(f"error: PASCAL-S not found at {args.source} (expected Image/ and GT/ there); pass --source=PATH",
              file=sys.stderr)
        return 2

    root = lay_out(args.source, PROJECT / "experiments" / args.experiment / "data")
    command = study_command(args, root.relative_to(PROJECT), extra)
    print("Running:", shlex.join(command[1:]), f"\n(on {platform.node()}, {platform.processor() or platform.machine()})")
    started = time.monotonic()
    status = subprocess.call(command, cwd=PROJECT)
    if status != 0:
        return status
    run_dir = PROJECT / "experiments" / args.experiment
    methods = [m for m in args.methods.split(",") if m]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    plot_study(run_dir, methods, seeds, root, run_dir / "reliability_study.png")
    print(f"\nStudy done in {(time.monotonic() - started) / 60:.1f} min: {run_dir / 'comparison.md'}, "
          f"{run_dir / 'reliability_study.png'}, per-run reliability diagrams in {run_dir}/seed*/<method>/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
