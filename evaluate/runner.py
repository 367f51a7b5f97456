"""Scoring whole test sets, in parallel, into the ``results.json`` metric dictionaries.

What is computed is the protocol's (:mod:`protocol`); this module reads each image once, converts
it once, and hands it to the protocol's calibration counts and SOD statistics. Each set's entry holds:

* the calibration metrics the protocol reports, on the pixels of all counted images pooled, and the mean
  saliency (mean p) of the same pixels; ``n_images_calibration`` says how many images they cover (under the
  paper protocol a prediction of another size than its mask is left out, as the authors do);
* the SOD metrics the protocol reports, over all ``n_images`` images; on a set whose masks are all empty
  the metrics the protocol names in ``needs_foreground`` are n/a (``None``);
* where the protocol reports them (``per_image_ece``, ``boundary_ece``), the distribution of the images'
  own ECE, and ECE / OE over the pixels of the masks' boundary bands (:mod:`metrics.boundary`, width
  ``boundary_width``, default ``BOUNDARY_WIDTH``) and over the rest, with the band's share of the pixels;
* with probability maps beside the test maps (the protocols whose test maps are not probabilities), the
  ECE / OE / ACC of those under the calibrated protocol, the mean and standard deviation of their
  per-image ECE and their boundary-band metrics (``calibrated_*``, over all ``n_images``);
* counts of what was skipped, converted or resized, of empty masks (``n_empty_masks``: no pixel >= 128)
  and of constant prediction maps (``n_constant_maps``: one level over the whole map), with notes.

Masks or maps holding only the levels 0 and 1 are refused (:func:`data.files.check_levels`): masks always,
maps when some mask of the set has an object (a confident model's maps of an object-free set legitimately
hold only 0 and 1) unless ``trust_map_levels`` says the maps are known to be 8-bit maps (the pipeline's own).

With several workers, the sorted image list is cut into contiguous shards; each shard is scored in a worker
process into its own :class:`DatasetAccumulator`, and the accumulators are merged in shard order, so the
result equals a single pass over the images (exactly for counts and per-image values, to rounding for the
summed threshold curves). Workers are never forked from the caller: a process that has used OpenCV's (or
torch's) thread pools can deadlock its forked children, so they come from a forkserver (spawn where there is
none). As with any spawn-based multiprocessing, a calling script must therefore guard its entry point with
``if __name__ == "__main__"``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from data.files import abbreviate, check_levels, require_writable_folder
from metrics import calibration
from metrics.boundary import BOUNDARY_WIDTH, boundary_band, check_width
from evaluate.io import (
    RESIZE_NOTE,
    ROTATED_NOTE,
    EvaluationInputError,
    MapPair,
    PairedFolders,
    as_evaluation_error,
    load_pair,
    mask_folder,
    pair_folders,
)
from metrics.measures import ImageAccumulator, mean_curves, summarise
from protocol import (
    CALIBRATION_KEYS,
    DEFAULT_PROTOCOL,
    PROBABILITY_MAPS,
    PROBABILITY_PROTOCOL,
    PROTOCOLS,
    SOD_KEYS,
    Protocol,
    get_protocol,
)
from report.tables import (
    BOUNDARY_KEYS,
    IMAGE_ECE_KEYS,
    PROBABILITY_KEYS,
    DatasetScore,
    Diagram,
    format_tables,
    write_reports,
)

_COUNT_METRICS = {
    "ECE": calibration.expected_calibration_error,
    "OE": calibration.overconfidence_error,
    "ACC": lambda counts, n_bins: calibration.pixel_accuracy(counts),
    "AECE": lambda counts, n_bins: calibration.adaptive_calibration_error(counts),
    "dECE": calibration.debiased_calibration_error,
    "NLL": lambda counts, n_bins: calibration.negative_log_likelihood(counts),
    "Brier": lambda counts, n_bins: calibration.brier_score(counts),
}
_EXAMPLES_KEPT = 5
_SHARDS_PER_WORKER = 8
_MAX_SHARD = 64
_S_NAN_NOTE = (
    "S-measure undefined (NaN) in the authors' evaluator: a mask with a single foreground or background "
    "pixel, or a centroid on the first row or column; S is n/a for the set"
)

ProtocolChoice = Protocol | str


@dataclass(frozen=True)
class Scoring:
    """How every image is scored: the protocol, the confidence bins and the width of the boundary band."""

    protocol: Protocol
    n_bins: int
    boundary_width: int


def _zero_counts() -> np.ndarray:
    return np.zeros((calibration.N_LEVELS, 2), dtype=np.int64)


@dataclass
class MapCounts:
    """The calibration counts of one kind of map (the test maps, or the probability maps beside them) under
    the protocol ``scored_by``: all counted pixels pooled, the pixels of the boundary band pooled (where
    ``scored_by`` reports the band) and each image's ECE (where it reports those)."""

    scored_by: Protocol
    counts: np.ndarray = field(default_factory=_zero_counts)
    boundary_counts: np.ndarray = field(default_factory=_zero_counts)
    image_ece: list[float] = field(default_factory=list)

    def add(self, pred: np.ndarray, gt: np.ndarray, joint: np.ndarray, scoring: Scoring) -> None:
        """Count one map ``pred`` against its mask ``gt``, whose joint histogram is ``joint``."""
        counts = self.scored_by.counts_from_joint(joint)
        self.counts += counts
        if self.scored_by.per_image_ece:
            self.image_ece.append(calibration.expected_calibration_error(counts, scoring.n_bins))
        if self.scored_by.boundary_ece:
            band = boundary_band(gt, scoring.boundary_width)
            self.boundary_counts += self.scored_by.counts_from_joint(calibration.joint_histogram(pred[band], gt[band]))

    def merge(self, other: MapCounts) -> None:
        """Append the images of ``other`` (which come after this one's images)."""
        self.counts += other.counts
        self.boundary_counts += other.boundary_counts
        self.image_ece += other.image_ece

    def metrics(self, keys: Sequence[str], n_bins: int) -> dict[str, float | None]:
        """The count metrics ``keys`` of the pooled pixels, then those of :data:`IMAGE_ECE_KEYS` and
        :data:`BOUNDARY_KEYS` that ``scored_by`` reports (a key left out has no value)."""
        metrics = _calibration_metrics(self.counts, keys, n_bins)
        if self.image_ece:
            values = np.asarray(self.image_ece)
            statistics = (values.mean(), values.std(), np.median(values), np.percentile(values, 90))
            metrics.update(zip(IMAGE_ECE_KEYS, map(float, statistics), strict=True))
        if self.scored_by.boundary_ece and self.counts.sum() > 0:
            # Counts are additive over pixels: the rest is what the band leaves of the pooled counts.
            band = _calibration_metrics(self.boundary_counts, ("ECE", "OE"), n_bins)
            rest = _calibration_metrics(self.counts - self.boundary_counts, ("ECE", "OE"), n_bins)
            fraction = float(self.boundary_counts.sum() / self.counts.sum())
            values = (fraction, band["ECE"], band["OE"], rest["ECE"], rest["OE"])
            metrics.update(zip(BOUNDARY_KEYS, values, strict=True))
        return metrics


