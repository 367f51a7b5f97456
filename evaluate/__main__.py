"""Command line: scoring prediction folders against mask folders.

Run as ``python -m evaluate`` from the repository root, or from anywhere as ``python PATH/TO/REPO/evaluate``
(the package folder) or ``python PATH/TO/REPO/evaluate/__main__.py``. One set: ``--pred=DIR --gt=DIR
[--name=NAME] [--probabilities=DIR]``. Several sets laid out as ``<root>/<set>/``: ``--pred-root=DIR
--gt-root=DIR --datasets=A,B,... [--probabilities-root=DIR]`` (masks of set A in ``<gt-root>/A/GT/`` if that
folder exists, else ``<gt-root>/A/``). ``--protocol`` picks what the numbers mean (:mod:`protocol`);
under a protocol whose test maps are not the probability maps themselves (paper: stretched maps),
``--probabilities`` / ``--probabilities-root`` name the probability maps, whose calibration is reported beside.
``--trust-map-levels`` scores maps holding only the levels 0 and 1 as they are (a model whose p <= 1/255
nearly everywhere) instead of refusing them as binary maps stored as 0/1. ``--void=LEVEL`` leaves the pixels
of one grey mask level out of every metric, as the void (palette index 255) of VOC-style masks always is. Prints the tables and writes
``results.md/.csv/.json``, reliability diagrams and ``report.html`` (every image, worst first; the photographs
from ``--photos`` or the ``Image/`` folder beside the masks) into ``--out``, by default a folder beside the predictions
named after them with ``_eval`` appended (``maps/ECSSD`` -> ``maps/ECSSD_eval``), so that the outputs never mix
with the maps. Bad input prints ``evaluate: error: ...`` on stderr and exits with status 2 before any image is
scored; Ctrl-C prints one line and exits with status 130. The scoring libraries are imported only after the
arguments are parsed, so ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import os
import sys

if not __package__:
    # Run as a file, Python put this folder, not the repository root, first on sys.path: `import evaluate` would
    # fail, and this folder's modules would pass for top-level ones. Import the package from the root instead.
    # (os.path, loaded with Python itself: nothing is imported before the Ctrl-C handler below.)
    _PACKAGE_FOLDER = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or ".") == _PACKAGE_FOLDER:
        del sys.path[0]
    sys.path.insert(0, os.path.dirname(_PACKAGE_FOLDER))

from common.interrupts import command_main, exiting_on_interrupt, run_command, start_command  # noqa: E402

INTERRUPTED = "evaluate: interrupted (Ctrl-C) before the results were written"
if __name__ == "__main__":  # Ctrl-C while the modules load: this one line and status 130 (common/interrupts.py)
    start_command(INTERRUPTED)

import argparse  # noqa: E402  (after the handler)
from pathlib import Path  # noqa: E402

from common.errors import OneLineParser  # noqa: E402  (after the path fix)
from metrics.boundary import BOUNDARY_WIDTH  # noqa: E402  (after the path fix)
from protocol import DEFAULT_PROTOCOL, PROTOCOLS, get_protocol  # noqa: E402  (after the path fix)

Jobs = list[tuple[str, Path, Path]]
# The protocols whose test maps are not the probability maps, which therefore read those beside them.
READING_PROBABILITY_MAPS = [name for name, protocol in PROTOCOLS.items() if protocol.writes_probability_maps]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(  # usage errors as one line, as every other error of the command
        prog="python -m evaluate", error_format="evaluate: error: {}; python -m evaluate --help lists the options",
        description="Score 8-bit saliency maps against masks: pixel calibration and SOD metrics.",
    )
    parser.add_argument("--pred", type=Path, help="folder of prediction maps (one set)")
    parser.add_argument("--gt", type=Path, help="folder of masks (one set)")
    protocols = "/".join(READING_PROBABILITY_MAPS)
    parser.add_argument(
        "--probabilities",
        type=Path,
        help=f"folder of the probability maps round(255 p) of the --pred maps (one set; --protocol={protocols})",
    )
    parser.add_argument("--name", help="name of the set in the report (default: the --pred folder name)")
    parser.add_argument("--photos", type=Path, help="folder of the photographs (one set), shown beside the maps in "
                        "report.html (default: the Image/ folder beside the --gt folder, if there is one)")
    parser.add_argument("--pred-root", type=Path, help="folder holding one prediction folder per set")
    parser.add_argument("--gt-root", type=Path, help="folder holding one folder per set (masks in it or in its GT/)")
    parser.add_argument(
        "--probabilities-root",
        type=Path,
        help=f"folder holding one probability-map folder per set (--protocol={protocols})",
    )
    parser.add_argument("--datasets", help="comma-separated set names, with --pred-root/--gt-root")
    parser.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        default=DEFAULT_PROTOCOL,
        help="; ".join(f"{name}: {protocol.description}" for name, protocol in PROTOCOLS.items())
        + f" (default {DEFAULT_PROTOCOL})",
    )
    parser.add_argument(
        "--trust-map-levels",
        action="store_true",
        help="score maps holding only the levels 0 and 1 as they are (a model whose p <= 1/255 nearly everywhere "
        "writes such probability maps) instead of refusing them as binary maps stored as 0/1",
    )
    parser.add_argument(
        "--void", type=int, metavar="LEVEL",
        help="a grey mask level (1..254) marking pixels labelled neither way: left out of every metric and counted, "
        "as the void (index 255) of VOC-style palette masks always is",
    )
    parser.add_argument("--workers", type=_positive_int, help="processes (default: all cores)")
    parser.add_argument("--bins", type=_positive_int, default=10, help="equal-width confidence bins (default 10)")
    parser.add_argument(
        "--boundary-width",
        type=_positive_int,
        default=BOUNDARY_WIDTH,
        help=f"mask pixels: the calibration metrics the protocol reports per band (metrics/table.py) are also "
        f"reported within this distance of the object boundary, and over the rest (default {BOUNDARY_WIDTH})",
    )
    parser.add_argument(
        "--out", type=Path, help="output folder (default: <--pred or --pred-root>_eval, beside that folder)"
    )
    return parser


def _default_out(pred: Path) -> Path:
    resolved = pred.resolve()
    return resolved.with_name(f"{resolved.name}_eval")


def _check_combination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> bool:
    """Refuse options that do not go together; True for one set, False for several."""
    single = any(value is not None for value in (args.pred, args.gt, args.probabilities, args.photos))
    multi = any(
        value is not None for value in (args.pred_root, args.gt_root, args.probabilities_root, args.datasets)
    )
    if single == multi:
        parser.error("give either --pred and --gt, or --pred-root, --gt-root and --datasets")
    if (args.probabilities or args.probabilities_root) and not get_protocol(args.protocol).writes_probability_maps:
        parser.error(
            f"--probabilities/--probabilities-root go with --protocol={'/'.join(READING_PROBABILITY_MAPS)}; the "
            f"{args.protocol} protocol scores the --pred maps as probability maps"
        )
    if single and (args.pred is None or args.gt is None):
        parser.error("--pred and --gt go together")
    for maps, masks in ((args.pred, args.gt), (args.pred_root, args.gt_root), (args.probabilities, args.gt)):
        if maps is not None and masks is not None and maps.resolve() == masks.resolve():
            parser.error(f"the maps and the masks are one folder ({maps.resolve()}): every map would be scored against "
                         "itself, a perfect score that says nothing; point --gt/--gt-root at the masks")
    if multi and (args.pred_root is None or args.gt_root is None or not args.datasets):
        parser.error("--pred-root, --gt-root and --datasets go together")
    if multi and args.name is not None:
        parser.error("--name is for one set; with --datasets the set names are used")
    return single


def _jobs(args: argparse.Namespace, single: bool) -> tuple[Jobs, dict[str, Path] | None, Path]:
    from evaluate.io import mask_folder

    if single:
        name = args.name or args.pred.resolve().name
        probabilities = {name: args.probabilities} if args.probabilities is not None else None
        return [(name, args.pred, args.gt)], probabilities, args.out or _default_out(args.pred)
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    jobs = [(name, args.pred_root / name, mask_folder(args.gt_root, name)) for name in names]
    probabilities = (
        {name: args.probabilities_root / name for name in names} if args.probabilities_root is not None else None
    )
    return jobs, probabilities, args.out or _default_out(args.pred_root)


def _score(args: argparse.Namespace, single: bool) -> int:
    # The scoring libraries are imported only now, so that --help and usage errors answer at once.
    with exiting_on_interrupt(INTERRUPTED):
        from evaluate.runner import run_evaluation

    jobs, probability_dirs, out_dir = _jobs(args, single)
    run_evaluation(
        jobs,
        out_dir,
        protocol=get_protocol(args.protocol),
        workers=args.workers,
        n_bins=args.bins,
        probability_dirs=probability_dirs,
        photo_dirs={jobs[0][0]: args.photos} if args.photos is not None else None,
        trust_map_levels=args.trust_map_levels,
        boundary_width=args.boundary_width,
        void_level=args.void,
    )
    print(f"\nResults written to {out_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line (common/interrupts.py: bad input, an unwritable output, Ctrl-C and a closed pipe
    each end in one line or none); returns the exit status. The worker processes are stopped and quiet by the
    time an interruption reaches here."""
    def body() -> int:
        parser = _parser()
        args = parser.parse_args(argv)
        return _score(args, _check_combination(parser, args))

    return run_command(body, prefix="evaluate: ", interrupted=INTERRUPTED)


if __name__ == "__main__":  # the modules are loaded: Ctrl-C now stops the scoring's workers before it exits
    command_main(main)
