"""Finding, pairing and reading prediction maps and masks on disk.

Predictions and masks are paired by file stem (``x.png`` with ``x.jpg`` is a
pair); .png, .jpg, .jpeg and .bmp are accepted on both sides, in any letter
case. Nothing is dropped silently: unpaired files and files with other
extensions are returned to the caller to be counted and listed, maps that are
not 8-bit single-channel are converted and the conversion is reported, a
prediction whose size differs from its mask is resized (bilinear) and reported,
and a missing or empty folder, an unreadable file or two maps with the same
stem in one folder raise :class:`EvaluationInputError` with a message naming
the offending path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MASK_SUBFOLDER = "GT"
RESIZE_NOTE = "prediction resized to mask size"


class EvaluationInputError(ValueError):
    """The maps to score are missing, unreadable or cannot be paired."""


@dataclass(frozen=True)
class MapPair:
    """One prediction map and its mask, sharing the stem ``name``."""

    name: str
    pred: Path
    gt: Path


@dataclass(frozen=True)
class PairedFolders:
    """Result of pairing a prediction folder with a mask folder."""

    pred_dir: Path
    gt_dir: Path
    pairs: list[MapPair]
    pred_without_gt: list[str]
    gt_without_pred: list[str]
    ignored_files: list[str]


def _list_maps(folder: Path, role: str) -> tuple[dict[str, Path], list[str]]:
    if not folder.exists():
        raise EvaluationInputError(f"{role} folder does not exist: {folder}")
    if not folder.is_dir():
        raise EvaluationInputError(f"{role} path is not a folder: {folder}")
    maps: dict[str, Path] = {}
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
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
    return maps, ignored


def pair_folders(pred_dir: Path, gt_dir: Path) -> PairedFolders:
    """Pair the maps of ``pred_dir`` with the masks of ``gt_dir`` by stem."""
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    preds, ignored_pred = _list_maps(pred_dir, "prediction")
    gts, ignored_gt = _list_maps(gt_dir, "mask")
    common = sorted(preds.keys() & gts.keys())
    if not common:
        raise EvaluationInputError(
            f"no prediction in {pred_dir} has a mask with the same file stem in {gt_dir} "
            f"(e.g. prediction {next(iter(preds))!r}, mask {next(iter(gts))!r})"
        )
    return PairedFolders(
        pred_dir=pred_dir,
        gt_dir=gt_dir,
        pairs=[MapPair(name, preds[name], gts[name]) for name in common],
        pred_without_gt=sorted(preds.keys() - gts.keys()),
        gt_without_pred=sorted(gts.keys() - preds.keys()),
        ignored_files=ignored_pred + ignored_gt,
    )


def mask_folder(gt_root: Path, dataset: str) -> Path:
    """Masks of ``dataset``: ``<gt_root>/<dataset>/GT`` if that folder exists, else ``<gt_root>/<dataset>``."""
    nested = Path(gt_root) / dataset / MASK_SUBFOLDER
    return nested if nested.is_dir() else Path(gt_root) / dataset


def read_map(path: Path) -> tuple[np.ndarray, list[str]]:
    """Read an image as a 2-D uint8 array, returning the conversions applied to it.

    Colour images become grey (a colour image whose channels are all equal keeps
    its values exactly; otherwise OpenCV's luminance weights are used), an alpha
    channel is dropped, and 16-bit values v become round(v * 255 / 65535).
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
    if image.dtype == np.uint16:
        conversions.append("16-bit scaled to 8-bit")
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


def load_pair(pair: MapPair) -> LoadedPair:
    """Read a pair, convert both maps to 8-bit grey and resize the prediction to the mask."""
    pred, pred_conversions = read_map(pair.pred)
    gt, gt_conversions = read_map(pair.gt)
    notes = [f"prediction: {c}" for c in pred_conversions] + [f"mask: {c}" for c in gt_conversions]
    if pred.shape != gt.shape:
        notes.append(RESIZE_NOTE)
        pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
    return LoadedPair(pred=pred, gt=gt, notes=notes)