@dataclass
class DatasetAccumulator:
    """Everything kept about the images scored so far; mergeable across processes."""

    scoring: Scoring
    test_maps: MapCounts = field(init=False)
    probability_maps: MapCounts = field(init=False)
    n_images: int = 0
    n_images_calibration: int = 0
    n_empty_masks: int = 0
    n_constant_maps: int = 0
    n_resized: int = 0
    n_converted: int = 0
    pred_max: int = 0
    gt_max: int = 0
    probability_max: int = 0
    sod: ImageAccumulator = field(default_factory=ImageAccumulator)
    note_counts: Counter[str] = field(default_factory=Counter)
    note_examples: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.test_maps = MapCounts(self.scoring.protocol)
        self.probability_maps = MapCounts(PROBABILITY_PROTOCOL)

    @property
    def protocol(self) -> Protocol:
        """The protocol the images are scored under."""
        return self.scoring.protocol

    def add(self, pair: MapPair) -> None:
        """Read and score one pair."""
        protocol = self.protocol
        loaded = load_pair(pair, resize_with_pil=protocol.resize_with_pil)
        resized = RESIZE_NOTE in loaded.notes
        joint = calibration.joint_histogram(loaded.pred, loaded.gt)
        pred_levels = np.flatnonzero(joint.sum(axis=1))
        self.n_images += 1
        self.pred_max = max(self.pred_max, int(pred_levels[-1]))
        self.gt_max = max(self.gt_max, int(np.flatnonzero(joint.sum(axis=0))[-1]))
        self.n_empty_masks += int(not joint[:, 128:].any())
        self.n_constant_maps += int(pred_levels.size == 1)
        if resized and not protocol.resized_maps_in_calibration:
            if protocol.resize_note:
                self._note(protocol.resize_note, [pair.name], 1)
        else:
            self.test_maps.add(loaded.pred, loaded.gt, joint, self.scoring)
            self.n_images_calibration += 1
        self.sod.add(protocol.image_stats(loaded.pred, loaded.gt, joint))
        if math.isnan(self.sod.values["s_measure"][-1]):
            self._note(_S_NAN_NOTE, [pair.name], 1)
        if loaded.probability is not None:
            probability_joint = calibration.joint_histogram(loaded.probability, loaded.gt)
            self.probability_maps.add(loaded.probability, loaded.gt, probability_joint, self.scoring)
            self.probability_max = max(self.probability_max, int(loaded.probability.max()))
        self.n_resized += int(resized)
        self.n_converted += int(any(note not in (RESIZE_NOTE, ROTATED_NOTE) for note in loaded.notes))
        for note in loaded.notes:
            self._note(note, [pair.name], 1)

    def _note(self, note: str, names: list[str], count: int) -> None:
        self.note_counts[note] += count
        examples = self.note_examples.setdefault(note, [])
        examples.extend(names[: _EXAMPLES_KEPT - len(examples)])

    def merge(self, other: DatasetAccumulator) -> None:
        """Append the images of ``other`` (which come after this accumulator's images)."""
        self.test_maps.merge(other.test_maps)
        self.probability_maps.merge(other.probability_maps)
        self.n_images += other.n_images
        self.n_images_calibration += other.n_images_calibration
        self.n_empty_masks += other.n_empty_masks
        self.n_constant_maps += other.n_constant_maps
        self.n_resized += other.n_resized
        self.n_converted += other.n_converted
        self.pred_max = max(self.pred_max, other.pred_max)
        self.gt_max = max(self.gt_max, other.gt_max)
        self.probability_max = max(self.probability_max, other.probability_max)
        self.sod.merge(other.sod)
        for note, count in other.note_counts.items():
            self._note(note, other.note_examples[note], count)


