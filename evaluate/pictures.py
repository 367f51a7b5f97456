"""What the HTML report shows of each scored image (:mod:`report.rows`), made where the image is scored.

Each image's **row**: its own ECE, OE and boundary-band ECE (from the level counts the scoring keeps of it,
under the protocol that scores its maps: :mod:`evaluate.accumulate`), its MAE and its F (the highest F of its
own F-measure curve; both from the protocol's per-image SOD statistics), the ECE values of the probability
maps beside the test maps where there are some, and its notes (what the reader did to its files, why a metric
is n/a on it). A value is None (n/a) where the image's scoring has none: under the paper protocol a map of
another size than its mask leaves the calibration and no boundary band is reported; an empty mask has no F.

Its **pictures**, when the report asks for them (:class:`Pictures`): thumbnails of at most
:data:`THUMBNAIL_SIDE` px of the photo (when the set's photographs are found), the mask, the map, an error
map and a confidence map, written once by the scoring worker that has the image in memory, so that the
report costs no second pass over the set. Both maps judge the pixels of the probability map where one is
given, else of the test map, thresholded at 128 against the mask thresholded at 128: the error map shows
false positives and false negatives in two colours over right pixels in greys; the confidence map shows
wrong pixels whose confidence max(p, 1 - p) >= :data:`report.rows.SURE` apart from wrong pixels the map was
unsure of, over the right pixels in dark greys (colours: :data:`report.rows.COLOURS`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from data.files import DataError, find_photo, read_photo, require_folder
from metrics.counting import LevelCounts
from metrics.measures import ImageStats
from metrics.table import METRICS
from report.names import picture_file, pictures_folder
from report.rows import COLOURS, ROW_COLUMNS, SURE

THUMBNAIL_SIDE = 128  # px, the longer side: a row of five stays on one line of a laptop's screen
PHOTO_FOLDERS = ("Image", "Images", "Imgs", "images")  # beside a mask folder: where its photographs are
_FALSE_POSITIVE, _FALSE_NEGATIVE, _SURE_WRONG, _UNSURE_WRONG = COLOURS.values()


@dataclass(frozen=True)
class Pictures:
    """Where one set's thumbnails go, and the folder of its photographs (None: none found)."""

    folder: Path
    photos: Path | None = None


def photo_folder(mask_dir: Path) -> Path | None:
    """The folder of photographs beside ``mask_dir`` (a set laid out as ``Image/`` and ``GT/``), or None."""
    return next((folder for name in PHOTO_FOLDERS if (folder := Path(mask_dir).parent / name).is_dir()), None)


