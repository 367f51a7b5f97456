"""Scoring whole test sets, in parallel, into the ``results.json`` metric dictionaries.

What is computed is the protocol's (:mod:`protocol`) and the metric table's (:mod:`metrics.table`); this
module pairs the folders (:mod:`evaluate.io`), accumulates the images (:mod:`evaluate.accumulate`) and
finishes each set. Each set's entry holds, under the same keys in the same order whatever the protocol
(None where the protocol has no value):

* the metrics the protocol reports, over the pixels of all counted images pooled (calibration) or over
  the ``n_images`` images less those on which a metric is undefined (SOD: the notes name them per metric,
  and a metric that covers no image is n/a); ``n_images_calibration`` says how many images the calibration
  covers (under the paper protocol a prediction of another size than its mask is left out, as the authors
  do); on a set whose masks are all empty the metrics the protocol names in ``needs_foreground`` are n/a;
* where the protocol reports them, the same per boundary band and rest, and per image;
* with probability maps beside the test maps (protocols whose test maps are not probabilities), every
  calibration value of those under the probability protocol (the ``probabilities_`` keys);
* counts of what was skipped, converted or resized, of empty masks (``n_empty_masks``: no pixel >= 128)
  of constant prediction maps (``n_constant_maps``: one level over the whole map) and of void mask pixels
  (``n_void_pixels`` in ``n_void_masks`` masks: VOC palette index 255, left out of every metric), with notes
  (worded in :mod:`evaluate.notes`).

Each file is judged by itself (:mod:`data.files`): a mask stored as 0/1 is read as 0/255, with a note. A map
holding only the levels 0 and 1 is a binary map stored as 0/1 or a confident model's probability map: it is
scored as it is, with a note, where its mask is empty, and refused where its mask marks an object (naming every
such map, :func:`evaluate.io.zero_one_maps_error`) unless ``trust_map_levels`` says the maps are known to be 8-bit
maps (the pipeline's own, and ``--trust-map-levels``).

With several workers, the sorted image list is cut into contiguous shards; each shard is scored in a worker
process into its own accumulator, and the accumulators are merged in shard order, so the result equals a
single pass over the images (exactly for counts and per-image values, to rounding for the summed threshold
curves). Workers are never forked from the caller: a process that has used OpenCV's (or torch's) thread
pools can deadlock its forked children, so they come from a forkserver (spawn where there is none). As with
any spawn-based multiprocessing, a calling script must therefore guard its entry point with
``if __name__ == "__main__"``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import fields, replace
from multiprocessing import resource_tracker
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from data.files import SIXTEEN_BIT_LOW_NOTE, SIXTEEN_BIT_NOTE, require_writable_folder
from evaluate.accumulate import DatasetAccumulator, Scoring
from evaluate.io import (
    EvaluationInputError, PairedFolders, as_evaluation_error, mask_folder, pair_folders, sixteen_bit_maps_error,
    zero_one_maps_error,
)
from evaluate.notes import dataset_notes, empty_set_na
from evaluate.pictures import Pictures, set_pictures
from evaluate.records import rewrite_command
from common.interrupts import sigint_held
from metrics.boundary import check_width
from metrics.calibration import MAX_BINS, MAX_BINS_REASON
from metrics.measures import mean_curves
from metrics.table import (
    BOUNDARY, IMAGE, IMAGE_STATISTICS, METRICS, SCOPES, result_key, sod_metrics,
)
from common.layout import MAPS_RECORD
from protocol import (
    AS_GIVEN, MAP_KINDS, PROBABILITIES_AS_GIVEN, PROBABILITY_MAPS, PROBABILITY_PROTOCOL, PROTOCOLS, MapKind, Protocol,
    get_protocol,
)
from report.tables import DatasetScore, Diagram, format_tables, write_reports

_SHARDS_PER_WORKER = 8
_MAX_SHARD = 64
COUNT_KEYS = (
    "boundary_width", "n_pixels", "n_empty_masks", "n_constant_maps", "n_pred_without_gt", "n_gt_without_pred",
    "n_ignored_files", "n_ignored_folders", "n_resized", "n_converted", "n_void_pixels", "n_void_masks",
)  # fmt: skip


def _keys(probabilities: bool) -> list[str]:
    """Every calibration or SOD key some protocol reports, scope by scope, in the metric table's order."""
    keys = []
    for scope in SCOPES:
        for metric in METRICS.values():
            if probabilities and metric.from_counts is None:
                continue
            if any(scope in metric.scopes(name) for name in PROTOCOLS):
                statistics = IMAGE_STATISTICS if scope == IMAGE else ("mean",)
                keys += [result_key(metric.key, scope, statistic, probabilities) for statistic in statistics]
        if scope == BOUNDARY:
            keys.append(result_key("boundary_fraction", probabilities=probabilities))
    return keys


