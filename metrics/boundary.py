"""The boundary band of a mask: the pixels near the object's outline, where calibration is measured apart.

Definition (under every protocol). The object is the set of pixels whose mask level is >= 128 (the mask
thresholded at 128, as in the calibrated protocol's rule); the background is every other pixel. A pixel's
distance to the boundary is the Euclidean distance, in pixels of the mask (the scoring resolution: a
prediction of another size is resized to its mask first), from its centre to the centre of the nearest
pixel of the other class: 1 where a pixel above, below, left or right of it is of the other class,
sqrt(2) where the nearest such pixel is a diagonal neighbour. The **boundary band** of width
``w`` is the set of pixels at distance <= w: w pixels deep on each side of the outline (2 w across a
straight edge, e.g. for w = 2 the two outermost rings of a square object and the two rings around it,
whose corners hold only the pixels at sqrt(2)). The **rest** is every other pixel: object and background
farther than w from the other class. The image border is no boundary (pixels beyond the image belong to
neither class), so a mask without object pixels, or without background pixels, has no band: all its
pixels are in the rest. ``BOUNDARY_WIDTH`` (5 px) is the default width.

Computation. A background pixel is within w of the object iff the object dilated by the Euclidean disk
{offsets o: |o| <= w} covers it; an object pixel is within w of the background iff the object eroded by
that disk does not cover it. The band is therefore where the dilation and the erosion differ. OpenCV's
default border counts pixels beyond the image as object for the erosion and as background for the
dilation, which keeps the image border out of the band. This equals thresholding exact Euclidean
distance transforms (tests/evaluate/test_boundary.py checks it against SciPy's) and, for widths up to about
10 px, takes a fraction of their time. A width that reaches across the whole mask (at least the distance
between its opposite corners) puts every pixel in the band of a mask that has one, which is said without
building a disk that large (its memory and time grow with the square of the width).

NumPy and OpenCV are imported in the functions that compute, so that the command line can read
``BOUNDARY_WIDTH`` for its ``--help`` without loading them.
"""

from __future__ import annotations

import math
import numbers
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BOUNDARY_WIDTH = 5


def check_width(width: int) -> None:
    """Refuse a width that is not a positive integer (a band of width 0 would hold no pixel)."""
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
        raise ValueError(f"the boundary band's width must be a positive integer (pixels), got {width!r}")


@cache
def _disk(width: int) -> np.ndarray:
    """Structuring element of the offsets at Euclidean distance <= width (not OpenCV's elliptic one)."""
    import numpy as np

    offsets = np.arange(-width, width + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= width**2).astype(np.uint8)


def boundary_band(gt_u8: np.ndarray, width: int = BOUNDARY_WIDTH) -> np.ndarray:
    """Boolean map of the pixels of the mask ``gt_u8`` (uint8 mask levels) in its boundary band of ``width``."""
    import cv2
    import numpy as np

    check_width(width)
    if gt_u8.dtype != np.uint8 or gt_u8.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 mask, got {gt_u8.dtype} of shape {gt_u8.shape}")
    foreground = (gt_u8 >= 128).view(np.uint8)
    rows, columns = gt_u8.shape
    if width >= math.hypot(rows - 1, columns - 1):  # every pixel is within the width of every other
        return np.full(gt_u8.shape, foreground.any() and not foreground.all())
    kernel = _disk(int(width))
    return cv2.dilate(foreground, kernel) != cv2.erode(foreground, kernel)
