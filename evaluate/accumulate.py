"""What scoring keeps of the images of one test set, mergeable across worker processes.

Each image is read once (:mod:`evaluate.io`), its joint (prediction level, mask level) histogram is
built once, and from it the protocol's level counts and SOD statistics are added here. Which
calibration metrics are kept, and where (whole set, boundary band and rest, per image), is the metric
table's (:mod:`metrics.table`) entry for the protocol that scores the maps; the probability maps
beside a protocol's test maps are scored by :data:`protocol.PROBABILITY_PROTOCOL`. Merging
accumulators in image order equals a single pass: counts add, per-image values concatenate. Each
image's row of the HTML report, and its thumbnails where the scoring asks for them, are made here too,
from the image in memory (:mod:`evaluate.pictures`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from evaluate.io import RESIZE_NOTE, ROTATED_NOTE, ZERO_ONE_NOTES, MapPair, load_pair
from evaluate.pictures import Pictures, image_values, write_pictures
from metrics import calibration
from metrics.boundary import BOUNDARY_WIDTH
from metrics.counting import LevelCounts, count_pixels
from metrics.measures import ImageAccumulator
from metrics.table import BOUNDARY, IMAGE, IMAGE_STATISTICS, REST, SET, calibration_metrics, result_key
from protocol import DEFAULT_PROTOCOL, PROBABILITY_PROTOCOL, Protocol, get_protocol
from report.names import picture_stem
from report.rows import ImageRow

EXAMPLES_KEPT = 5  # file names kept per note, to show where it applies


@dataclass(frozen=True)
class Scoring:
    """How a set is scored; the defaults are the evaluator's, here and nowhere else. The entry points
    of :mod:`evaluate.runner` take these fields as keyword options (``protocol`` also by name)."""

    protocol: Protocol = field(default_factory=lambda: get_protocol(DEFAULT_PROTOCOL))
    n_bins: int = calibration.N_BINS  # equal-width confidence bins
    boundary_width: int = BOUNDARY_WIDTH  # mask pixels (metrics.boundary)
    workers: int | None = None  # scoring processes; None: every core this process may use
    trust_map_levels: bool = False  # maps holding only the levels 0 and 1 are scored, not refused
    pictures: Pictures | None = None  # where the report's thumbnails of the set go (None: none written)
    void_level: int | None = None  # a grey mask level left out of every metric, as palette index 255 is


def _zero_counts() -> np.ndarray:
    return np.zeros((calibration.N_LEVELS, 2), dtype=np.int64)


@dataclass
class MapCounts:
    """The level counts of one kind of map (the test maps, or the probability maps beside them) under
    the protocol ``scored_by``: all counted pixels pooled, the boundary band's pixels pooled (where the
    protocol reports the band) and each image's value of the metrics it reports per image."""

    scored_by: Protocol
    counts: np.ndarray = field(default_factory=_zero_counts)
    boundary_counts: np.ndarray = field(default_factory=_zero_counts)
    image_values: dict[str, list[float]] = field(default_factory=dict)

    @property
    def has_band(self) -> bool:
        """Whether the protocol reports metrics in the boundary band and the rest."""
        name = self.scored_by.name
        return bool(calibration_metrics(name, BOUNDARY) or calibration_metrics(name, REST))

    def add(self, pred: np.ndarray, gt: np.ndarray, joint: np.ndarray, scoring: Scoring,
            valid: np.ndarray | None = None) -> LevelCounts:
        """Count one map ``pred`` against its mask ``gt``, whose joint histogram (of the ``valid`` pixels, None:
        all) is ``joint``; returns the image's own counts (the report's row shows its values)."""
        pixels = count_pixels(pred, gt, scoring.boundary_width if self.has_band else None, joint, valid)
        counts = pixels.level_counts(self.scored_by.correct_table)
        self.counts += counts.pixels
        for metric in calibration_metrics(self.scored_by.name, IMAGE):
            self.image_values.setdefault(metric.key, []).append(metric.from_counts(counts.pixels, scoring.n_bins))
        if counts.band is not None:
            self.boundary_counts += counts.band
        return counts

    def merge(self, other: MapCounts) -> None:
        """Append the images of ``other`` (which come after this one's images)."""
        self.counts += other.counts
        self.boundary_counts += other.boundary_counts
        for key, values in other.image_values.items():
            self.image_values.setdefault(key, []).extend(values)

    def metrics(self, n_bins: int, probabilities: bool = False) -> dict[str, float | None]:
        """Every value the scoring protocol reports of these maps, by results.json key (``probabilities``:
        the keys of the probability maps beside the test maps); None where no pixel was counted."""
        name = self.scored_by.name
        # Counts are additive over pixels: the rest is what the band leaves of the pooled counts.
        by_scope = {SET: self.counts, BOUNDARY: self.boundary_counts, REST: self.counts - self.boundary_counts}
        values: dict[str, float | None] = {}
        for scope, counts in by_scope.items():
            for metric in calibration_metrics(name, scope):
                value = metric.from_counts(counts, n_bins) if counts.sum() > 0 else None
                values[result_key(metric.key, scope, probabilities=probabilities)] = value
        if self.has_band and self.counts.sum() > 0:
            fraction = float(self.boundary_counts.sum() / self.counts.sum())
            values[result_key("boundary_fraction", probabilities=probabilities)] = fraction
        for key, per_image in self.image_values.items():
            array = np.asarray(per_image)
            statistics = (array.mean(), array.std(), np.median(array), np.percentile(array, 90))
            for statistic, value in zip(IMAGE_STATISTICS, statistics, strict=True):
                values[result_key(key, IMAGE, statistic, probabilities)] = float(value)
        return values


