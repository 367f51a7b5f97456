"""Benchmark of ``evaluate`` against PySODMetrics used the usual way, on the same synthetic maps.

Generates realistic saliency maps and masks (blob-shaped objects with
anti-aliased mask edges, soft prediction edges, low-frequency noise, some false
positives) in a temporary folder, then times on the same files:

(a) ``evaluate.score_dataset`` with one worker, calibrated protocol:
    calibration + every SOD metric;
(b) PySODMetrics alone: one ``Fmeasure``, ``WeightedFmeasure``, ``MAE``,
    ``Smeasure`` and ``Emeasure`` object each fed every image (read with
    ``cv2.imread`` in grey), i.e. only the SOD metrics;
(c) ``evaluate.score_dataset`` with all workers, calibrated protocol (timed on
    a second call: the first also starts the worker server, and its total time
    is printed too);
(d) ``evaluate.score_dataset`` with one worker, paper protocol (ECE / OE / ACC
    and the authors' MAE, F, E, S, AP, AUC), with the same maps given again as
    probability maps (``probabilities_*`` columns), i.e. two maps read per image;

and prints per-image milliseconds, the ratios, and the largest difference
between the SOD values of (a) and (b).

With ``--whole-process`` it times whole processes instead, as a user meets
them (start-up, imports, reading, scoring, reports and plots included), on one
worker: ``python -m evaluate`` under the paper protocol against a process of
PySODMetrics alone computing its own metrics (F, wF, MAE, S, E) as in (b); each
is run ``--repeats`` times, interleaved, and the best time of each is kept.

Usage: ``python benchmarks/bench_eval.py [--images 300] [--height 300] [--width 400] [--workers N]``
or ``python benchmarks/bench_eval.py --whole-process [--images 150] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import py_sod_metrics

PROJECT = Path(__file__).resolve().parents[1]


def _random_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    canvas = np.zeros((height, width), np.uint8)
    for _ in range(rng.integers(1, 4)):
        centre = (int(rng.uniform(0.2, 0.8) * width), int(rng.uniform(0.2, 0.8) * height))
        axes = (int(rng.uniform(0.08, 0.3) * width), int(rng.uniform(0.08, 0.3) * height))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    # Wobbly outline, then a 3x3 blur so that the mask has grey (anti-aliased) edges like real ones.
    wobble = cv2.GaussianBlur(rng.normal(0, 1, (height, width)), (0, 0), 8) * 400
    shape = ((cv2.GaussianBlur(canvas.astype(np.float64), (0, 0), 6) + wobble) > 127).astype(np.uint8) * 255
    return cv2.GaussianBlur(shape, (3, 3), 0)


def _prediction(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    inside = mask >= 128
    signed = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5) - cv2.distanceTransform(
        (~inside).astype(np.uint8), cv2.DIST_L2, 5
    )
    softness = rng.uniform(1.0, 6.0)
    low_freq = cv2.GaussianBlur(rng.normal(0, 1, mask.shape), (0, 0), 10) * rng.uniform(20, 60)
    logit = signed / softness + rng.normal(0.5, 1.0) + low_freq
    probability = 1 / (1 + np.exp(-logit))
    if rng.random() < 0.3:
        false_positive = np.zeros(mask.shape, np.uint8)
        cv2.circle(false_positive, (int(rng.integers(mask.shape[1])), int(rng.integers(mask.shape[0]))), 25, 255, -1)
        probability = np.maximum(probability, cv2.GaussianBlur(false_positive, (0, 0), 8) / 255 * rng.uniform(0.3, 0.9))
    noisy = probability * 255 + rng.normal(0, 4, mask.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def generate(folder: Path, n_images: int, height: int, width: int, seed: int) -> tuple[Path, Path]:
    """Write ``n_images`` prediction/mask pairs into ``folder/pred`` and ``folder/gt``."""
    rng = np.random.default_rng(seed)
    pred_dir, gt_dir = folder / "pred", folder / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    for index in range(n_images):
        mask = _random_mask(rng, height, width)
        cv2.imwrite(str(gt_dir / f"{index:05d}.png"), mask)
        cv2.imwrite(str(pred_dir / f"{index:05d}.png"), _prediction(rng, mask))
    return pred_dir, gt_dir


def pysodmetrics_alone(pred_dir: Path, gt_dir: Path) -> dict[str, float]:
    """Score the maps the classic PySODMetrics way: one object per metric, each fed every image."""
    with warnings.catch_warnings():
        # Fmeasure warns that it is deprecated in favour of FmeasureV2; the classic class is the reference.
        warnings.simplefilter("ignore")
        fm = py_sod_metrics.Fmeasure()
    wfm, mae, sm, em = (
        py_sod_metrics.WeightedFmeasure(),
        py_sod_metrics.MAE(),
        py_sod_metrics.Smeasure(),
        py_sod_metrics.Emeasure(),
    )
    for pred_path in sorted(pred_dir.iterdir()):
        pred = cv2.imread(str(pred_path), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(str(gt_dir / pred_path.name), cv2.IMREAD_GRAYSCALE)
        for metric in (fm, wfm, mae, sm, em):
            metric.step(pred, gt)
    f_curve, e = fm.get_results()["fm"]["curve"], em.get_results()["em"]
    return {
        "maxF": f_curve.max(),
        "meanF": f_curve.mean(),
        "adpF": fm.get_results()["fm"]["adp"],
        "wF": wfm.get_results()["wfm"],
        "MAE": mae.get_results()["mae"],
        "S": sm.get_results()["sm"],
        "maxE": e["curve"].max(),
        "meanE": e["curve"].mean(),
        "adpE": e["adp"],
    }


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def _best_process_times(commands: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """Best wall time of each command over ``repeats`` interleaved runs (each must succeed)."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeats):
        for label, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            best[label] = min(best[label], time.perf_counter() - start)
    return best


