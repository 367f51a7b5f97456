"""Pairing prediction maps with their masks (and probability maps) by file stem, and reading each pair to score.

What a map or a mask is on disk, and how one is read, are the shared file rules of :mod:`data.files`: maps may
be ``.png``, ``.bmp``, ``.jpg`` or ``.jpeg`` (JPEG noted as lossy), masks must be lossless (a mask stored only as
JPEG stops the pairing, before any image is scored), any letter case; ``x.png`` pairs with ``x.bmp``. Nothing is
dropped silently: unpaired files, files of other types and subfolders are returned to the caller to be counted
and listed; each file is read by itself and what the reader did to it (0/1 masks, 16-bit or palette files, maps
holding only the levels 0 and 1) is noted per image; a mask's void pixels (VOC palette index 255) come
apart in :attr:`LoadedPair.void`, for the scorer to leave out of every metric; a prediction whose size
differs from its mask is resized (bilinear) and noted, with a warning when it looks rotated by 90 degrees. A missing or empty folder (one whose
maps are in its subfolders says so), an unreadable file, a photograph where a map should be or two maps with one
stem raise :class:`EvaluationInputError`, naming the path. In a folder holding the evaluator's own
``results.json`` the evaluator's output files are skipped: they are not stray predictions. A folder's
``maps.json`` (:data:`layout.MAPS_RECORD`) says what its maps are: the runner checks it against the protocol.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from data.files import (
    ZERO_ONE_MAP_NOTE, DataError, Listing, abbreviate, list_files, read_grey, read_mask_with_void,
)
from common.layout import MAPS_RECORD
from common.text import counted, plural
from protocol import MAP_KINDS
from evaluate.records import CheckedRecord, check_record
from report.tables import REPORT_JSON, is_report_output

MASK_SUBFOLDER = "GT"
_RESIZED = "{role} resized to mask size"
_ROTATED = (
    "{role} looks rotated by 90 degrees (its height and width are the mask's, swapped): resized all the same; "
    "check these maps"
)
RESIZE_NOTE = _RESIZED.format(role="prediction")
ROTATED_NOTE = _ROTATED.format(role="prediction")
# A map of only the levels 0 and 1 is scored or refused by the runner, which knows whether the maps are trusted.
ZERO_ONE_NOTES = {role: f"{role}: {ZERO_ONE_MAP_NOTE}" for role in ("prediction", "probability map")}
ZERO_ONE_MAP_FIX = (
    "binary maps stored as 0/1 must mark the object with 255 (multiply them by 255); probability maps of a model "
    "whose p <= 1/255 where the object is can hold only these levels: score them as they are with "
    "--trust-map-levels (trust_map_levels=True in Python)"
)
VOID_LEVEL_NOTE = "level {level} (void, --void) pixels left out of every metric"
# The option that scores the sets found one folder down at once, by the role of the folder.
_ROOT_OPTIONS = {"prediction": "--pred-root", "probability map": "--probabilities-root"}


def zero_one_maps_error(folder: Path, names: Sequence[str], total: int) -> DataError:
    """The refusal of the maps ``names`` of ``folder`` (``total`` maps read): each holds only the levels 0 and 1
    (:data:`ZERO_ONE_MAP_NOTE`) although its mask marks an object, and the maps are not trusted."""
    count = len(names)
    maps, hold, their = plural("map", count), plural("holds", count, "hold"), plural("its", count, "their")
    return DataError(
        f"{len(names)} {maps} (of {total}) in {folder} {hold} only the levels 0 and 1 although {their} masks mark "
        f"an object: {abbreviate(names)}; {ZERO_ONE_MAP_FIX}"
    )


def sixteen_bit_maps_error(folder: Path, names: Sequence[str], total: int) -> DataError:
    """The refusal of a folder whose 16-bit maps (``total``, examples ``names``) all hold levels in 0..255 only."""
    return DataError(
        f"{folder}: its {counted(total, '16-bit map')} all hold levels within 0..255 only ({abbreviate(names, total=total)}): "
        "read by their bit depth (v * 255 / 65535) they would be near-black, and reading them as 8-bit would be a "
        "guess; save them as 8-bit maps (0..255)"
    )


class EvaluationInputError(DataError):
    """The maps to score are missing, unreadable or cannot be paired."""


@contextmanager
def as_evaluation_error() -> Iterator[None]:
    # Callers of the evaluator catch one error type; the shared file rules raise their own.
    try:
        yield
    except EvaluationInputError:
        raise
    except DataError as error:
        raise EvaluationInputError(str(error)) from None


@dataclass(frozen=True)
class MapPair:
    """One prediction map and its mask, sharing the stem ``name``, and its probability map if given."""

    name: str
    pred: Path
    gt: Path
    probability: Path | None = None


@dataclass(frozen=True)
class PairedFolders:
    """Result of pairing a prediction folder with a mask folder; `record`, `probability_record`: the
    maps.json of each map folder (what the test stage says its maps are), None for maps without one."""

    pred_dir: Path
    gt_dir: Path
    pairs: list[MapPair]
    pred_without_gt: list[str]
    gt_without_pred: list[str]
    ignored_files: list[str]
    ignored_folders: list[str]
    probability_dir: Path | None = None
    probability_unused: list[str] = field(default_factory=list)
    record: dict | None = None
    probability_record: dict | None = None
    record_notes: list[str] = field(default_factory=list)  # why a record is not used (evaluate/records.py)


def read_maps_record(folder: Path) -> dict | None:
    """The record the test stage wrote beside a folder of maps (`layout.MAPS_RECORD`), or None for maps
    that came without one; a record that cannot be read is an error naming it."""
    path = Path(folder) / MAPS_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EvaluationInputError(f"cannot read {path} ({error}): it should say what the maps in {folder} are; "
                                   "delete it to score the maps as given") from None
    if not isinstance(record, dict) or record.get("maps") not in MAP_KINDS:
        raise EvaluationInputError(f"{path} does not say which kind of maps {folder} holds (its 'maps' should be one "
                                   f"of {', '.join(MAP_KINDS)}); delete it to score the maps as given")
    return record


def _listing(folder: Path, kind: str, role: str) -> Listing:
    holds_report = (folder / REPORT_JSON).is_file()

    def skip(name: str) -> bool:
        # The record of the maps is no stray file, nor, in a folder the evaluator wrote into, its outputs.
        return name == MAPS_RECORD or (holds_report and is_report_output(name))

    def every_set(names: list[str]) -> str:
        option = _ROOT_OPTIONS[role]
        return f", or score every set at once: {option}={folder} --datasets={','.join(names)} (with --gt-root)"

    return list_files(folder, kind, role, skip=skip, nested_hint=every_set if role in _ROOT_OPTIONS else None)


def pair_folders(pred_dir: Path, gt_dir: Path, probability_dir: Path | None = None) -> PairedFolders:
    """Pair the maps of ``pred_dir`` with the masks of ``gt_dir`` by stem.

    With ``probability_dir`` (probability maps beside the test maps, paper protocol), every pair also gets the
    probability map of its stem; a pair without one is an error.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    with as_evaluation_error():
        preds, gts = _listing(pred_dir, "map", "prediction"), _listing(gt_dir, "mask", "mask")
        probabilities = (
            _listing(Path(probability_dir), "map", "probability map") if probability_dir is not None else None
        )
    common = sorted(preds.files.keys() & gts.files.keys())
    if not common:
        raise EvaluationInputError(
            f"no prediction in {pred_dir} has a mask with the same file stem in {gt_dir} "
            f"(e.g. prediction {next(iter(preds.files))!r}, mask {next(iter(gts.files))!r})"
        )
    listings = [preds, gts]
    probability_of: dict[str, Path | None] = dict.fromkeys(common)
    probability_unused: list[str] = []
    if probabilities is not None:
        listings.append(probabilities)
        missing = [name for name in common if name not in probabilities.files]
        if missing:
            raise EvaluationInputError(
                f"{len(missing)} scored prediction(s) have no probability map in {probability_dir}: "
                f"{abbreviate(missing)}"
            )
        probability_of = {name: probabilities.files[name] for name in common}
        probability_unused = sorted(probabilities.files.keys() - set(common))
    checked = check_record(pred_dir, read_maps_record(pred_dir), preds.files)
    checked_probabilities = (check_record(Path(probability_dir), read_maps_record(Path(probability_dir)),
                                          probabilities.files) if probabilities is not None else CheckedRecord(None))
    return PairedFolders(
        pred_dir=pred_dir,
        gt_dir=gt_dir,
        pairs=[MapPair(name, preds.files[name], gts.files[name], probability_of[name]) for name in common],
        pred_without_gt=sorted(preds.files.keys() - gts.files.keys()),
        gt_without_pred=sorted(gts.files.keys() - preds.files.keys()),
        ignored_files=[path for listing in listings for path in listing.ignored_files],
        ignored_folders=[path for listing in listings for path in listing.ignored_folders],
        probability_dir=Path(probability_dir) if probability_dir is not None else None,
        probability_unused=probability_unused,
        record=checked.record,
        probability_record=checked_probabilities.record,
        record_notes=checked.notes + checked_probabilities.notes,
    )


