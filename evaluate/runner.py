"""Scoring whole test sets, in parallel, into the ``results.json`` metric dictionaries.

Each image is read once, converted once and passed to the calibration counts
(:mod:`evaluate.calibration`) and the SOD statistics (:mod:`evaluate.sod`).
With several workers, the sorted image list is cut into contiguous shards;
each shard is scored in a worker process into its own
:class:`DatasetAccumulator`, and the accumulators are merged in shard order, so
the result equals a single pass over the images (exactly for counts and
per-image values, to rounding for the summed threshold curves). Workers are
never forked from the caller: a process that has used OpenCV's (or torch's)
thread pools can deadlock its forked children, so they come from a forkserver
(spawn where there is none). As with any spawn-based multiprocessing, a calling
script must therefore guard its entry point with ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
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
from evaluate.plots import save_reliability_plots
from evaluate.report import DatasetScore, format_tables, write_reports
from evaluate.sod import SODAccumulator, sod_image_stats

ADAPTIVE_BINS = 15
# Metrics that are meaningless when no image has a foreground pixel.
NEEDS_FOREGROUND = ("maxF", "meanF", "adpF", "wF", "S")
_EXAMPLES_KEPT = 5
_SHARDS_PER_WORKER = 8
_MAX_SHARD = 64


@dataclass
class DatasetAccumulator:
    """Everything kept about the images scored so far; mergeable across processes."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros((256, 2), dtype=np.int64))
    image_ece: list[float] = field(default_factory=list)
    n_empty_masks: int = 0
    n_resized: int = 0
    n_converted: int = 0
    sod: SODAccumulator = field(default_factory=SODAccumulator)
    note_counts: Counter[str] = field(default_factory=Counter)
    note_examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, pair: MapPair, n_bins: int) -> None:
        """Read and score one pair."""
        loaded = load_pair(pair)
        counts = calibration.level_counts(loaded.pred, loaded.gt)
        self.counts += counts
        self.image_ece.append(calibration.expected_calibration_error(counts, n_bins))
        self.n_empty_masks += int(counts[:, 1].sum() == 0)
        self.sod.add(sod_image_stats(loaded.pred, loaded.gt))
        resized = RESIZE_NOTE in loaded.notes
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
        self.image_ece += other.image_ece
        self.n_empty_masks += other.n_empty_masks
        self.n_resized += other.n_resized
        self.n_converted += other.n_converted
        self.sod.merge(other.sod)
        for note, count in other.note_counts.items():
            self._note(note, other.note_examples[note], count)


def _score_shard(task: tuple[Sequence[MapPair], int]) -> DatasetAccumulator:
    pairs, n_bins = task
    accumulator = DatasetAccumulator()
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


def _check_options(workers: int | None, n_bins: int) -> int:
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
    pairs: Sequence[MapPair], pool: Pool | None, workers: int, n_bins: int, desc: str
) -> DatasetAccumulator:
    accumulator = DatasetAccumulator()
    with tqdm(total=len(pairs), desc=desc, unit="img", leave=False, dynamic_ncols=True) as progress:
        if pool is None:
            for pair in pairs:
                accumulator.add(pair, n_bins)
                progress.update()
            return accumulator
        shard = max(1, min(_MAX_SHARD, math.ceil(len(pairs) / (workers * _SHARDS_PER_WORKER))))
        tasks = [(pairs[i : i + shard], n_bins) for i in range(0, len(pairs), shard)]
        # imap keeps shard order, so merged lists are in image order.
        for task, partial in zip(tasks, pool.imap(_score_shard, tasks), strict=True):
            accumulator.merge(partial)
            progress.update(len(task[0]))
    return accumulator


def _dataset_notes(paired: PairedFolders, accumulator: DatasetAccumulator, n_images: int) -> list[str]:
    def listed(names: list[str], total: int) -> str:
        shown = ", ".join(names[:_EXAMPLES_KEPT])
        return shown + (", ..." if total > _EXAMPLES_KEPT else "")

    notes = []
    for label, names in (
        (f"prediction(s) in {paired.pred_dir} without a mask", paired.pred_without_gt),
        (f"mask(s) in {paired.gt_dir} without a prediction", paired.gt_without_pred),
        ("file(s) ignored (not .png/.jpg/.jpeg/.bmp)", paired.ignored_files),
    ):
        if names:
            notes.append(f"{len(names)} {label}: {listed(names, len(names))}")
    for note, count in accumulator.note_counts.items():
        notes.append(f"{note}: {count} image(s): {listed(accumulator.note_examples[note], count)}")
    if accumulator.n_empty_masks == n_images:
        notes.append(
            "every mask is empty (out-of-distribution set): F-measures and S-measure are n/a; the mean "
            "predicted saliency is the false-positive mass (MAE and E-measure, as in PySODMetrics, use "
            "each map min-max stretched, which inflates faint false positives)"
        )
    elif accumulator.n_empty_masks:
        notes.append(f"{accumulator.n_empty_masks} of {n_images} masks are empty")
    return notes