# The same keys, in the same order, under every protocol: results.json and the CSV line up.
RESULT_KEYS = ("protocol", "maps", *_keys(False), "n_images", "n_images_calibration", *_keys(True), *COUNT_KEYS)


def scoring_of(**options: Any) -> Scoring:
    """The :class:`Scoring` of keyword ``options`` (its fields; ``protocol`` may be a name), checked."""
    unknown = set(options) - {item.name for item in fields(Scoring)}
    if unknown:
        raise TypeError(f"unknown scoring option(s) {', '.join(sorted(unknown))}")
    protocol = options.get("protocol")
    if isinstance(protocol, str):
        try:
            options["protocol"] = get_protocol(protocol)
        except ValueError as error:
            raise EvaluationInputError(str(error)) from None
    scoring = Scoring(**options)
    workers, n_bins = scoring.workers, scoring.n_bins
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise EvaluationInputError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= MAX_BINS:
        raise EvaluationInputError(
            f"n_bins must be an integer from 1 to {MAX_BINS} ({MAX_BINS_REASON}), got {n_bins!r}"
        )
    level = scoring.void_level
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 254):
        raise EvaluationInputError(f"the void level must be a mask level from 1 to 254 (0 is background and 255 the "
                                   f"object), got {level!r}")
    try:
        check_width(scoring.boundary_width)
    except ValueError as error:
        raise EvaluationInputError(str(error)) from None
    return scoring


def _score_shard(task: tuple[Sequence, Scoring]) -> DatasetAccumulator:
    pairs, scoring = task
    accumulator = DatasetAccumulator(scoring)
    for pair in pairs:
        accumulator.add(pair)
    return accumulator


def _init_worker() -> None:
    # One process per core already; OpenCV's own threads would only oversubscribe.
    cv2.setNumThreads(1)
    # A terminal's Ctrl-C reaches every process of the group: the main process stops the pool and says
    # so in one line, the workers keep quiet (started with SIGINT blocked until now: _worker_pool).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server imports the scoring code once; each worker is then a cheap fork of it. The server starts
    # once per process, which may score under several protocols: it imports what each of them needs.
    preload = dict.fromkeys(module for protocol in PROTOCOLS.values() for module in protocol.worker_preload)
    context.set_forkserver_preload([__name__, *preload])
    return context