def mask_folder(gt_root: Path, dataset: str) -> Path:
    """Masks of ``dataset``: ``<gt_root>/<dataset>/GT`` if that folder exists, else ``<gt_root>/<dataset>``."""
    nested = Path(gt_root) / dataset / MASK_SUBFOLDER
    return nested if nested.is_dir() else Path(gt_root) / dataset


@dataclass(frozen=True)
class LoadedPair:
    """A prediction and its mask (and probability map) as equal-sized uint8 arrays, with what was done to them;
    ``void``: the mask's pixels labelled neither way (None: none), read as background in ``gt``."""

    pred: np.ndarray
    gt: np.ndarray
    notes: list[str]
    probability: np.ndarray | None = None
    void: np.ndarray | None = None

    @property
    def valid(self) -> np.ndarray | None:
        """The pixels every metric counts (None: all of them)."""
        return None if self.void is None else ~self.void


def _fitted_to_mask(image: np.ndarray, shape: tuple[int, ...], role: str, pil: bool) -> tuple[np.ndarray, list[str]]:
    """``image`` resized (bilinear) to the mask's ``shape`` if it differs, with the notes that say so."""
    if image.shape == shape:
        return image, []
    notes = [_RESIZED.format(role=role)]
    if image.shape == shape[::-1]:
        notes.append(_ROTATED.format(role=role))
    if pil:
        return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)), notes
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), notes