def _finalise(name: str, paired: PairedFolders, accumulator: DatasetAccumulator, n_bins: int) -> DatasetScore:
    counts = accumulator.counts
    n_images = len(accumulator.image_ece)
    sod: dict[str, float | None] = dict(accumulator.sod.results())
    if accumulator.n_empty_masks == n_images:
        sod.update(dict.fromkeys(NEEDS_FOREGROUND))
    image_ece = np.asarray(accumulator.image_ece)
    metrics: dict[str, float | int | None] = {
        "ECE": calibration.expected_calibration_error(counts, n_bins),
        "OE": calibration.overconfidence_error(counts, n_bins),
        "ACC": calibration.pixel_accuracy(counts),
        "AECE": calibration.adaptive_calibration_error(counts, ADAPTIVE_BINS),
        "dECE": calibration.debiased_calibration_error(counts, n_bins),
        "NLL": calibration.negative_log_likelihood(counts),
        "Brier": calibration.brier_score(counts),
        **sod,
        "n_images": n_images,
        "mean_saliency": calibration.mean_prediction(counts),
        "ECE_img_mean": float(image_ece.mean()),
        "ECE_img_median": float(np.median(image_ece)),
        "ECE_img_p90": float(np.percentile(image_ece, 90)),
        "n_pixels": int(counts.sum()),
        "n_empty_masks": accumulator.n_empty_masks,
        "n_pred_without_gt": len(paired.pred_without_gt),
        "n_gt_without_pred": len(paired.gt_without_pred),
        "n_ignored_files": len(paired.ignored_files),
        "n_resized": accumulator.n_resized,
        "n_converted": accumulator.n_converted,
    }
    return DatasetScore(
        name=name,
        metrics=metrics,
        counts=counts,
        notes=_dataset_notes(paired, accumulator, n_images),
        pred_dir=paired.pred_dir,
        gt_dir=paired.gt_dir,
    )


def _score_all(jobs: list[tuple[str, Path, Path]], workers: int | None, n_bins: int) -> list[DatasetScore]:
    # Every folder is checked and paired before any image is scored, so that a
    # typo in the last dataset name fails at once rather than after an hour.
    workers = _check_options(workers, n_bins)
    if not jobs:
        raise EvaluationInputError("no dataset to evaluate")
    names = [name for name, _, _ in jobs]
    if len(set(names)) != len(names):
        raise EvaluationInputError(f"dataset names must be unique, got {names}")
    paired = [(name, pair_folders(Path(pred), Path(gt))) for name, pred, gt in jobs]
    largest = max(len(folders.pairs) for _, folders in paired)
    with _worker_pool(workers, largest) as pool:
        return [
            _finalise(name, folders, _accumulate(folders.pairs, pool, workers, n_bins, desc=name), n_bins)
            for name, folders in paired
        ]


def score_dataset(pred_dir: Path, gt_dir: Path, workers: int | None = None, n_bins: int = 10) -> dict:
    """Score one folder of 8-bit prediction maps against one folder of masks.

    Returns the metric dictionary written to ``results.json`` for a dataset
    (values as fractions, ``None`` where a metric is not applicable).
    """
    return _score_all([(Path(pred_dir).name, Path(pred_dir), Path(gt_dir))], workers, n_bins)[0].metrics


def run_evaluation(
    jobs: Iterable[tuple[str, Path, Path]], out_dir: Path, workers: int | None = None, n_bins: int = 10
) -> dict[str, dict[str, float | None]]:
    """Score ``(name, pred_dir, gt_dir)`` jobs, print the tables and write reports and plots.

    Every folder is checked before any image is scored.
    """
    scores = _score_all(list(jobs), workers, n_bins)
    print(format_tables(scores, n_bins))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_reports(out_dir, scores, n_bins)
    save_reliability_plots(out_dir, scores, n_bins)
    return {score.name: score.metrics for score in scores}


def evaluate_datasets(
    pred_root: Path,
    gt_root: Path,
    datasets: list[str],
    out_dir: Path,
    workers: int | None = None,
    n_bins: int = 10,
) -> dict[str, dict[str, float | None]]:
    """Score ``<pred_root>/<name>`` against the masks of ``<gt_root>/<name>`` for each name.

    Masks are read from ``<gt_root>/<name>/GT`` when that folder exists, else
    from ``<gt_root>/<name>``. Prints the tables, writes ``results.md/.csv/.json``
    and the reliability diagrams into ``out_dir`` and returns the
    ``results.json`` content.
    """
    jobs = [(name, Path(pred_root) / name, mask_folder(Path(gt_root), name)) for name in datasets]
    return run_evaluation(jobs, out_dir, workers=workers, n_bins=n_bins)
