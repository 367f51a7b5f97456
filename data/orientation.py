"""EXIF orientation: a phone stores a photo as the sensor saw it and says in an EXIF tag how to turn it
upright. Every photo is read turned upright, as a viewer shows it (PIL's `ImageOps.exif_transpose`), and so is
every mask or map that carries the tag (the same rule), so that a mask drawn on the upright photo fits it;
the readers say how many were turned. Files without the tag (nearly all masks and maps) are read as stored.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112  # EXIF Orientation: 1 is upright
ORIENTED_NOTE = "turned upright by its EXIF orientation tag"

# What each orientation needs, in numpy, as PIL's exif_transpose does it: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180,
# 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90 (PIL rotates counter-clockwise).
_UPRIGHT = {
    2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud, 5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1),
}


def orientation(image: Image.Image) -> int:
    """The EXIF orientation of an open image, 1 (upright) without the tag. From the header only (a PNG's
    EXIF block stored after its pixels is seen once they are loaded): asking PIL for it otherwise decodes a
    PNG file whole."""
    if "exif" not in image.info:
        return 1
    value = image.getexif().get(ORIENTATION_TAG, 1)
    return value if value in _UPRIGHT else 1


def file_orientation(buffer: np.ndarray) -> int:
    """The EXIF orientation of an encoded file's bytes, 1 without an EXIF block (looked for first: opening
    every mask with PIL to find none would cost a decode for PNG files)."""
    data = buffer.tobytes()
    if b"Exif" not in data and b"eXIf" not in data:
        return 1
    try:
        with Image.open(io.BytesIO(data)) as image:
            return orientation(image)
    except (OSError, SyntaxError, ValueError):
        return 1


def upright_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) of an open image as shown upright: swapped for the orientations that turn it by 90 degrees."""
    width, height = image.size
    return (height, width) if orientation(image) in (5, 6, 7, 8) else (width, height)


def upright(levels: np.ndarray, value: int) -> np.ndarray:
    """`levels` (rows, columns[, channels]) turned as orientation `value` asks."""
    return np.ascontiguousarray(_UPRIGHT[value](levels)) if value in _UPRIGHT else levels