def whole_process(args: argparse.Namespace) -> None:
    """Time ``python -m evaluate`` (paper protocol, one worker) against PySODMetrics alone, as processes."""
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir, gt_dir = generate(Path(tmp), args.images, args.height, args.width, args.seed)
        commands = {
            "evaluate": [sys.executable, "-m", "evaluate", f"--pred={pred_dir}", f"--gt={gt_dir}", "--workers=1",
                         "--protocol=paper", f"--out={Path(tmp) / 'out'}"],
            "pysodmetrics": [sys.executable, __file__, "--pysodmetrics-alone", str(pred_dir), str(gt_dir)],
        }
        best = _best_process_times(commands, args.repeats)
    print(f"{args.images} maps of {args.height} x {args.width}, whole processes on one worker, best of "
          f"{args.repeats}")
    print(f"python -m evaluate, paper protocol (reports and plots): {best['evaluate']:6.2f} s")
    print(f"PySODMetrics alone (F, wF, MAE, S, E):                 {best['pysodmetrics']:6.2f} s")
    print(f"ratio evaluate / PySODMetrics: {best['evaluate'] / best['pysodmetrics']:.2f}")


def main() -> None:
    """Generate the maps, run (a), (b), (c) and (d), or the whole processes, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, help="maps to generate (default 300; 150 with --whole-process)")
    parser.add_argument("--height", type=int, default=300)
    parser.add_argument("--width", type=int, default=400)
    parser.add_argument("--workers", type=int, help="workers of (c) (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--whole-process", action="store_true", help="time whole processes (see above)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each process with --whole-process")
    parser.add_argument("--pysodmetrics-alone", nargs=2, type=Path, metavar=("PRED", "GT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pysodmetrics_alone:
        print(json.dumps(pysodmetrics_alone(*args.pysodmetrics_alone)))
        return
    if args.whole_process:
        args.images = args.images or 150
        whole_process(args)
        return
    args.images = args.images or 300

    sys.path.insert(0, str(PROJECT))
    from evaluate import score_dataset  # needs the repository root on sys.path
    from common.text import counted
    from evaluate.runner import available_cores

    args.workers = args.workers or available_cores()

    with tempfile.TemporaryDirectory() as tmp:
        pred_dir, gt_dir = generate(Path(tmp), args.images, args.height, args.width, args.seed)
        reference, time_b = _timed(pysodmetrics_alone, pred_dir, gt_dir)
        ours, time_a = _timed(score_dataset, pred_dir, gt_dir, workers=1, protocol="calibrated")
        # The first parallel call also starts the forkserver that workers are forked from (once per process).
        _, time_c_first = _timed(score_dataset, pred_dir, gt_dir, workers=args.workers, protocol="calibrated")
        parallel, time_c = _timed(score_dataset, pred_dir, gt_dir, workers=args.workers, protocol="calibrated")
        _, time_d = _timed(score_dataset, pred_dir, gt_dir, workers=1, protocol="paper", probability_dir=pred_dir)

    per_image = {
        label: 1000 * seconds / args.images
        for label, seconds in (("a", time_a), ("b", time_b), ("c", time_c), ("d", time_d))
    }
    difference = max(abs(ours[key] - reference[key]) for key in reference)
    workers_difference = max(
        abs(ours[key] - parallel[key]) for key in ours if isinstance(ours[key], float)
    )
    print(f"{args.images} maps of {args.height} x {args.width}, {available_cores()} cores available")
    print(f"(a) evaluate, 1 worker, calibration + all SOD metrics: {per_image['a']:7.2f} ms/image")
    print(f"(b) PySODMetrics alone (F, wF, MAE, S, E):             {per_image['b']:7.2f} ms/image")
    workers = f"{counted(args.workers, 'worker')}:"
    print(f"(c) evaluate, {workers:<41}{per_image['c']:7.2f} ms/image")
    print(f"    (first parallel call, incl. starting the worker server: {time_c_first:.2f} s in all)")
    print(f"(d) evaluate, 1 worker, paper protocol + probabilities: {per_image['d']:6.2f} ms/image")
    print(f"(a)/(b) time ratio: {time_a / time_b:.2f}   (a)/(c) speed-up: {time_a / time_c:.2f}x")
    print(f"(d)/(b) time ratio (paper protocol vs PySODMetrics alone): {time_d / time_b:.2f}")
    print(f"largest |(a) - (b)| over the SOD metrics: {difference:.2e}")
    print(f"largest |(a) - (c)| over all metrics:     {workers_difference:.2e}")


if __name__ == "__main__":
    main()