@dataclass
class DatasetAccumulator:
    """Everything kept about the images of one set scored so far; mergeable across processes."""

    scoring: Scoring
    test_maps: MapCounts = field(init=False)
    probability_maps: MapCounts = field(init=False)
    n_images: int = 0
    n_images_calibration: int = 0
    n_empty_masks: int = 0
    n_constant_maps: int = 0
    n_resized: int = 0
    n_converted: int = 0
    n_void_pixels: int = 0  # mask pixels labelled neither way (VOC palette index 255), left out of every metric
    n_void_masks: int = 0
    # The maps holding only the levels 0 and 1 over a mask with an object, by role ("prediction", "probability
    # map"): each is a binary map stored as 0/1 or a probability map with p <= 1/255 on the object.
    zero_one_maps: dict[str, list[str]] = field(default_factory=dict)
    sod: ImageAccumulator = field(default_factory=ImageAccumulator)
    note_counts: Counter[str] = field(default_factory=Counter)
    note_examples: dict[str, list[str]] = field(default_factory=dict)
    images: list[ImageRow] = field(default_factory=list)  # the report's row of each image, in image order

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
        loaded = load_pair(pair, resize_with_pil=protocol.resize_with_pil, void_level=self.scoring.void_level)
        resized = RESIZE_NOTE in loaded.notes
        valid = loaded.valid
        joint = calibration.joint_histogram(loaded.pred, loaded.gt, valid)
        pred_levels = np.flatnonzero(joint.sum(axis=1))
        has_object = bool(joint[:, 128:].any())
        self.n_images += 1
        self.n_empty_masks += int(not has_object)
        n_void = 0 if loaded.void is None else int(np.count_nonzero(loaded.void))
        self.n_void_pixels += n_void
        self.n_void_masks += int(n_void > 0)
        for role, note in ZERO_ONE_NOTES.items():
            if has_object and note in loaded.notes:
                self.zero_one_maps.setdefault(role, []).append(pair.name)
        self.n_constant_maps += int(pred_levels.size == 1)
        test_counts = probability_counts = None
        notes = list(loaded.notes)
        if resized and not protocol.resized_maps_in_calibration:
            if protocol.resize_note:
                self.note(protocol.resize_note, [pair.name], 1)
                notes.append(protocol.resize_note)
        else:
            test_counts = self.test_maps.add(loaded.pred, loaded.gt, joint, self.scoring, valid)
            self.n_images_calibration += 1
        stats = protocol.image_stats(loaded.pred, loaded.gt, joint, valid)
        self.sod.add(stats, pair.name)
        if loaded.probability is not None:
            probability_joint = calibration.joint_histogram(loaded.probability, loaded.gt, valid)
            probability_counts = self.probability_maps.add(loaded.probability, loaded.gt, probability_joint,
                                                           self.scoring, valid)
        row = ImageRow(pair.name, image_values(test_counts, probability_counts, stats, self.scoring.n_bins),
                       notes + sorted(stats.conditions), picture_stem(pair.name))
        if self.scoring.pictures is not None:
            row.photo = write_pictures(self.scoring.pictures, pair.name, row.stem, loaded.pred, loaded.gt,
                                       loaded.probability)
        self.images.append(row)
        self.n_resized += int(resized)
        kept_as_read = (RESIZE_NOTE, ROTATED_NOTE, *ZERO_ONE_NOTES.values())
        self.n_converted += int(any(note not in kept_as_read for note in loaded.notes))
        for note in loaded.notes:
            self.note(note, [pair.name], 1)

    def note(self, note: str, names: list[str], count: int) -> None:
        """Count ``note`` for ``count`` images, keeping the first names as examples."""
        self.note_counts[note] += count
        examples = self.note_examples.setdefault(note, [])
        examples.extend(names[: EXAMPLES_KEPT - len(examples)])

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
        self.n_void_pixels += other.n_void_pixels
        self.n_void_masks += other.n_void_masks
        for role, names in other.zero_one_maps.items():
            self.zero_one_maps.setdefault(role, []).extend(names)
        self.sod.merge(other.sod)
        self.images += other.images
        for note, count in other.note_counts.items():
            self.note(note, other.note_examples[note], count)