def _void_level(gt: np.ndarray, void: np.ndarray | None, level: int | None) -> tuple[np.ndarray, ...] | None:
    """The mask with the pixels of the void ``level`` (None: no such level) as background, and the void with
    them; None where the mask holds no pixel of that level."""
    at_level = None if level is None else gt == level
    if at_level is None or not at_level.any():
        return None
    return np.where(at_level, np.uint8(0), gt), at_level if void is None else void | at_level


def load_pair(pair: MapPair, resize_with_pil: bool = False, void_level: int | None = None) -> LoadedPair:
    """Read a pair (and its probability map, if any) as 8-bit grey and resize the maps to the mask.

    Resizing is OpenCV's bilinear, or with ``resize_with_pil`` PIL's bilinear (as the authors' evaluation
    loader) for the prediction; the probability map always uses OpenCV. The mask's void (palette index 255,
    and its pixels of ``void_level``) is read apart; a mask void everywhere is an error naming it.
    """
    with as_evaluation_error():
        pred, pred_notes = read_grey(pair.pred, "map")
        mask = read_mask_with_void(pair.gt)
        probability, probability_notes = (
            read_grey(pair.probability, "map") if pair.probability is not None else (None, [])
        )
    gt, gt_notes, void = mask.image, mask.notes, mask.void
    if (leveled := _void_level(gt, void, void_level)) is not None:
        (gt, void), gt_notes = leveled, [*gt_notes, VOID_LEVEL_NOTE.format(level=void_level)]
    if void is not None and void.all():
        raise EvaluationInputError(f"mask {pair.gt} is void everywhere: it leaves no pixel to score; remove it or "
                                   "its prediction")
    pred, resize_notes = _fitted_to_mask(pred, gt.shape, "prediction", resize_with_pil)
    notes = [f"prediction: {note}" for note in pred_notes] + [f"mask: {note}" for note in gt_notes] + resize_notes
    if probability is not None:
        probability, resize_notes = _fitted_to_mask(probability, gt.shape, "probability map", pil=False)
        notes += [f"probability map: {note}" for note in probability_notes] + resize_notes
    return LoadedPair(pred=pred, gt=gt, notes=notes, probability=probability, void=void)
