"""Properties of the scorer that hold for any maps and masks, checked on generated ones, the degenerate
ones included (empty, full and constant, 1 x 1 and odd sizes, stored as 0/1, 16-bit, palette, colour):

* every value lies in its range, or is n/a (None) with a note saying why;
* a perfect map scores a perfect ACC and zero ECE, OE and MAE (binary masks: under the paper protocol a
  soft mask pixel is wrong whatever the map says);
* the per-image results do not depend on the number of workers or on the order of the file names;
* scoring anything (any folders, files, options, sets and output folder) either returns or raises
  EvaluationInputError, whose message says what is wrong.

Images are a few pixels wide and sets a few images, so that every example scores in milliseconds; the
worker property is the only one that starts worker processes. The cases these properties found are kept
as explicit examples, and as tests beside the code they fixed.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from evaluate import EvaluationInputError, run_evaluation, score_dataset
from evaluate.runner import RESULT_KEYS, _pair_all, _score_paired, scoring_of
from metrics.measures import E_ABOVE_ONE
from metrics.table import IMAGE, IMAGE_STATISTICS, METRICS, result_key
from protocol import PROBABILITY_PROTOCOL, get_protocol
from report.tables import DatasetScore

PROTOCOLS = ("paper", "calibrated")
FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

MASKS = ("empty", "full", "binary", "soft", "dot")  # dot: a single object pixel
MAPS = ("random", "constant", "mask", "inverted", "zero_one", "other_size")
MASK_FORMS = ("png", "bmp", "zero_one", "png16", "grey_palette", "index_palette")
MAP_FORMS = ("png", "bmp", "jpg", "png16", "grey_palette", "rgb", "rgba")


@contextmanager
def folder() -> Iterator[Path]:
    # Hypothesis runs many examples in one test call: each gets a folder of its own.
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def mask_levels(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A mask of `kind`, as 8-bit levels."""
    if kind == "empty":
        return np.zeros((height, width), np.uint8)
    if kind == "full":
        return np.full((height, width), 255, np.uint8)
    if kind == "binary":
        return (rng.integers(0, 2, (height, width)) * 255).astype(np.uint8)
    if kind == "dot":
        mask = np.zeros((height, width), np.uint8)
        mask[rng.integers(height), rng.integers(width)] = 255
        return mask
    return rng.integers(0, 256, (height, width), dtype=np.uint8)  # soft