def available_cores() -> int:
    """CPU cores this process may run on (the default number of workers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def _worker_pool(workers: int, n_images: int) -> Iterator[Pool | None]:
    """Yield a pool shared by all the sets of one call (workers start once), or None for one worker."""
    if workers == 1 or n_images <= 1:
        yield None
        return
    # Started before SIGINT is blocked: starting multiprocessing's resource tracker (the pool would) unblocks it.
    resource_tracker.ensure_running()
    with ExitStack() as stack:
        # The forkserver and the workers start with SIGINT blocked, and inherit it: a Ctrl-C can interrupt
        # neither the server's imports nor a worker before _init_worker (each would print a traceback). One
        # that arrives meanwhile is raised here when the pool is up, and stops it (its exit terminates it).
        with sigint_held():
            pool = stack.enter_context(
                _worker_context().Pool(processes=min(workers, n_images), initializer=_init_worker)
            )
        yield pool


def _accumulate(pairs: Sequence, pool: Pool | None, workers: int, scoring: Scoring, desc: str) -> DatasetAccumulator:
    accumulator = DatasetAccumulator(scoring)
    with tqdm(total=len(pairs), desc=desc, unit="img", leave=False, dynamic_ncols=True) as progress:
        if pool is None:
            for pair in pairs:
                accumulator.add(pair)
                progress.update()
            return accumulator
        shard = max(1, min(_MAX_SHARD, math.ceil(len(pairs) / (workers * _SHARDS_PER_WORKER))))
        tasks = [(pairs[i : i + shard], scoring) for i in range(0, len(pairs), shard)]
        # imap keeps shard order, so merged lists are in image order.
        for task, partial in zip(tasks, pool.imap(_score_shard, tasks), strict=True):
            accumulator.merge(partial)
            progress.update(len(task[0]))
    return accumulator


def _check_levels(paired: PairedFolders, accumulator: DatasetAccumulator) -> None:
    """Unless the maps are trusted, refuse those holding only the levels 0 and 1 where their mask marks an
    object: each is a binary map stored as 0/1 or a probability map with p <= 1/255 on the object. Maps with
    a record (maps.json: the test stage wrote them) are 8-bit maps, so trusted."""
    for role, folder, record in (("prediction", paired.pred_dir, paired.record),
                                 ("probability map", paired.probability_dir, paired.probability_record)):
        names = accumulator.zero_one_maps.get(role)
        if names and not accumulator.scoring.trust_map_levels and record is None:
            raise zero_one_maps_error(folder, names, accumulator.n_images)
        low, plain = (f"{role}: {note}" for note in (SIXTEEN_BIT_LOW_NOTE, SIXTEEN_BIT_NOTE))
        if accumulator.note_counts[low] and not accumulator.note_counts[plain]:
            raise sixteen_bit_maps_error(folder, accumulator.note_examples[low], accumulator.note_counts[low])


def _map_kinds(paired: PairedFolders) -> tuple[MapKind, MapKind]:
    """What the test maps and the probability maps are: their record's kind, or 'as given' without one."""
    return (MAP_KINDS[paired.record["maps"]] if paired.record else AS_GIVEN,
            PROBABILITY_MAPS if paired.probability_record else PROBABILITIES_AS_GIVEN)


def _check_kinds(paired: PairedFolders, protocol: Protocol) -> None:
    """Score the maps the protocol asks for, never one kind as another: a folder whose record says it
    holds another kind stops the scoring, naming both protocols and the command that writes the maps."""
    for folder, record, expected in ((paired.pred_dir, paired.record, protocol.test_maps),
                                     (paired.probability_dir, paired.probability_record, PROBABILITY_MAPS)):
        if record is None or record["maps"] == expected.word:
            continue
        held = MAP_KINDS[record["maps"]]
        as_they_are = "/".join(name for name, other in PROTOCOLS.items() if other.test_maps == held)
        raise EvaluationInputError(
            f"{folder} holds {held.title} (its {MAPS_RECORD} says so: written under the {record['protocol']} "
            f"protocol), but the {protocol.name} protocol scores {expected.title} there: score them as what they are "
            f"with --protocol={as_they_are}, or write the {protocol.name} protocol's maps from the same network: "
            f"{rewrite_command(record, protocol.name)}"
        )


def _sod_values(accumulator: DatasetAccumulator) -> dict[str, float | None]:
    # A metric that covers no image (each is undefined on it: metrics.measures) is n/a, as on an empty set.
    na = empty_set_na(accumulator)
    values: dict[str, float | None] = {}
    for metric in sod_metrics(accumulator.protocol.name):
        defined = metric.key not in na and metric.from_sod.covered(accumulator.sod) > 0
        values[metric.key] = metric.from_sod(accumulator.sod) if defined else None
    return values