def set_pictures(out_dir: Path, mask_dirs: dict[str, Path], photo_dirs: dict[str, Path] | None) -> dict[str, Pictures]:
    """Per set (by name: its mask folder), an empty folder for its thumbnails under ``out_dir`` (an earlier
    run's are removed: they may be of other images), and its photographs: its folder in ``photo_dirs`` (which
    must exist), else the one found beside its masks (:func:`photo_folder`)."""
    pictures = {}
    for name, mask_dir in mask_dirs.items():
        photos = (photo_dirs or {}).get(name)
        if photos is not None:
            require_folder(Path(photos), "photo")
        folder = Path(out_dir) / pictures_folder(name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        pictures[name] = Pictures(folder, Path(photos) if photos is not None else photo_folder(mask_dir))
    return pictures


def _calibration(counts: np.ndarray | None, n_bins: int, key: str) -> float | None:
    if counts is None or counts.sum() == 0:
        return None
    return float(METRICS[key].from_counts(counts, n_bins))


def image_values(test: LevelCounts | None, probabilities: LevelCounts | None, stats: ImageStats,
                 n_bins: int) -> dict[str, float | None]:
    """The row's values of one image (None: n/a on it); ``test`` None: its test map left the calibration."""
    defined = dict(stats.defined())
    values = {}
    for prefix, counted in (("", test), ("probabilities_", probabilities)):
        values[f"{prefix}ECE"] = _calibration(counted.pixels if counted else None, n_bins, "ECE")
        values[f"{prefix}ECE_boundary"] = _calibration(counted.band if counted else None, n_bins, "ECE")
    values["OE"] = _calibration(test.pixels if test else None, n_bins, "OE")
    values["MAE"] = float(defined["mae"]) if "mae" in defined else None
    values["F"] = float(np.max(defined["f_curve"])) if "f_curve" in defined else None
    return {column.key: values[column.key] for column in ROW_COLUMNS}


def _thumbnail(image: np.ndarray) -> np.ndarray:
    scale = THUMBNAIL_SIDE / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _error_colour(key: int) -> tuple[int, int, int]:
    # key: 1 where the map says object (level >= 128), plus 3 where the mask does (error_picture).
    return {0: (40,) * 3, 1: _FALSE_POSITIVE, 3: _FALSE_NEGATIVE, 4: (200,) * 3}.get(key, (0, 0, 0))


def _confidence_colour(key: int) -> tuple[int, int, int]:
    # key: the map's level on the background, 255 - level on the object (both read alike from there on).
    confidence = max(key, 255 - key)  # max(p, 1 - p) in levels, 128..255
    if key >= 128:  # wrong: object said on the background, or background said on the object
        return _SURE_WRONG if confidence >= SURE * 255 else _UNSURE_WRONG
    return (20 + (confidence - 128) // 2,) * 3  # right: dark greys, lighter where surer


# Each picture is one OpenCV table lookup per pixel, from an 8-bit key of the map level and the mask.
_ERROR_TABLE, _CONFIDENCE_TABLE = (np.array([[colour(key)] for key in range(256)], np.uint8)
                                   for colour in (_error_colour, _confidence_colour))


def _lookup(key: np.ndarray, table: np.ndarray) -> np.ndarray:
    return cv2.LUT(cv2.cvtColor(key, cv2.COLOR_GRAY2RGB), table)


def _object(gt_u8: np.ndarray) -> np.ndarray:
    """255 where the mask, thresholded at 128, marks the object; else 0."""
    return cv2.threshold(gt_u8, 127, 255, cv2.THRESH_BINARY)[1]


def error_picture(map_u8: np.ndarray, gt_u8: np.ndarray) -> np.ndarray:
    """RGB: right pixels in greys (object light, background dark), false positives and negatives in colour."""
    said = cv2.threshold(map_u8, 127, 1, cv2.THRESH_BINARY)[1]
    return _lookup(cv2.scaleAdd(_object(gt_u8), 3 / 255, said), _ERROR_TABLE)


def confidence_picture(map_u8: np.ndarray, gt_u8: np.ndarray) -> np.ndarray:
    """RGB: wrong pixels with confidence >= SURE in one colour, other wrong pixels in another, right pixels
    in dark greys (lighter where surer)."""
    return _lookup(cv2.bitwise_xor(map_u8, _object(gt_u8)), _CONFIDENCE_TABLE)


def write_pictures(pictures: Pictures, name: str, stem: str, pred: np.ndarray, gt: np.ndarray,
                   probability: np.ndarray | None) -> bool:
    """Write the thumbnails of one image into ``pictures.folder``; returns whether a photo was found."""
    judged = probability if probability is not None else pred
    written = {
        "mask": gt, "map": pred,
        "error": cv2.cvtColor(error_picture(judged, gt), cv2.COLOR_RGB2BGR),
        "confidence": cv2.cvtColor(confidence_picture(judged, gt), cv2.COLOR_RGB2BGR),
    }
    for picture, image in written.items():  # fast PNG compression: small pictures, written once per image
        cv2.imwrite(str(pictures.folder / picture_file(stem, picture)), _thumbnail(image),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if pictures.photos is None:
        return False
    try:
        photo = read_photo(find_photo(pictures.photos, name), at_least=THUMBNAIL_SIDE)
    except DataError:  # none, or one that cannot be read: the row says "no photo" rather than stop the scoring
        return False
    photo.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    photo.save(pictures.folder / picture_file(stem, "photo"), quality=85)
    return True
