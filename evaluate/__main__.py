"""Command line: ``python -m evaluate``, scoring prediction folders against mask folders.

One set: ``--pred=DIR --gt=DIR [--name=NAME]``. Several sets laid out as
``<root>/<set>/``: ``--pred-root=DIR --gt-root=DIR --datasets=A,B,...`` (masks
of set A in ``<gt-root>/A/GT/`` if that folder exists, else ``<gt-root>/A/``).
Prints the tables and writes ``results.md/.csv/.json`` and reliability
diagrams into ``--out`` (default: the prediction folder or root). Bad input
(missing or empty folder, unreadable file, nothing to pair) prints a message on
stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluate.io import EvaluationInputError, mask_folder
from evaluate.runner import run_evaluation


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
    parser.add_argument("--name", help="name of the set in the report (default: the --pred folder name)")
    parser.add_argument("--pred-root", type=Path, help="folder holding one prediction folder per set")
    parser.add_argument("--gt-root", type=Path, help="folder holding one folder per set (masks in it or in its GT/)")
    parser.add_argument("--datasets", help="comma-separated set names, with --pred-root/--gt-root")
    parser.add_argument("--workers", type=_positive_int, help="processes (default: all cores)")
    parser.add_argument("--bins", type=_positive_int, default=10, help="equal-width confidence bins (default 10)")
    parser.add_argument("--out", type=Path, help="output folder (default: --pred or --pred-root)")
    return parser


def _jobs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[list[tuple[str, Path, Path]], Path]:
    single = args.pred is not None or args.gt is not None
    multi = args.pred_root is not None or args.gt_root is not None or args.datasets is not None
    if single == multi:
        parser.error("give either --pred and --gt, or --pred-root, --gt-root and --datasets")
    if single:
        if args.pred is None or args.gt is None:
            parser.error("--pred and --gt go together")
        return [(args.name or args.pred.resolve().name, args.pred, args.gt)], args.out or args.pred
    if args.pred_root is None or args.gt_root is None or not args.datasets:
        parser.error("--pred-root, --gt-root and --datasets go together")
    if args.name is not None:
        parser.error("--name is for one set; with --datasets the set names are used")
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    jobs = [(name, args.pred_root / name, mask_folder(args.gt_root, name)) for name in names]
    return jobs, args.out or args.pred_root


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    jobs, out_dir = _jobs(parser, args)
    try:
        run_evaluation(jobs, out_dir, workers=args.workers, n_bins=args.bins)
    except EvaluationInputError as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 2
    print(f"\nResults written to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