def _finalise(name: str, paired: PairedFolders, accumulator: DatasetAccumulator) -> DatasetScore:
    with as_evaluation_error():
        _check_levels(paired, accumulator)
    protocol, n_bins = accumulator.protocol, accumulator.scoring.n_bins
    counts, probability_counts = accumulator.test_maps.counts, accumulator.probability_maps.counts
    test_kind, probability_kind = _map_kinds(paired)
    values: dict[str, float | int | str | None] = {
        "protocol": protocol.name,
        "maps": test_kind.word,
        **accumulator.test_maps.metrics(n_bins),
        **_sod_values(accumulator),
        **accumulator.probability_maps.metrics(n_bins, probabilities=True),
        "n_images": accumulator.n_images,
        "n_images_calibration": accumulator.n_images_calibration,
        "boundary_width": accumulator.scoring.boundary_width,
        "n_pixels": int(counts.sum()),
        "n_empty_masks": accumulator.n_empty_masks,
        "n_constant_maps": accumulator.n_constant_maps,
        "n_pred_without_gt": len(paired.pred_without_gt),
        "n_gt_without_pred": len(paired.gt_without_pred),
        "n_ignored_files": len(paired.ignored_files),
        "n_ignored_folders": len(paired.ignored_folders),
        "n_resized": accumulator.n_resized,
        "n_converted": accumulator.n_converted,
        "n_void_pixels": accumulator.n_void_pixels,
        "n_void_masks": accumulator.n_void_masks,
    }
    metrics = {key: values.get(key) for key in RESULT_KEYS}
    diagrams = [
        Diagram(name, maps, scored_by.name, diagram_counts, n_images)
        for maps, scored_by, diagram_counts, n_images in (
            (test_kind, protocol, counts, accumulator.n_images_calibration),
            (probability_kind, PROBABILITY_PROTOCOL, probability_counts, accumulator.n_images),
        )
        if diagram_counts.sum() > 0
    ]
    return DatasetScore(
        name=name,
        metrics=metrics,
        diagrams=diagrams,
        curves=mean_curves(accumulator.sod) if metrics["maxF"] is not None else None,
        notes=dataset_notes(paired, accumulator),
        pred_dir=paired.pred_dir,
        gt_dir=paired.gt_dir,
        probability_dir=paired.probability_dir,
        maps=test_kind,
        probability_maps=probability_kind if paired.probability_dir is not None else None,
        images=accumulator.images,
    )


Job = tuple[str, Path, Path]


def _pair_all(
    jobs: list[Job], probability_dirs: dict[str, Path] | None, protocol: Protocol
) -> list[tuple[str, PairedFolders]]:
    # Every folder is checked and paired before any image is scored, so that a
    # typo in the last dataset name fails at once rather than after an hour.
    if not jobs:
        raise EvaluationInputError("no dataset to evaluate")
    names = [name for name, _, _ in jobs]
    if len(set(names)) != len(names):
        raise EvaluationInputError(f"dataset names must be unique, got {names}")
    if probability_dirs and not protocol.writes_probability_maps:
        raise EvaluationInputError(
            f"probability maps beside the test maps are read by protocols whose test maps are not probabilities; "
            f"the {protocol.name} protocol scores the probability maps themselves: give them as the predictions"
        )
    probability_dirs = probability_dirs or {}
    paired = [(name, pair_folders(Path(pred), Path(gt), probability_dirs.get(name))) for name, pred, gt in jobs]
    for _, folders in paired:
        _check_kinds(folders, protocol)
    return paired


def _score_paired(paired: list[tuple[str, PairedFolders]], scoring: Scoring,
                  pictures: dict[str, Pictures] | None = None) -> list[DatasetScore]:
    workers = scoring.workers or available_cores()
    largest = max(len(folders.pairs) for _, folders in paired)
    pictures = pictures or {}
    with _worker_pool(workers, largest) as pool:
        return [
            _finalise(name, folders, _accumulate(folders.pairs, pool, workers,
                                                 replace(scoring, pictures=pictures.get(name)), name))
            for name, folders in paired
        ]