def map_levels(kind: str, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A prediction map of `kind` for `mask`, as 8-bit levels."""
    if kind == "constant":
        return np.full(mask.shape, rng.integers(256), np.uint8)
    if kind == "mask":
        return mask.copy()
    if kind == "inverted":
        return 255 - mask
    if kind == "zero_one":
        return rng.integers(0, 2, mask.shape, dtype=np.uint8)
    if kind == "other_size":
        height, width = mask.shape
        return rng.integers(0, 256, (width, height + 1), dtype=np.uint8)
    return rng.integers(0, 256, mask.shape, dtype=np.uint8)  # random


def write(path: Path, levels: np.ndarray, form: str) -> Path:
    """`levels` written as the file `form` says (a mask stored as 0/1 keeps only its object); returns the file."""
    suffix = {"bmp": ".bmp", "jpg": ".jpg"}.get(form, ".png")
    target = path.with_suffix(suffix)
    if form == "png16":
        cv2.imwrite(str(target), levels.astype(np.uint16) * 257)
    elif form == "zero_one":
        cv2.imwrite(str(target), (levels >= 128).astype(np.uint8))
    elif form == "grey_palette":  # index i shows the grey i
        image = Image.fromarray(levels, mode="P")
        image.putpalette([grey for level in range(256) for grey in (level, level, level)])
        image.save(target)
    elif form == "index_palette":  # index 1 is the object, shown dark red (a VOC-style palette)
        image = Image.fromarray((levels >= 128).astype(np.uint8), mode="P")
        image.putpalette([0, 0, 0, 128, 0, 0])
        image.save(target)
    elif form in ("rgb", "rgba"):
        channels = [levels] * 3 + ([np.full_like(levels, 255)] if form == "rgba" else [])
        cv2.imwrite(str(target), np.dstack(channels))
    else:
        cv2.imwrite(str(target), levels)
    return target


# One image: (height, width, mask kind, map kind, how the mask is stored, how the map is stored, seed).
IMAGES = st.lists(
    st.tuples(st.integers(1, 7), st.integers(1, 9), st.sampled_from(MASKS), st.sampled_from(MAPS),
              st.sampled_from(MASK_FORMS), st.sampled_from(MAP_FORMS), st.integers(0, 2**32 - 1)),
    min_size=1, max_size=4,
)


def write_set(root: Path, images: list[tuple], names: list[str] | None = None,
              probabilities: bool = False) -> tuple[Path, Path, Path | None]:
    """The images as the folders pred/, gt/ (and probabilities/), named `names` (default: i0, i1, ...)."""
    names = names or [f"i{index}" for index in range(len(images))]
    folders = [root / "pred", root / "gt", *([root / "probabilities"] if probabilities else [])]
    for item in folders:
        item.mkdir(parents=True, exist_ok=True)
    for name, (height, width, mask_kind, map_kind, mask_form, map_form, seed) in zip(names, images, strict=True):
        rng = np.random.default_rng(seed)
        mask = mask_levels(mask_kind, height, width, rng)
        write(root / "gt" / name, mask, mask_form)
        write(root / "pred" / name, map_levels(map_kind, mask, rng), map_form)
        if probabilities:
            write(root / "probabilities" / name, map_levels("random", mask, rng), "png")
    return folders[0], folders[1], folders[2] if probabilities else None


def scored(pred: Path, gt: Path, probabilities: Path | None = None, **options: object) -> DatasetScore:
    """The set's score with its notes (score_dataset returns the values alone)."""
    scoring = scoring_of(**options)
    paired = _pair_all([("set", pred, gt)], {"set": probabilities} if probabilities else None, scoring.protocol)
    return _score_paired(paired, scoring)[0]


def _entries(protocol: str) -> dict[str, tuple[str, bool]]:
    """results.json key -> (metric key, of the probability maps), for every value the protocol reports."""
    entries = {}
    for metric in METRICS.values():
        for probabilities, scored_by in ((False, protocol), (True, PROBABILITY_PROTOCOL.name)):
            if probabilities and (metric.from_counts is None or scored_by == protocol):
                continue
            for scope in metric.scopes(scored_by):
                for statistic in IMAGE_STATISTICS if scope == IMAGE else ("mean",):
                    entries[result_key(metric.key, scope, statistic, probabilities)] = (metric.key, probabilities)
    return entries


def _says_na(note: str, metric: str) -> bool:
    """Whether `note` says that the SOD metric `metric` is n/a: on a set of empty masks, or covering no image."""
    if note.startswith("every mask is empty"):
        return metric in note.split(": ", 1)[1].split(" are n/a")[0].split(", ")
    keys, cover, rest = note.partition(" cover")
    return bool(cover) and metric in keys.replace(" and ", ", ").split(", ") and rest.lstrip("s").startswith(" 0 of")


def _why_na(key: str, metric: str, score: DatasetScore) -> str | None:
    """The note that says why the value `key` of `metric` is n/a, if the notes say it."""
    notes = score.notes
    if METRICS[metric].from_sod is not None:
        return next((note for note in notes if _says_na(note, metric)), None)
    if score.metrics["n_images_calibration"] == 0 and not key.startswith("probabilities_"):
        covered = "the calibration metrics and the mean saliency cover 0"
        return next((note for note in notes if note.startswith(covered)), None)
    return next((note for note in notes if " n/a: " in note and key in _keys_of(note.split(" n/a: ")[0])), None)


def _keys_of(words: str) -> list[str]:
    """The keys a note lists: "A, B and C are" -> [A, B, C]."""
    return words.rsplit(" ", 1)[0].replace(" and ", ", ").split(", ")


@settings(FAST, max_examples=40)
@given(images=IMAGES, protocol=st.sampled_from(PROTOCOLS), trust=st.booleans(), probabilities=st.booleans(),
       n_bins=st.sampled_from([1, 2, 10, 15, 255]), width=st.integers(1, 12))
def test_every_value_is_in_its_range_or_na_with_a_note(images: list[tuple], protocol: str, trust: bool,
                                                       probabilities: bool, n_bins: int, width: int) -> None:
    probabilities = probabilities and get_protocol(protocol).writes_probability_maps
    with folder() as root:
        pred, gt, probability_dir = write_set(root, images, probabilities=probabilities)
        try:
            score = scored(pred, gt, probability_dir, protocol=protocol, trust_map_levels=trust, n_bins=n_bins,
                           boundary_width=width, workers=1)
        except EvaluationInputError as error:  # maps of only 0 and 1 over objects, untrusted: refused, and said why
            assert not trust and "only the levels 0 and 1" in str(error)
            return
    values = score.metrics
    assert list(values) == list(RESULT_KEYS)
    n_images = values["n_images"]
    assert n_images == len(images) and 0 <= values["n_images_calibration"] <= n_images
    for key in ("n_empty_masks", "n_constant_maps", "n_resized", "n_converted"):
        assert isinstance(values[key], int) and 0 <= values[key] <= n_images, key
    for key, (metric, of_probabilities) in _entries(protocol).items():
        value = values[key]
        if value is None:
            if of_probabilities and not probabilities:
                continue  # no probability maps were given: the tables say so under those columns
            assert _why_na(key, metric, score), (key, score.notes)
            continue
        assert isinstance(value, float) and math.isfinite(value), (key, value)
        top = math.inf if metric == "NLL" else 1
        if metric in ("maxE", "meanE", "adpE") and any(E_ABOVE_ONE in note for note in score.notes):
            top = 2  # Fan et al.'s N / (N - 1), noted
        assert 0 <= value <= top, (key, value, score.notes)
    for key in ("boundary_fraction", "probabilities_boundary_fraction"):
        assert values[key] is None or 0 <= values[key] <= 1, key


# A mask of any kind but soft, and its perfect map: the same levels, 0 or 255.
BINARY_IMAGES = st.lists(
    st.tuples(st.integers(1, 7), st.integers(1, 9), st.sampled_from(("empty", "full", "binary", "dot")),
              st.just("mask"), st.sampled_from(("png", "bmp", "zero_one", "png16")), st.just("png"),
              st.integers(0, 2**32 - 1)),
    min_size=1, max_size=4,
)


@settings(FAST, max_examples=20)
@given(images=BINARY_IMAGES, protocol=st.sampled_from(PROTOCOLS))
def test_a_perfect_map_scores_perfectly(images: list[tuple], protocol: str) -> None:
    # Binary masks: under the paper protocol a soft mask pixel (1..254) is wrong whatever the map says.
    with folder() as root:
        pred, gt, _ = write_set(root, images)
        probabilities = pred if get_protocol(protocol).writes_probability_maps else None
        values = score_dataset(pred, gt, probability_dir=probabilities, protocol=protocol, workers=1)
    assert (values["ACC"], values["ECE"], values["OE"], values["MAE"]) == (1, 0, 0, 0)
    perfect = {"ACC": 1, "ECE": 0, "OE": 0, "MCE": 0, "CECE": 0, "AECE": 0, "Brier": 0}
    for metric, value in perfect.items():
        for key in (metric, f"probabilities_{metric}", f"{metric}_boundary", f"{metric}_rest",
                    f"{metric}_img_mean", f"{metric}_img_p90"):
            if values.get(key) is not None:
                assert values[key] == pytest.approx(value, abs=1e-12), key


@settings(FAST, max_examples=20)
@given(images=st.lists(st.tuples(st.integers(1, 7), st.integers(1, 9), st.sampled_from(MASKS), st.just("mask"),
                                 st.sampled_from(("png", "bmp")), st.just("png"), st.integers(0, 2**32 - 1)),
                       min_size=1, max_size=4))
def test_a_map_equal_to_a_soft_mask_is_perfect_under_calibrated_and_loses_its_soft_pixels_under_paper(
        images: list[tuple]) -> None:
    # Where "perfect" differs. The calibrated protocol thresholds the mask at 128, so its ACC is perfect (and its MAE,
    # PySODMetrics', is not: the stretched map against the thresholded mask). The paper protocol counts every soft
    # mask level (1..254) as wrong in ACC, so its ACC is the share of the pixels whose mask level is 0 or 255, and
    # compares the map as read with the soft mask in MAE (the authors' tool), so its MAE is perfect.
    with folder() as root:
        pred, gt, _ = write_set(root, images)
        calibrated = score_dataset(pred, gt, protocol="calibrated", workers=1)
        paper = score_dataset(pred, gt, protocol="paper", workers=1)
        masks = [cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path in sorted(gt.iterdir())]
    hard = sum(int(((mask == 0) | (mask == 255)).sum()) for mask in masks) / sum(mask.size for mask in masks)
    assert (calibrated["ACC"], paper["MAE"]) == (1, 0)
    assert paper["ACC"] == pytest.approx(hard, abs=1e-12)


def _same(one: dict, other: dict) -> None:
    """Equal values: counts, words and None exactly, numbers to rounding (sums in another order)."""
    assert one.keys() == other.keys()
    for key, value in one.items():
        if isinstance(value, float):
            assert other[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert other[key] == value, key


@settings(FAST, max_examples=5)
@given(images=IMAGES.filter(lambda images: len(images) >= 2), protocol=st.sampled_from(PROTOCOLS),
       order=st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_workers_or_the_file_order(images: list[tuple], protocol: str,
                                                                 order: random.Random) -> None:
    names = [f"i{index}" for index in range(len(images))]
    permuted = names.copy()
    order.shuffle(permuted)
    if permuted == names:  # the files are scored in the sorted order of their names: it must differ
        permuted = names[1:] + names[:1]
    with folder() as root:
        pred, gt, _ = write_set(root / "a", images, names)
        one = scored(pred, gt, protocol=protocol, trust_map_levels=True, workers=1)
        two = scored(pred, gt, protocol=protocol, trust_map_levels=True, workers=2)
        pred, gt, _ = write_set(root / "b", images, permuted)
        shuffled = scored(pred, gt, protocol=protocol, trust_map_levels=True, workers=1)
    _same(one.metrics, two.metrics)
    assert one.notes == two.notes
    _same(one.metrics, shuffled.metrics)


# What a folder of maps or masks may hold, anything a user might point the scorer at.
FILE_KINDS = ("map", "mask", "garbage", "empty", "colour", "jpg", "text", "folder", "low16", "colour_palette",
              "truncated", "record", "bad_record")
ENTRIES = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "a.b", "ü x"]), st.sampled_from(FILE_KINDS)), max_size=5)


