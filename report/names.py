"""The names of the files the reports write, safe for any test set, method or image name."""

from __future__ import annotations

import hashlib
import re

PAGE = "report.html"  # beside results.md (report/html.py)
PICTURES_FOLDER = "report_files"  # beside it: the thumbnails (one folder per set) and the page's data
IMAGES_CSV = "images.csv"  # beside it: one line per image (report/rows.py)


def file_stem(name: str) -> str:
    """`name` (a test set's, a method's) made safe as part of a file name: anything but letters,
    digits, '_', '.' and '-' becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def picture_stem(name: str) -> str:
    """A stem for the thumbnails of image ``name``, or for the folder of set ``name``: safe in a URL and a zip
    on any system (never "." or ".."), and distinct for names that differ only in characters the safe part
    replaces."""
    return f"{file_stem(name)[:48]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def pictures_folder(set_name: str) -> str:
    """The folder of a set's thumbnails, relative to the page."""
    return f"{PICTURES_FOLDER}/{picture_stem(set_name)}"


def picture_file(stem: str, picture: str) -> str:
    """The file name of one thumbnail (``picture``: photo, mask, map, error or confidence): the photo JPEG,
    the others PNG."""
    return f"{stem}_{picture}.{'jpg' if picture == 'photo' else 'png'}"