def score_dataset(pred_dir: Path, gt_dir: Path, *, probability_dir: Path | None = None, **options: Any) -> dict:
    """Score one folder of 8-bit prediction maps against one folder of masks.

    ``options``: the fields of :class:`evaluate.accumulate.Scoring` (``protocol``, a :class:`Protocol` or
    its name; ``n_bins``; ``boundary_width``; ``workers``; ``trust_map_levels``). ``probability_dir``: the
    probability maps round(255 p) of the same images (protocols whose test maps are not probabilities).
    Returns the metric dictionary written to ``results.json`` for a dataset (values as fractions, ``None``
    where a metric is not applicable).
    """
    scoring = scoring_of(**options)
    name = Path(pred_dir).name
    probability_dirs = {name: Path(probability_dir)} if probability_dir is not None else None
    paired = _pair_all([(name, Path(pred_dir), Path(gt_dir))], probability_dirs, scoring.protocol)
    return _score_paired(paired, scoring)[0].metrics


def run_evaluation(
    jobs: Iterable[Job], out_dir: Path, *, probability_dirs: dict[str, Path] | None = None,
    photo_dirs: dict[str, Path] | None = None, **options: Any
) -> dict[str, dict[str, float | int | str | None]]:
    """Score ``(name, pred_dir, gt_dir)`` jobs, print the tables and write reports, curves and plots, and
    ``report.html`` (:mod:`report.html`).

    ``probability_dirs`` maps set names to folders of probability maps (sets not named have none),
    ``photo_dirs`` to their photographs (:func:`evaluate.pictures.set_pictures`); ``options`` as for
    :func:`score_dataset`. Every input folder and the output folder are checked before any image is scored.
    """
    scoring = scoring_of(**options)
    paired = _pair_all(list(jobs), probability_dirs, scoring.protocol)
    out_dir = Path(out_dir)
    with as_evaluation_error():
        require_writable_folder(out_dir)
        pictures = set_pictures(out_dir, {name: folders.gt_dir for name, folders in paired}, photo_dirs)
    scores = _score_paired(paired, scoring, pictures)
    print(format_tables(scores, scoring.n_bins, scoring.protocol))
    write_reports(out_dir, scores, scoring.n_bins, scoring.protocol)
    diagrams = [diagram for score in scores for diagram in score.diagrams]
    if diagrams:
        # Imported here: matplotlib takes a third of a second to import, and only the plots need it.
        from report.reliability import save_reliability_plots

        save_reliability_plots(out_dir, diagrams, scoring.n_bins)
    from report.html import write_run_page  # jinja2, only now

    write_run_page(out_dir, scores, scoring.n_bins, scoring.protocol)
    return {score.name: score.metrics for score in scores}


def evaluate_datasets(
    pred_root: Path, gt_root: Path, datasets: list[str], out_dir: Path, *, probability_root: Path | None = None,
    **options: Any,
) -> dict[str, dict[str, float | int | str | None]]:
    """Score ``<pred_root>/<name>`` against the masks of ``<gt_root>/<name>`` for each name.

    Masks are read from ``<gt_root>/<name>/GT`` when that folder exists, else from ``<gt_root>/<name>``; with
    ``probability_root``, the probability maps from ``<probability_root>/<name>``. Prints the tables, writes
    ``results.md/.csv/.json``, ``curves.json`` and the reliability diagrams into ``out_dir`` and returns the
    ``results.json`` content; ``options`` as for :func:`score_dataset`.
    """
    jobs = [(name, Path(pred_root) / name, mask_folder(Path(gt_root), name)) for name in datasets]
    probability_dirs = {name: Path(probability_root) / name for name in datasets} if probability_root else None
    return run_evaluation(jobs, out_dir, probability_dirs=probability_dirs, **options)
