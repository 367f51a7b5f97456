"""What the HTML report adds to scoring: thumbnails written by the scoring workers, and the page.

On the 300 images of SOD (../shared/data/SOD: photographs in Image/, masks in GT/) with synthetic maps
(each mask shifted a few pixels, blurred by a random amount, noised and sharpened or softened by a random
temperature, written once as PNG into a temporary folder), times under the calibrated protocol, each the best of ``--repeats`` runs, (a), (b) and (c) taking turns:

(a) scoring alone: the engine's ``_score_paired`` over the set (what every entry point does);
(b) the same scoring writing each image's thumbnails in its worker (``Scoring.pictures``);
(c) writing ``images.csv``, ``report_files/page.json`` and ``report.html`` from (b)'s rows;

and prints seconds, the report's cost ((b) - (a) + (c)) and its ratio to (a). The worker pool starts in
every call of (a) and (b) alike. Usage: ``python benchmarks/bench_report.py [--source DIR] [--workers N]
[--repeats 3]``; print ``python ../shared/tools/cpu_ref.py`` beside the figures.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from evaluate.pictures import set_pictures  # noqa: E402
from evaluate.runner import _pair_all, _score_paired, available_cores, scoring_of  # noqa: E402
from report.html import write_run_page  # noqa: E402
from report.tables import write_reports  # noqa: E402

SET = "SOD"


def write_maps(masks: Path, out: Path, seed: int = 0) -> int:
    """One synthetic map per mask of ``masks`` into ``out``; returns the count."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True)
    paths = sorted(masks.glob("*.png"))
    for path in paths:
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        shifted = np.roll(mask, tuple(rng.integers(-4, 5, 2)), axis=(0, 1))
        soft = cv2.GaussianBlur(shifted, (0, 0), float(rng.uniform(1, 6))) + rng.normal(0, 12, mask.shape)
        # A random temperature: some maps over-confident (sure where they are wrong), some under-confident.
        probability = 1 / (1 + np.exp(-(soft - 127.5) / rng.uniform(4, 40)))
        cv2.imwrite(str(out / path.name), np.round(255 * probability).astype(np.uint8))
    return len(paths)


def _timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=PROJECT.parent / "shared" / "data" / "SOD")
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not (args.source / "GT").is_dir():
        sys.exit(f"error: {args.source / 'GT'} not found: pass --source=PATH/TO/SOD (Image/ and GT/)")
    with tempfile.TemporaryDirectory() as folder:
        temporary = Path(folder)
        n = write_maps(args.source / "GT", temporary / "maps")
        scoring = scoring_of(protocol="calibrated", workers=args.workers)
        paired = _pair_all([(SET, temporary / "maps", args.source / "GT")], None, scoring.protocol)
        out = temporary / "out"
        alone, with_pictures, page = [], [], []
        for _ in range(args.repeats):  # interleaved, so that a change in the machine's load touches both alike
            alone.append(_timed(lambda: _score_paired(paired, scoring))[0])
            seconds, scores = _timed(lambda: _score_paired(paired, scoring,
                                                           set_pictures(out, {SET: args.source / "GT"}, None)))
            with_pictures.append(seconds)
            write_reports(out, scores, scoring.n_bins, scoring.protocol)
            page.append(_timed(lambda: write_run_page(out, scores, scoring.n_bins, scoring.protocol))[0])
        alone, with_pictures, page = min(alone), min(with_pictures), min(page)
        size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    cost = with_pictures - alone + page
    print(f"{n} images, {args.workers} worker(s), best of {args.repeats}:")
    print(f"(a) scoring alone:                 {alone:7.2f} s")
    print(f"(b) scoring writing thumbnails:    {with_pictures:7.2f} s")
    print(f"(c) images.csv, page.json, page:   {page:7.2f} s")
    print(f"report's cost (b) - (a) + (c):     {cost:7.2f} s = {100 * cost / alone:.0f} % of scoring alone")
    print(f"report files (thumbnails, page):   {size / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
