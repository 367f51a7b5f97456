"""The per-image rows of the HTML report (:mod:`report.html`) and of ``images.csv``: which values a row holds,
how they are titled, the files of an image's thumbnails, and the colours of its error and confidence maps.

The scoring engine fills the rows where it reads each image (:mod:`evaluate.pictures`); this module only
says what they are, so that the engine, the CSV and the page agree. ``images.csv``: one line per image, per
set worst first by the image's ECE (fractions; empty where n/a), with its notes.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import atomic
from metrics.table import BOUNDARY, METRICS, SET, column_title, result_key
from report.names import IMAGES_CSV

PICTURES = ("photo", "mask", "map", "error", "confidence")  # an image's thumbnails, in the order shown
SURE = 0.9  # a wrong pixel at least this confident is wrong and sure (the confidence map)
COLOURS = {  # RGB; orange and blue stay apart for the common colour blindnesses (Okabe and Ito)
    "false positive": (230, 159, 0), "false negative": (0, 114, 178),
    f"wrong, confidence >= {SURE:g}": (255, 0, 200), f"wrong, confidence < {SURE:g}": (240, 228, 66),
}


@dataclass(frozen=True)
class RowColumn:
    """One value of an image's row: its key (images.csv, the page), its title and the metric that formats it."""

    key: str
    title: str
    metric_key: str


def _column(key: str, scope: str = SET, probabilities: bool = False) -> RowColumn:
    return RowColumn(result_key(key, scope, probabilities=probabilities),
                     column_title(key, scope, probabilities=probabilities), key)


# In the order the page and images.csv show them; the first orders the rows, worst first.
ROW_COLUMNS = (
    _column("ECE"), _column("OE"), _column("ECE", BOUNDARY), RowColumn("MAE", METRICS["MAE"].title, "MAE"),
    RowColumn("F", f"{METRICS['maxF'].title} of the image", "maxF"),
    _column("ECE", probabilities=True), _column("ECE", BOUNDARY, probabilities=True),
)
SORT_KEY = ROW_COLUMNS[0].key


@dataclass
class ImageRow:
    """One image of the report: its name, values by :data:`ROW_COLUMNS` key (None: n/a), notes, the file
    stem of its thumbnails (:func:`picture_file`) and whether a photo was found for it."""

    name: str
    values: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    stem: str = ""
    photo: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def worst_first(rows: Sequence[ImageRow], key: str = SORT_KEY) -> list[ImageRow]:
    """``rows`` by the value of ``key``, highest first, n/a last; ties by name."""
    return sorted(rows, key=lambda row: (row.values.get(key) is None, -(row.values.get(key) or 0.0), row.name))


def write_images_csv(out_dir: Path, rows_by_set: dict[str, Sequence[ImageRow]]) -> Path:
    """Write ``images.csv`` (module docstring) into ``out_dir``."""
    path = Path(out_dir) / IMAGES_CSV
    with atomic.opened(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["set", "image", *(column.key for column in ROW_COLUMNS), "notes"])
        for set_name, rows in rows_by_set.items():
            for row in worst_first(rows):
                values = ["" if row.values[c.key] is None else repr(row.values[c.key]) for c in ROW_COLUMNS]
                writer.writerow([set_name, row.name, *values, "; ".join(row.notes)])
    return path