def _score_shard(task: tuple[Sequence[MapPair], Scoring]) -> DatasetAccumulator:
    pairs, scoring = task
    accumulator = DatasetAccumulator(scoring)
    for pair in pairs:
        accumulator.add(pair)
    return accumulator


def _init_worker() -> None:
    # One process per core already; OpenCV's own threads would only oversubscribe.
    cv2.setNumThreads(1)
    # A terminal's Ctrl-C reaches every process of the group: the main process stops the pool and says
    # so in one line, the workers keep quiet.
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


def _check_options(
    workers: int | None, n_bins: int, boundary_width: int, protocol: ProtocolChoice
) -> tuple[int, Scoring]:
    if not isinstance(protocol, Protocol):
        try:
            protocol = get_protocol(protocol)
        except ValueError as error:
            raise EvaluationInputError(str(error)) from None
    if workers is None:
        workers = available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise EvaluationInputError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise EvaluationInputError(f"n_bins must be a positive integer, got {n_bins!r}")
    try:
        check_width(boundary_width)
    except ValueError as error:
        raise EvaluationInputError(str(error)) from None
    return workers, Scoring(protocol, n_bins, int(boundary_width))


@contextmanager
def _worker_pool(workers: int, n_images: int) -> Iterator[Pool | None]:
    """Yield a pool shared by all the sets of one call (workers start once), or None for one worker."""
    if workers == 1 or n_images <= 1:
        yield None
        return
    with _worker_context().Pool(processes=min(workers, n_images), initializer=_init_worker) as pool:
        yield pool


