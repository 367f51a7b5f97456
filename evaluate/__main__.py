"""Command line: ``python -m evaluate``, scoring prediction folders against mask folders.

One set: ``--pred=DIR --gt=DIR [--name=NAME] [--prob=DIR]``. Several sets laid
out as ``<root>/<set>/``: ``--pred-root=DIR --gt-root=DIR --datasets=A,B,...
[--prob-root=DIR]`` (masks of set A in ``<gt-root>/A/GT/`` if that folder
exists, else ``<gt-root>/A/``). ``--protocol=paper`` (default) scores the maps
as the authors' code does (their maps are stretched per image); ``--prob`` /
``--prob-root`` then name the raw round(255 p) maps, whose calibrated-protocol
ECE / OE / ACC are reported beside. ``--protocol=calibrated`` scores raw
probability maps (see ``evaluate.runner``). Prints the tables and writes
``results.md/.csv/.json`` and reliability diagrams into ``--out``, by default a
folder beside the predictions named after them with ``_eval`` appended
(``maps/ECSSD`` -> ``maps/ECSSD_eval``), so that the outputs never mix with the
maps. Bad input (missing or empty folder, unreadable file, nothing to pair, an
output folder that cannot be written) prints a message on stderr and exits
with status 2 before any image is scored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluate.io import EvaluationInputError, mask_folder
from evaluate.runner import PROTOCOLS, run_evaluation

Jobs = list[tuple[str, Path, Path]]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluate",
        description="Score 8-bit saliency maps against masks: pixel calibration and SOD metrics.",
    )
    parser.add_argument("--pred", type=Path, help="folder of prediction maps (one set)")
    parser.add_argument("--gt", type=Path, help="folder of masks (one set)")
    parser.add_argument("--prob", type=Path, help="folder of raw round(255 p) maps (one set, paper protocol)")
    parser.add_argument("--name", help="name of the set in the report (default: the --pred folder name)")
    parser.add_argument("--pred-root", type=Path, help="folder holding one prediction folder per set")
    parser.add_argument("--gt-root", type=Path, help="folder holding one folder per set (masks in it or in its GT/)")
    parser.add_argument("--prob-root", type=Path, help="folder holding one raw-map folder per set (paper protocol)")
    parser.add_argument("--datasets", help="comma-separated set names, with --pred-root/--gt-root")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="paper",
        help="paper: as the authors' code (default); calibrated: raw probability maps, masks thresholded at 128",
    )
    parser.add_argument("--workers", type=_positive_int, help="processes (default: all cores)")
    parser.add_argument("--bins", type=_positive_int, default=10, help="equal-width confidence bins (default 10)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: <--pred or --pred-root>_eval, beside that folder)"
    )
    return parser


def _default_out(pred: Path) -> Path:
    resolved = pred.resolve()
    return resolved.with_name(f"{resolved.name}_eval")


def _jobs(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[Jobs, dict[str, Path] | None, Path]:
    single = args.pred is not None or args.gt is not None or args.prob is not None
    multi = any(value is not None for value in (args.pred_root, args.gt_root, args.prob_root, args.datasets))
    if single == multi:
        parser.error("give either --pred and --gt, or --pred-root, --gt-root and --datasets")
    if (args.prob or args.prob_root) and args.protocol != "paper":
        parser.error("--prob/--prob-root are read by the paper protocol only")
    if single:
        if args.pred is None or args.gt is None:
            parser.error("--pred and --gt go together")
        name = args.name or args.pred.resolve().name
        probs = {name: args.prob} if args.prob is not None else None
        return [(name, args.pred, args.gt)], probs, args.out or _default_out(args.pred)
    if args.pred_root is None or args.gt_root is None or not args.datasets:
        parser.error("--pred-root, --gt-root and --datasets go together")
    if args.name is not None:
        parser.error("--name is for one set; with --datasets the set names are used")
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    jobs = [(name, args.pred_root / name, mask_folder(args.gt_root, name)) for name in names]
    probs = {name: args.prob_root / name for name in names} if args.prob_root is not None else None
    return jobs, probs, args.out or _default_out(args.pred_root)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    jobs, probs, out_dir = _jobs(parser, args)
    try:
        run_evaluation(jobs, out_dir, workers=args.workers, n_bins=args.bins, protocol=args.protocol, prob_dirs=probs)
    except EvaluationInputError as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 2
    print(f"\nResults written to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