def write_entry(folder_path: Path, stem: str, kind: str, rng: np.random.Generator) -> None:
    """One file (or subfolder) of `kind` named after `stem` in `folder_path`."""
    levels = rng.integers(0, 256, (3, 4), dtype=np.uint8)
    path = folder_path / stem
    if kind in ("map", "mask"):
        write(path, levels if kind == "map" else (levels >= 128).astype(np.uint8) * 255, "png")
    elif kind == "garbage":
        path.with_suffix(".png").write_bytes(rng.bytes(40))
    elif kind == "empty":
        path.with_suffix(".bmp").write_bytes(b"")
    elif kind == "colour":
        cv2.imwrite(str(path.with_suffix(".png")), rng.integers(0, 256, (3, 4, 3), dtype=np.uint8))
    elif kind == "jpg":
        write(path, levels, "jpg")
    elif kind == "text":
        path.with_suffix(".txt").write_text("not an image")
    elif kind == "folder":
        path.mkdir(exist_ok=True)
        write(path / "inner", levels, "png")
    elif kind == "low16":  # levels 0..255 stored in 16 bits
        cv2.imwrite(str(path.with_suffix(".png")), levels.astype(np.uint16))
    elif kind == "colour_palette":
        image = Image.fromarray(levels % 3, mode="P")
        image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
        image.save(path.with_suffix(".png"))
    elif kind == "truncated":
        write(path, levels, "png")
        data = path.with_suffix(".png").read_bytes()
        path.with_suffix(".png").write_bytes(data[: len(data) // 2])
    elif kind == "record":
        (folder_path / "maps.json").write_text('{"maps": "probabilities", "protocol": "calibrated"}')
    else:  # bad_record
        (folder_path / "maps.json").write_text("{not json")


def make_folder(path: Path, state: str, entries: list[tuple[str, str]], seed: int, pairs: int = 0,
                kind: str = "map") -> Path:
    """`path` as `state` says: missing, a file, or a folder holding `pairs` good files of `kind` (named p0, p1, ...
    in every folder, so that they pair) and `entries`."""
    if state == "file":
        path.write_text("")
    elif state == "folder":
        path.mkdir()
        rng = np.random.default_rng(seed)
        for stem, entry in [(f"p{index}", kind) for index in range(pairs)] + entries:
            write_entry(path, stem, entry, rng)
    return path


STATES = st.sampled_from(["folder"] * 6 + ["missing", "file"])


@settings(FAST, max_examples=40)
@given(pred=st.tuples(STATES, ENTRIES), gt=st.tuples(STATES, ENTRIES), pairs=st.sampled_from([1, 1, 2, 0]),
       probabilities=st.sampled_from([None, None, "pred", "missing", "other"]),
       protocol=st.sampled_from(PROTOCOLS), trust=st.booleans(), seed=st.integers(0, 99))
def test_scoring_any_folders_returns_or_says_what_is_wrong(pred: tuple, gt: tuple, pairs: int,
                                                           probabilities: str | None, protocol: str, trust: bool,
                                                           seed: int) -> None:
    with folder() as root:
        pred_dir = make_folder(root / "pred", *pred, seed, pairs)
        gt_dir = make_folder(root / "gt", *gt, seed + 1, pairs, "mask")
        probability_dir = {None: None, "pred": pred_dir, "missing": root / "missing",
                           "other": make_folder(root / "other", "folder", pred[1], seed + 2, pairs)}[probabilities]
        try:
            values = score_dataset(pred_dir, gt_dir, probability_dir=probability_dir, protocol=protocol,
                                   trust_map_levels=trust, workers=1)
        except EvaluationInputError as error:
            event("refused")
            assert str(error).strip(), "an error without a message"
            return
    event("scored")
    assert values["n_images"] >= 1


GOOD_OPTIONS = {"protocol": "calibrated", "n_bins": 10, "boundary_width": 5, "workers": 1, "trust_map_levels": False}
# Other values, one or two at a time (2 and more workers start processes: the worker property starts them).
OTHER_OPTIONS = [
    ("protocol", "paper"), ("protocol", "Paper"), ("protocol", ""), ("n_bins", 1), ("n_bins", 255), ("n_bins", 0),
    ("n_bins", -1), ("n_bins", True), ("n_bins", "10"), ("n_bins", 2.5), ("n_bins", 10**9), ("boundary_width", 1),
    ("boundary_width", 0), ("boundary_width", -2), ("boundary_width", "5"), ("boundary_width", 10**6),
    ("workers", 0), ("workers", -1), ("workers", False), ("workers", "1"), ("workers", 1.0),
    ("trust_map_levels", True),
]


@settings(FAST, max_examples=25)
@given(images=IMAGES, changes=st.lists(st.sampled_from(OTHER_OPTIONS), max_size=2), probabilities=st.booleans())
@example(images=[(2, 3, "binary", "random", "png", "png", 0)], changes=[("boundary_width", 10**6)],
         probabilities=False)  # built a disk of 2000001 x 2000001 (MemoryError)
@example(images=[(2, 3, "binary", "random", "png", "png", 0)], changes=[("n_bins", 10**9)],
         probabilities=False)  # arrays of 8 GB per bin count
def test_scoring_with_any_options_returns_or_says_what_is_wrong(images: list[tuple], changes: list[tuple],
                                                                probabilities: bool) -> None:
    options = {**GOOD_OPTIONS, **dict(changes)}
    with folder() as root:
        pred, gt, probability_dir = write_set(root, images, probabilities=probabilities)
        try:
            values = score_dataset(pred, gt, probability_dir=probability_dir, **options)
        except EvaluationInputError as error:
            event("refused")
            assert str(error).strip(), "an error without a message"
            return
    event("scored")
    assert values["n_images"] == len(images)


@settings(FAST, max_examples=8)
@given(names=st.lists(st.sampled_from(["S", "T", "a/b", ".."]), max_size=3),
       out=st.sampled_from(["out", "out", "a_file", "a_file/below", "set/pred"]), probabilities=st.booleans(),
       protocol=st.sampled_from(PROTOCOLS))
def test_evaluating_any_jobs_returns_or_says_what_is_wrong(names: list[str], out: str, probabilities: bool,
                                                           protocol: str) -> None:
    # run_evaluation: the sets' names, the output folder, probability maps under either protocol; every set
    # scores the same two maps.
    with folder() as root:
        pred, gt, _ = write_set(root / "set", [(3, 4, "binary", "random", "png", "png", 1)] * 2)
        (root / "a_file").write_text("")
        try:
            results = run_evaluation([(name, pred, gt) for name in names], root / out, protocol=protocol,
                                     probability_dirs={name: pred for name in names} if probabilities else None,
                                     workers=1)
        except EvaluationInputError as error:
            event("refused")
            assert str(error).strip(), "an error without a message"
            return
        event("scored")
        assert list(results) == names and (root / out / "results.json").is_file()