def _accumulate(
    pairs: Sequence[MapPair], pool: Pool | None, workers: int, scoring: Scoring, desc: str
) -> DatasetAccumulator:
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


def _dataset_notes(paired: PairedFolders, accumulator: DatasetAccumulator) -> list[str]:
    notes = []
    for label, names in (
        (f"prediction(s) in {paired.pred_dir} without a mask", paired.pred_without_gt),
        (f"mask(s) in {paired.gt_dir} without a prediction", paired.gt_without_pred),
        (f"probability map(s) in {paired.probability_dir} without a scored prediction", paired.probability_unused),
        ("file(s) ignored (not a map or mask file)", paired.ignored_files),
        ("subfolder(s) ignored", paired.ignored_folders),
    ):
        if names:
            notes.append(f"{len(names)} {label}: {abbreviate(names)}")
    for note, count in accumulator.note_counts.items():
        notes.append(f"{note}: {count} image(s): {abbreviate(accumulator.note_examples[note], total=count)}")
    n_images = accumulator.n_images
    if accumulator.n_images_calibration < n_images:
        notes.append(
            f"the calibration metrics and the mean saliency cover {accumulator.n_images_calibration} of {n_images} "
            "images (the SOD metrics cover all)"
        )
    if accumulator.n_empty_masks == n_images:
        needs_foreground = ", ".join(key for key in SOD_KEYS if key in accumulator.protocol.needs_foreground)
        notes.append(
            f"every mask is empty (out-of-distribution set): {needs_foreground} are n/a; the mean predicted "
            f"saliency is the false-positive mass ({accumulator.protocol.empty_set_note})"
        )
    elif accumulator.n_empty_masks:
        notes.append(f"{accumulator.n_empty_masks} of {n_images} masks are empty")
    if accumulator.n_constant_maps == n_images:
        notes.append(
            "every prediction map is constant (one level over the whole map, e.g. all 0 or all 255): the threshold "
            "curves cannot rank pixels, so F, E, AP and AUC say nothing about where the objects are"
        )
    elif accumulator.n_constant_maps:
        notes.append(f"{accumulator.n_constant_maps} of {n_images} prediction maps are constant (a single level)")
    maxima = ((paired.pred_dir, accumulator.pred_max), (paired.probability_dir, accumulator.probability_max))
    for folder, level in maxima:
        if level == 1:
            notes.append(f"every map in {folder} holds only the levels 0 and 1: scored as probabilities <= 1/255")
    return notes


def _check_levels(paired: PairedFolders, accumulator: DatasetAccumulator, trust_map_levels: bool) -> None:
    """Refuse masks, and unless trusted maps, stored as 0/1 (the object marked with 1 instead of 255)."""
    n_images = accumulator.n_images
    check_levels(accumulator.gt_max, paired.gt_dir, "mask", n_images)
    # Near-black maps of a confident model can hold only 0 and 1 on a set without objects; with
    # objects in the masks, a set of maps holding only 0 and 1 is most likely binary maps stored as 0/1.
    if trust_map_levels or accumulator.n_empty_masks == n_images:
        return
    check_levels(accumulator.pred_max, paired.pred_dir, "map", n_images)
    if paired.probability_dir is not None:
        check_levels(accumulator.probability_max, paired.probability_dir, "map", n_images)


