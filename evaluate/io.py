"""Finding, pairing and reading prediction maps and masks on disk.

Predictions and masks are paired by file stem (``x.png`` with ``x.jpg`` is a
pair); .png, .jpg, .jpeg and .bmp are accepted on both sides, in any letter
case. Nothing is dropped silently: unpaired files, files with other
extensions and subfolders are returned to the caller to be counted and listed,
maps that are not 8-bit single-channel are converted and the conversion is
reported, a prediction whose size differs from its mask is resized (bilinear)
and reported, and a missing or empty folder, an unreadable file or two maps
with the same stem in one folder raise :class:`EvaluationInputError` with a
message naming the offending path. In a folder holding the evaluator's own
``results.json`` the evaluator's output files (results.*, reliability_*.png)
are skipped: they are not stray predictions.

A 16-bit map whose values all lie in 0..255 is taken as 8-bit levels (a
16-bit PNG written from 8-bit values); any other 16-bit map is scaled by
255 / 65535. The note says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from evaluate.report import REPORT_JSON, is_report_output

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MASK_SUBFOLDER = "GT"
RESIZE_NOTE = "prediction resized to mask size"
SIXTEEN_BIT_AS_8_BIT_NOTE = "16-bit map whose values all lie in 0..255: values taken as 8-bit levels, not scaled"


class EvaluationInputError(ValueError):
    """The maps to score are missing, unreadable or cannot be paired."""


@dataclass(frozen=True)
class MapPair:
    """One prediction map and its mask, sharing the stem ``name``."""

    name: str
    pred: Path
    gt: Path
    prob: Path | None = None


@dataclass(frozen=True)
class PairedFolders:
    """Result of pairing a prediction folder with a mask folder."""

    pred_dir: Path
    gt_dir: Path
    pairs: list[MapPair]
    pred_without_gt: list[str]
    gt_without_pred: list[str]
    ignored_files: list[str]
    ignored_folders: list[str]
    prob_dir: Path | None = None
    prob_unused: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Listing:
    maps: dict[str, Path]
    ignored_files: list[str]
    ignored_folders: list[str]


def _list_maps(folder: Path, role: str) -> _Listing:
    if not folder.exists():
        raise EvaluationInputError(f"{role} folder does not exist: {folder}")
    if not folder.is_dir():
        raise EvaluationInputError(f"{role} path is not a folder: {folder}")
    maps: dict[str, Path] = {}
    ignored: list[str] = []
    folders: list[str] = []
    holds_report = (folder / REPORT_JSON).is_file()
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            folders.append(str(path))
            continue
        if not path.is_file() or (holds_report and is_report_output(path.name)):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            ignored.append(str(path))
            continue
        if path.stem in maps:
            raise EvaluationInputError(
                f"{role} folder {folder} holds two maps with the stem {path.stem!r}: "
                f"{maps[path.stem].name} and {path.name}"
            )
        maps[path.stem] = path
    if not maps:
        raise EvaluationInputError(f"{role} folder {folder} contains no {'/'.join(IMAGE_SUFFIXES)} maps")
    return _Listing(maps, ignored, folders)


def pair_folders(pred_dir: Path, gt_dir: Path, prob_dir: Path | None = None) -> PairedFolders:
    """Pair the maps of ``pred_dir`` with the masks of ``gt_dir`` by stem.

    With ``prob_dir`` (raw probability maps, paper protocol), every pair also
    gets the raw map of its stem; a pair without one is an error.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    preds, gts = _list_maps(pred_dir, "prediction"), _list_maps(gt_dir, "mask")
    common = sorted(preds.maps.keys() & gts.maps.keys())
    if not common:
        raise EvaluationInputError(
            f"no prediction in {pred_dir} has a mask with the same file stem in {gt_dir} "
            f"(e.g. prediction {next(iter(preds.maps))!r}, mask {next(iter(gts.maps))!r})"
        )
    listings = [preds, gts]
    probs: dict[str, Path | None] = dict.fromkeys(common)
    prob_unused: list[str] = []
    if prob_dir is not None:
        prob_dir = Path(prob_dir)
        raw = _list_maps(prob_dir, "raw probability map")
        listings.append(raw)
        missing = [name for name in common if name not in raw.maps]
        if missing:
            raise EvaluationInputError(
                f"{len(missing)} scored prediction(s) have no raw probability map in {prob_dir}, "
                f"e.g. {', '.join(missing[:5])}"
            )
        probs = {name: raw.maps[name] for name in common}
        prob_unused = sorted(raw.maps.keys() - set(common))
    return PairedFolders(
        pred_dir=pred_dir,
        gt_dir=gt_dir,
        pairs=[MapPair(name, preds.maps[name], gts.maps[name], probs[name]) for name in common],
        pred_without_gt=sorted(preds.maps.keys() - gts.maps.keys()),
        gt_without_pred=sorted(gts.maps.keys() - preds.maps.keys()),
        ignored_files=[path for listing in listings for path in listing.ignored_files],
        ignored_folders=[path for listing in listings for path in listing.ignored_folders],
        prob_dir=prob_dir,
        prob_unused=prob_unused,
    )


