"""Scoring whole test sets, in parallel, into the ``results.json`` metric dictionaries.

Two protocols (``PROTOCOLS``):

* ``"paper"`` (default) computes what the authors' code computes: ECE / OE /
  ACC as their ``ECE_EW`` (the binarised prediction compared with the raw
  mask value, :func:`evaluate.calibration.raw_mask_counts`) and MAE, F, E, S,
  AP and AUC as their SOD_Evaluation_Tool (:mod:`evaluate.paper`), on the maps
  as written, normally each min-max stretched to 0..255. A prediction of
  another size is resized with PIL's bilinear filter for the SOD metrics and
  left out of ECE / OE / ACC, as their code does. With a folder of the raw
  round(255 p) maps, the calibrated protocol's ECE / OE / ACC of those are
  reported beside (``calibrated_ECE``, ``calibrated_OE``, ``calibrated_ACC``).
* ``"calibrated"`` scores raw probability maps: calibration metrics on masks
  thresholded at 128 (:mod:`evaluate.calibration`) and PySODMetrics' SOD
  metrics plus AP and AUC from the same threshold curves (:mod:`evaluate.sod`).

Each image is read once, converted once and passed to the protocol's
calibration counts and SOD statistics. With several workers, the sorted image
list is cut into contiguous shards; each shard is scored in a worker process
into its own :class:`DatasetAccumulator`, and the accumulators are merged in
shard order, so the result equals a single pass over the images (exactly for
counts and per-image values, to rounding for the summed threshold curves).
Workers are never forked from the caller: a process that has used OpenCV's (or
torch's) thread pools can deadlock its forked children, so they come from a
forkserver (spawn where there is none). As with any spawn-based
multiprocessing, a calling script must therefore guard its entry point with
``if __name__ == "__main__"``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from evaluate import calibration
from evaluate.io import (
    RESIZE_NOTE,
    EvaluationInputError,
    MapPair,
    PairedFolders,
    load_pair,
    mask_folder,
    pair_folders,
)
from evaluate.curves import ImageAccumulator, curve_results
from evaluate.paper import paper_image_stats
from evaluate.plots import save_reliability_plots
from evaluate.report import DatasetScore, format_tables, write_reports
from evaluate.sod import sod_image_stats, sod_results

PROTOCOLS = ("paper", "calibrated")
ADAPTIVE_BINS = 15
# Metrics that are meaningless when no image has a foreground pixel.
NEEDS_FOREGROUND = ("maxF", "meanF", "adpF", "wF", "S", "AP", "AUC")
SOD_KEYS = ("maxF", "meanF", "adpF", "wF", "MAE", "S", "maxE", "meanE", "adpE", "AP", "AUC")
_EXAMPLES_KEPT = 5
_SHARDS_PER_WORKER = 8
_MAX_SHARD = 64
_PAPER_RESIZE_NOTE = (
    "paper protocol: resized with PIL's bilinear filter for the SOD metrics and left out of ECE/OE/ACC, "
    "as the authors' loader and ECE_EW do"
)
_S_NAN_NOTE = (
    "S-measure undefined (NaN) in the authors' evaluator: a mask with a single foreground or background "
    "pixel, or a centroid on the first row or column; S is n/a for the set"
)


@dataclass
class DatasetAccumulator:
    """Everything kept about the images scored so far; mergeable across processes."""

    protocol: str = "paper"
    counts: np.ndarray = field(default_factory=lambda: np.zeros((256, 2), dtype=np.int64))
    raw_counts: np.ndarray = field(default_factory=lambda: np.zeros((256, 2), dtype=np.int64))
    image_ece: list[float] = field(default_factory=list)
    n_images: int = 0
    n_empty_masks: int = 0
    n_resized: int = 0
    n_converted: int = 0
    pred_max: int = 0
    gt_max: int = 0
    raw_max: int = 0
    sod: ImageAccumulator = field(default_factory=ImageAccumulator)
    note_counts: Counter[str] = field(default_factory=Counter)
    note_examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, pair: MapPair, n_bins: int) -> None:
        """Read and score one pair."""
        paper = self.protocol == "paper"
        loaded = load_pair(pair, pil_resize=paper)
        resized = RESIZE_NOTE in loaded.notes
        self.n_images += 1
        self.pred_max = max(self.pred_max, int(loaded.pred.max()))
        self.gt_max = max(self.gt_max, int(loaded.gt.max()))
        self.n_empty_masks += int(not (loaded.gt >= 128).any())
        if paper:
            joint = calibration.joint_histogram(loaded.pred, loaded.gt)
            if resized:
                self._note(_PAPER_RESIZE_NOTE, [pair.name], 1)
            else:
                self.counts += calibration.raw_mask_counts(joint)
            self.sod.add(paper_image_stats(loaded.pred, loaded.gt, joint))
            if math.isnan(self.sod.values["s_measure"][-1]):
                self._note(_S_NAN_NOTE, [pair.name], 1)
            if loaded.prob is not None:
                self.raw_counts += calibration.level_counts(loaded.prob, loaded.gt)
                self.raw_max = max(self.raw_max, int(loaded.prob.max()))
        else:
            counts = calibration.level_counts(loaded.pred, loaded.gt)
            self.counts += counts
            self.image_ece.append(calibration.expected_calibration_error(counts, n_bins))
            self.sod.add(sod_image_stats(loaded.pred, loaded.gt))
        self.n_resized += int(resized)
        self.n_converted += int(len(loaded.notes) > int(resized))
        for note in loaded.notes:
            self._note(note, [pair.name], 1)

    def _note(self, note: str, names: list[str], count: int) -> None:
        self.note_counts[note] += count
        examples = self.note_examples.setdefault(note, [])
        examples.extend(names[: _EXAMPLES_KEPT - len(examples)])

    def merge(self, other: DatasetAccumulator) -> None:
        """Append the images of ``other`` (which come after this accumulator's images)."""
        self.counts += other.counts
        self.raw_counts += other.raw_counts
        self.image_ece += other.image_ece
        self.n_images += other.n_images
        self.n_empty_masks += other.n_empty_masks
        self.n_resized += other.n_resized
        self.n_converted += other.n_converted
        self.pred_max = max(self.pred_max, other.pred_max)
        self.gt_max = max(self.gt_max, other.gt_max)
        self.raw_max = max(self.raw_max, other.raw_max)
        self.sod.merge(other.sod)
        for note, count in other.note_counts.items():
            self._note(note, other.note_examples[note], count)


def _score_shard(task: tuple[Sequence[MapPair], int, str]) -> DatasetAccumulator:
    pairs, n_bins, protocol = task
    accumulator = DatasetAccumulator(protocol)
    for pair in pairs:
        accumulator.add(pair, n_bins)
    return accumulator


def _init_worker() -> None:
    # One process per core already; OpenCV's own threads would only oversubscribe.
    cv2.setNumThreads(1)


def _worker_context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server imports the scoring code once; each worker is then a cheap fork of it.
    context.set_forkserver_preload([__name__])
    return context


def available_cores() -> int:
    """CPU cores this process may run on (the default number of workers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_options(workers: int | None, n_bins: int, protocol: str) -> int:
    if protocol not in PROTOCOLS:
        raise EvaluationInputError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if workers is None:
        workers = available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise EvaluationInputError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise EvaluationInputError(f"n_bins must be a positive integer, got {n_bins!r}")
    return workers


@contextmanager
def _worker_pool(workers: int, n_images: int) -> Iterator[Pool | None]:
    """Yield a pool shared by all the sets of one call (workers start once), or None for one worker."""
    if workers == 1 or n_images <= 1:
        yield None
        return
    with _worker_context().Pool(processes=min(workers, n_images), initializer=_init_worker) as pool:
        yield pool


def _accumulate(
    pairs: Sequence[MapPair], pool: Pool | None, workers: int, n_bins: int, protocol: str, desc: str
) -> DatasetAccumulator:
    accumulator = DatasetAccumulator(protocol)
    with tqdm(total=len(pairs), desc=desc, unit="img", leave=False, dynamic_ncols=True) as progress:
        if pool is None:
            for pair in pairs:
                accumulator.add(pair, n_bins)
                progress.update()
            return accumulator
        shard = max(1, min(_MAX_SHARD, math.ceil(len(pairs) / (workers * _SHARDS_PER_WORKER))))
        tasks = [(pairs[i : i + shard], n_bins, protocol) for i in range(0, len(pairs), shard)]
        # imap keeps shard order, so merged lists are in image order.
        for task, partial in zip(tasks, pool.imap(_score_shard, tasks), strict=True):
            accumulator.merge(partial)
            progress.update(len(task[0]))
    return accumulator


def _listed(names: list[str], total: int) -> str:
    shown = ", ".join(names[:_EXAMPLES_KEPT])
    return shown + (", ..." if total > _EXAMPLES_KEPT else "")


def _dataset_notes(paired: PairedFolders, accumulator: DatasetAccumulator) -> list[str]:
    notes = []
    for label, names in (
        (f"prediction(s) in {paired.pred_dir} without a mask", paired.pred_without_gt),
        (f"mask(s) in {paired.gt_dir} without a prediction", paired.gt_without_pred),
        (f"raw map(s) in {paired.prob_dir} without a scored prediction", paired.prob_unused),
        ("file(s) ignored (not .png/.jpg/.jpeg/.bmp)", paired.ignored_files),
        ("subfolder(s) ignored", paired.ignored_folders),
    ):
        if names:
            notes.append(f"{len(names)} {label}: {_listed(names, len(names))}")
    for note, count in accumulator.note_counts.items():
        notes.append(f"{note}: {count} image(s): {_listed(accumulator.note_examples[note], count)}")
    n_images = accumulator.n_images
    if accumulator.n_empty_masks == n_images:
        authors = (
            " (the authors' tool would report F, AP and AUC 0 and S = 1 - mean stretched map)"
            if accumulator.protocol == "paper"
            else " (MAE and E-measure, as in PySODMetrics, use each map min-max stretched, which inflates "
            "faint false positives)"
        )
        notes.append(
            "every mask is empty (out-of-distribution set): F-measures, S-measure, AP and AUC are n/a; the "
            "mean predicted saliency is the false-positive mass" + authors
        )
        if accumulator.pred_max == 1:
            notes.append("every prediction map holds only the values 0 and 1: scored as probabilities <= 1/255")
    elif accumulator.n_empty_masks:
        notes.append(f"{accumulator.n_empty_masks} of {n_images} masks are empty")
    return notes


def _check_levels(paired: PairedFolders, accumulator: DatasetAccumulator) -> None:
    """Refuse masks and maps stored as 0/1 (the object marked with 1 instead of 255)."""
    if accumulator.gt_max == 1:
        raise EvaluationInputError(
            f"the masks in {paired.gt_dir} hold only the values 0 and 1; they must mark the object with 255 "
            "(multiply them by 255)"
        )
    # Near-black maps of a confident model can hold only 0 and 1 on a set without objects; with
    # objects in the masks, a set of maps holding only 0 and 1 is binary maps stored as 0/1.
    for folder, level in ((paired.pred_dir, accumulator.pred_max), (paired.prob_dir, accumulator.raw_max)):
        if level == 1 and accumulator.n_empty_masks < accumulator.n_images:
            raise EvaluationInputError(
                f"the maps in {folder} hold only the values 0 and 1; 8-bit maps must use 0..255 "
                "(multiply binary 0/1 maps by 255)"
            )


def _calibration_metrics(counts: np.ndarray, n_bins: int) -> dict[str, float | None]:
    if counts.sum() == 0:
        return dict.fromkeys(("ECE", "OE", "ACC"))
    return {
        "ECE": calibration.expected_calibration_error(counts, n_bins),
        "OE": calibration.overconfidence_error(counts, n_bins),
        "ACC": calibration.pixel_accuracy(counts),
    }


def _finalise(name: str, paired: PairedFolders, accumulator: DatasetAccumulator, n_bins: int) -> DatasetScore:
    _check_levels(paired, accumulator)
    counts = accumulator.counts
    paper = accumulator.protocol == "paper"
    sod: dict[str, float | None] = curve_results(accumulator.sod) if paper else sod_results(accumulator.sod)
    if accumulator.n_empty_masks == accumulator.n_images:
        sod.update(dict.fromkeys(NEEDS_FOREGROUND))
    if paper and sod["S"] is not None and math.isnan(sod["S"]):
        sod["S"] = None
    calibrated: dict[str, float] = {}
    if not paper:
        image_ece = np.asarray(accumulator.image_ece)
        calibrated = {
            "AECE": calibration.adaptive_calibration_error(counts, ADAPTIVE_BINS),
            "dECE": calibration.debiased_calibration_error(counts, n_bins),
            "NLL": calibration.negative_log_likelihood(counts),
            "Brier": calibration.brier_score(counts),
            "ECE_img_mean": float(image_ece.mean()),
            "ECE_img_median": float(np.median(image_ece)),
            "ECE_img_p90": float(np.percentile(image_ece, 90)),
        }
    raw = _calibration_metrics(accumulator.raw_counts, n_bins)
    # The same keys, in the same order, under both protocols (None where a protocol has no value).
    metrics: dict[str, float | int | str | None] = {
        "protocol": accumulator.protocol,
        **_calibration_metrics(counts, n_bins),
        **{key: calibrated.get(key) for key in ("AECE", "dECE", "NLL", "Brier")},
        **{key: sod.get(key) for key in SOD_KEYS},
        "n_images": accumulator.n_images,
        "mean_saliency": calibration.mean_prediction(counts) if counts.sum() > 0 else None,
        **{key: calibrated.get(key) for key in ("ECE_img_mean", "ECE_img_median", "ECE_img_p90")},
        "calibrated_ECE": raw["ECE"],
        "calibrated_OE": raw["OE"],
        "calibrated_ACC": raw["ACC"],
        "n_pixels": int(counts.sum()),
        "n_empty_masks": accumulator.n_empty_masks,
        "n_pred_without_gt": len(paired.pred_without_gt),
        "n_gt_without_pred": len(paired.gt_without_pred),
        "n_ignored_files": len(paired.ignored_files),
        "n_ignored_folders": len(paired.ignored_folders),
        "n_resized": accumulator.n_resized,
        "n_converted": accumulator.n_converted,
    }
    return DatasetScore(
        name=name,
        metrics=metrics,
        counts=counts,
        notes=_dataset_notes(paired, accumulator),
        pred_dir=paired.pred_dir,
        gt_dir=paired.gt_dir,
    )


Job = tuple[str, Path, Path]


def _pair_all(jobs: list[Job], prob_dirs: dict[str, Path] | None, protocol: str) -> list[tuple[str, PairedFolders]]:
    # Every folder is checked and paired before any image is scored, so that a
    # typo in the last dataset name fails at once rather than after an hour.
    if not jobs:
        raise EvaluationInputError("no dataset to evaluate")
    names = [name for name, _, _ in jobs]
    if len(set(names)) != len(names):
        raise EvaluationInputError(f"dataset names must be unique, got {names}")
    if prob_dirs and protocol != "paper":
        raise EvaluationInputError("raw probability maps are read by the paper protocol only")
    prob_dirs = prob_dirs or {}
    return [(name, pair_folders(Path(pred), Path(gt), prob_dirs.get(name))) for name, pred, gt in jobs]


def _score_paired(
    paired: list[tuple[str, PairedFolders]], workers: int, n_bins: int, protocol: str
) -> list[DatasetScore]:
    largest = max(len(folders.pairs) for _, folders in paired)
    with _worker_pool(workers, largest) as pool:
        return [
            _finalise(name, folders, _accumulate(folders.pairs, pool, workers, n_bins, protocol, name), n_bins)
            for name, folders in paired
        ]


def prepare_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` and check that a file can be written in it (before any scoring)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_dir).close()
    except OSError as error:
        raise EvaluationInputError(f"cannot write the results into {out_dir}: {error}") from error


def score_dataset(
    pred_dir: Path,
    gt_dir: Path,
    workers: int | None = None,
    n_bins: int = 10,
    protocol: str = "paper",
    prob_dir: Path | None = None,
) -> dict:
    """Score one folder of 8-bit prediction maps against one folder of masks.

    ``prob_dir``: the raw round(255 p) maps of the same images (paper protocol
    only). Returns the metric dictionary written to ``results.json`` for a
    dataset (values as fractions, ``None`` where a metric is not applicable).
    """
    workers = _check_options(workers, n_bins, protocol)
    name = Path(pred_dir).name
    jobs = [(name, Path(pred_dir), Path(gt_dir))]
    paired = _pair_all(jobs, {name: Path(prob_dir)} if prob_dir is not None else None, protocol)
    return _score_paired(paired, workers, n_bins, protocol)[0].metrics


def run_evaluation(
    jobs: Iterable[Job],
    out_dir: Path,
    workers: int | None = None,
    n_bins: int = 10,
    protocol: str = "paper",
    prob_dirs: dict[str, Path] | None = None,
) -> dict[str, dict[str, float | int | str | None]]:
    """Score ``(name, pred_dir, gt_dir)`` jobs, print the tables and write reports and plots.

    ``prob_dirs`` maps set names to folders of raw round(255 p) maps (paper
    protocol only; sets not named have none). Every input folder and the
    output folder are checked before any image is scored.
    """
    workers = _check_options(workers, n_bins, protocol)
    paired = _pair_all(list(jobs), prob_dirs, protocol)
    out_dir = Path(out_dir)
    prepare_output_folder(out_dir)
    scores = _score_paired(paired, workers, n_bins, protocol)
    print(format_tables(scores, n_bins, protocol))
    write_reports(out_dir, scores, n_bins, protocol)
    # A set whose every map was left out of ECE (paper protocol, all resized) has no diagram.
    plotted = [score for score in scores if score.counts.sum() > 0]
    if plotted:
        save_reliability_plots(out_dir, plotted, n_bins)
    return {score.name: score.metrics for score in scores}


def evaluate_datasets(
    pred_root: Path,
    gt_root: Path,
    datasets: list[str],
    out_dir: Path,
    workers: int | None = None,
    n_bins: int = 10,
    protocol: str = "paper",
    prob_root: Path | None = None,
) -> dict[str, dict[str, float | int | str | None]]:
    """Score ``<pred_root>/<name>`` against the masks of ``<gt_root>/<name>`` for each name.

    Masks are read from ``<gt_root>/<name>/GT`` when that folder exists, else
    from ``<gt_root>/<name>``; with ``prob_root`` (paper protocol), the raw
    maps from ``<prob_root>/<name>``. Prints the tables, writes
    ``results.md/.csv/.json`` and the reliability diagrams into ``out_dir``
    and returns the ``results.json`` content.
    """
    jobs = [(name, Path(pred_root) / name, mask_folder(Path(gt_root), name)) for name in datasets]
    prob_dirs = {name: Path(prob_root) / name for name in datasets} if prob_root is not None else None
    return run_evaluation(jobs, out_dir, workers=workers, n_bins=n_bins, protocol=protocol, prob_dirs=prob_dirs)