def _calibration_metrics(counts: np.ndarray, keys: Sequence[str], n_bins: int) -> dict[str, float | None]:
    if counts.sum() == 0:
        return dict.fromkeys(keys)
    return {key: _COUNT_METRICS[key](counts, n_bins) for key in keys}


def _finalise(
    name: str, paired: PairedFolders, accumulator: DatasetAccumulator, trust_map_levels: bool
) -> DatasetScore:
    with as_evaluation_error():
        _check_levels(paired, accumulator, trust_map_levels)
    protocol, n_bins = accumulator.protocol, accumulator.scoring.n_bins
    counts, probability_counts = accumulator.test_maps.counts, accumulator.probability_maps.counts
    sod = summarise(accumulator.sod)
    has_foreground = accumulator.n_empty_masks < accumulator.n_images
    for key in protocol.needs_foreground if not has_foreground else ():
        sod[key] = None
    if sod.get("S") is not None and math.isnan(sod["S"]):
        sod["S"] = None
    test_maps = accumulator.test_maps.metrics(protocol.calibration_keys, n_bins)
    probability_metrics = [metric for metric in PROBABILITY_KEYS.values() if metric in CALIBRATION_KEYS]
    probability_maps = accumulator.probability_maps.metrics(probability_metrics, n_bins)
    # The same keys, in the same order, under every protocol (None where a protocol has no value).
    metrics: dict[str, float | int | str | None] = {
        "protocol": protocol.name,
        **{key: test_maps.get(key) for key in CALIBRATION_KEYS},
        **{key: sod.get(key) for key in SOD_KEYS},
        "n_images": accumulator.n_images,
        "n_images_calibration": accumulator.n_images_calibration,
        "mean_saliency": calibration.mean_prediction(counts) if counts.sum() > 0 else None,
        **{key: test_maps.get(key) for key in (*IMAGE_ECE_KEYS, *BOUNDARY_KEYS)},
        **{key: probability_maps.get(metric) for key, metric in PROBABILITY_KEYS.items()},
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
    }
    diagrams = [
        Diagram(name, maps, scored_by.name, diagram_counts, n_images)
        for maps, scored_by, diagram_counts, n_images in (
            (protocol.test_maps, protocol, counts, accumulator.n_images_calibration),
            (PROBABILITY_MAPS, PROBABILITY_PROTOCOL, probability_counts, accumulator.n_images),
        )
        if diagram_counts.sum() > 0
    ]
    return DatasetScore(
        name=name,
        metrics=metrics,
        diagrams=diagrams,
        curves=mean_curves(accumulator.sod) if metrics["maxF"] is not None else None,
        notes=_dataset_notes(paired, accumulator),
        pred_dir=paired.pred_dir,
        gt_dir=paired.gt_dir,
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
    return [(name, pair_folders(Path(pred), Path(gt), probability_dirs.get(name))) for name, pred, gt in jobs]


def _score_paired(
    paired: list[tuple[str, PairedFolders]], workers: int, scoring: Scoring, trust_map_levels: bool
) -> list[DatasetScore]:
    largest = max(len(folders.pairs) for _, folders in paired)
    with _worker_pool(workers, largest) as pool:
        return [
            _finalise(name, folders, _accumulate(folders.pairs, pool, workers, scoring, name), trust_map_levels)
            for name, folders in paired
        ]


def score_dataset(
    pred_dir: Path,
    gt_dir: Path,
    *,
    protocol: ProtocolChoice = DEFAULT_PROTOCOL,
    workers: int | None = None,
    n_bins: int = 10,
    boundary_width: int = BOUNDARY_WIDTH,
    probability_dir: Path | None = None,
    trust_map_levels: bool = False,
) -> dict:
    """Score one folder of 8-bit prediction maps against one folder of masks.

    ``protocol``: a :class:`Protocol` or its name. ``probability_dir``: the probability maps round(255 p) of
    the same images (protocols whose test maps are not probabilities). ``trust_map_levels``: the maps are
    known to be 8-bit maps, so maps holding only the levels 0 and 1 are scored, not refused.
    ``boundary_width``: the width in mask pixels of the boundary band (:mod:`metrics.boundary`). Returns the
    metric dictionary written to ``results.json`` for a dataset (values as fractions, ``None`` where a metric
    is not applicable).
    """
    workers, scoring = _check_options(workers, n_bins, boundary_width, protocol)
    name = Path(pred_dir).name
    jobs = [(name, Path(pred_dir), Path(gt_dir))]
    probability_dirs = {name: Path(probability_dir)} if probability_dir is not None else None
    paired = _pair_all(jobs, probability_dirs, scoring.protocol)
    return _score_paired(paired, workers, scoring, trust_map_levels)[0].metrics


def run_evaluation(
    jobs: Iterable[Job],
    out_dir: Path,
    *,
    protocol: ProtocolChoice = DEFAULT_PROTOCOL,
    workers: int | None = None,
    n_bins: int = 10,
    boundary_width: int = BOUNDARY_WIDTH,
    probability_dirs: dict[str, Path] | None = None,
    trust_map_levels: bool = False,
) -> dict[str, dict[str, float | int | str | None]]:
    """Score ``(name, pred_dir, gt_dir)`` jobs, print the tables and write reports, curves and plots.

    ``probability_dirs`` maps set names to folders of probability maps (sets not named have none); see
    :func:`score_dataset` for the other options. Every input folder and the output folder are checked
    before any image is scored.
    """
    workers, scoring = _check_options(workers, n_bins, boundary_width, protocol)
    paired = _pair_all(list(jobs), probability_dirs, scoring.protocol)
    out_dir = Path(out_dir)
    with as_evaluation_error():
        require_writable_folder(out_dir)
    scores = _score_paired(paired, workers, scoring, trust_map_levels)
    print(format_tables(scores, n_bins, scoring.protocol))
    write_reports(out_dir, scores, n_bins, scoring.protocol)
    diagrams = [diagram for score in scores for diagram in score.diagrams]
    if diagrams:
        # Imported here: matplotlib takes a third of a second to import, and only the plots need it.
        from report.reliability import save_reliability_plots

        save_reliability_plots(out_dir, diagrams, n_bins)
    return {score.name: score.metrics for score in scores}


def evaluate_datasets(
    pred_root: Path,
    gt_root: Path,
    datasets: list[str],
    out_dir: Path,
    *,
    protocol: ProtocolChoice = DEFAULT_PROTOCOL,
    workers: int | None = None,
    n_bins: int = 10,
    boundary_width: int = BOUNDARY_WIDTH,
    probability_root: Path | None = None,
    trust_map_levels: bool = False,
) -> dict[str, dict[str, float | int | str | None]]:
    """Score ``<pred_root>/<name>`` against the masks of ``<gt_root>/<name>`` for each name.

    Masks are read from ``<gt_root>/<name>/GT`` when that folder exists, else from ``<gt_root>/<name>``; with
    ``probability_root``, the probability maps from ``<probability_root>/<name>``. Prints the tables, writes
    ``results.md/.csv/.json``, ``curves.json`` and the reliability diagrams into ``out_dir`` and returns the
    ``results.json`` content.
    """
    jobs = [(name, Path(pred_root) / name, mask_folder(Path(gt_root), name)) for name in datasets]
    probability_dirs = {name: Path(probability_root) / name for name in datasets} if probability_root else None
    return run_evaluation(jobs, out_dir, workers=workers, n_bins=n_bins, boundary_width=boundary_width,
                          protocol=protocol, probability_dirs=probability_dirs, trust_map_levels=trust_map_levels)