def mask_folder(gt_root: Path, dataset: str) -> Path:
    """Masks of ``dataset``: ``<gt_root>/<dataset>/GT`` if that folder exists, else ``<gt_root>/<dataset>``."""
    nested = Path(gt_root) / dataset / MASK_SUBFOLDER
    return nested if nested.is_dir() else Path(gt_root) / dataset


def read_map(path: Path) -> tuple[np.ndarray, list[str]]:
    """Read an image as a 2-D uint8 array, returning the conversions applied to it.

    Colour images become grey (a colour image whose channels are all equal keeps
    its values exactly; otherwise OpenCV's luminance weights are used), an alpha
    channel is dropped, and a 16-bit map keeps its values if they all lie in
    0..255, else its values v become round(v * 255 / 65535).
    """
    try:
        buffer = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise EvaluationInputError(f"cannot read {path}: {error}") from error
    # imdecode (unlike imread) reports undecodable data the same way for every path.
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        raise EvaluationInputError(f"cannot read {path}: not a decodable image")

    conversions: list[str] = []
    if image.ndim == 3:
        channels = image.shape[2]
        if channels in (2, 4):
            conversions.append("alpha channel dropped")
            image = image[:, :, : channels - 1]
        if image.shape[2] == 1:
            image = image[:, :, 0]
        elif (image == image[:, :, :1]).all():
            conversions.append("grey stored as colour: one channel kept")
            image = image[:, :, 0]
        else:
            conversions.append("colour converted to grey")
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.dtype == np.uint16 and image.max() <= 255:
        conversions.append(SIXTEEN_BIT_AS_8_BIT_NOTE)
        image = image.astype(np.uint8)
    elif image.dtype == np.uint16:
        conversions.append("16-bit scaled to 8-bit (v * 255 / 65535)")
        image = ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise EvaluationInputError(f"cannot read {path}: unsupported pixel type {image.dtype}")
    return np.ascontiguousarray(image), conversions


@dataclass(frozen=True)
class LoadedPair:
    """A prediction and its mask as equal-sized uint8 arrays, with what was done to get there."""

    pred: np.ndarray
    gt: np.ndarray
    notes: list[str]
    prob: np.ndarray | None = None


def _resized(image: np.ndarray, shape: tuple[int, ...], pil: bool) -> np.ndarray:
    if pil:
        return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def load_pair(pair: MapPair, pil_resize: bool = False) -> LoadedPair:
    """Read a pair (and its raw map, if any), convert to 8-bit grey and resize predictions to the mask.

    Resizing is OpenCV's bilinear, or with ``pil_resize`` PIL's bilinear (as the
    authors' evaluation loader) for the prediction; the raw map always uses OpenCV.
    """
    pred, pred_conversions = read_map(pair.pred)
    gt, gt_conversions = read_map(pair.gt)
    notes = [f"prediction: {c}" for c in pred_conversions] + [f"mask: {c}" for c in gt_conversions]
    if pred.shape != gt.shape:
        notes.append(RESIZE_NOTE)
        pred = _resized(pred, gt.shape, pil_resize)
    prob = None
    if pair.prob is not None:
        prob, prob_conversions = read_map(pair.prob)
        notes += [f"raw map: {c}" for c in prob_conversions]
        if prob.shape != gt.shape:
            notes.append("raw map resized to mask size")
            prob = _resized(prob, gt.shape, pil=False)
    return LoadedPair(pred=pred, gt=gt, notes=notes, prob=prob)
