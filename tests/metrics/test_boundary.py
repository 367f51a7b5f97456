"""The boundary band: its pixels on hand-drawn masks and its equality with thresholded distance transforms."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from metrics.boundary import BOUNDARY_WIDTH, boundary_band
from tests.conftest import PROJECT_ROOT


def square_mask() -> np.ndarray:
    """A 20 x 20 object (rows and columns 10..29) in a 40 x 40 mask."""
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    return mask


def test_band_of_a_square_holds_exactly_the_pixels_within_two_pixels_of_its_outline() -> None:
    expected = np.zeros((40, 40), bool)
    # Inside: the two outermost rings of the square (distance 1 and 2 to the background).
    expected[10:30, 10:30] = True
    expected[12:28, 12:28] = False
    # Outside: two rings along each side; at each corner only the diagonal pixel at sqrt(2), since
    # (2, 1) is at sqrt(5) > 2 and (2, 2) at sqrt(8).
    expected[8:10, 10:30] = expected[30:32, 10:30] = True
    expected[10:30, 8:10] = expected[10:30, 30:32] = True
    for row, column in ((9, 9), (9, 30), (30, 9), (30, 30)):
        expected[row, column] = True
    band = boundary_band(square_mask(), 2)
    assert band.dtype == bool and np.array_equal(band, expected)
    assert band.sum() == 144 + 160 + 4


def test_masks_without_an_outline_have_no_band_and_the_image_border_is_no_boundary() -> None:
    for level in (0, 127, 128, 255):  # empty, still empty below 128, full from 128, full
        assert not boundary_band(np.full((30, 40), level, np.uint8), 3).any(), level
    left_half = np.zeros((10, 12), np.uint8)
    left_half[:, :6] = 200
    # Only the columns within 2 px of the vertical edge between columns 5 and 6, on every row.
    assert np.array_equal(np.flatnonzero(boundary_band(left_half, 2).all(axis=0)), [4, 5, 6, 7])
    assert boundary_band(left_half, 2).sum() == 4 * 10


def blobs(seed: int, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    """Soft random blobs touching the image border: mask levels around 128 decide the object."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((shape[0] // 8, shape[1] // 8))
    field = np.kron(coarse, np.ones((8, 8))) + 0.2 * rng.random(shape)
    return np.clip(field * 255, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("width", [1, 2, 3, BOUNDARY_WIDTH, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_band_is_the_thresholded_euclidean_distance_to_the_other_class(width: int, seed: int) -> None:
    mask = blobs(seed)
    foreground = mask >= 128
    assert foreground.any() and not foreground.all()
    # Each pixel's exact distance to the nearest pixel of the other class.
    distance = np.where(foreground, distance_transform_edt(foreground), distance_transform_edt(~foreground))
    assert np.array_equal(boundary_band(mask, width), distance <= width)


@pytest.mark.parametrize("width", [0, -1, 2.5, True, None])
def test_a_width_that_is_not_a_positive_integer_is_refused(width: object) -> None:
    with pytest.raises(ValueError, match="boundary band's width must be a positive integer"):
        boundary_band(square_mask(), width)  # type: ignore[arg-type]


def test_the_default_width_is_read_without_loading_numpy_or_opencv() -> None:
    # The command line shows it in --help, which must answer without loading the scoring libraries.
    script = (
        "import sys\n"
        "from metrics.boundary import BOUNDARY_WIDTH\n"
        "loaded = [name for name in ('numpy', 'cv2') if name in sys.modules]\n"
        "sys.exit(f'loaded {loaded}' if loaded or BOUNDARY_WIDTH != 5 else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 5), (40, 30)])
def test_a_width_reaching_across_the_mask_gives_the_disk_s_band_without_building_it(shape: tuple[int, int]) -> None:
    # --boundary-width=1000000 built a 2000001 x 2000001 disk (out of memory); 1000 took minutes on 64 x 96 masks.
    rng = np.random.default_rng(sum(shape))
    reach = max(1, int(np.ceil(np.hypot(shape[0] - 1, shape[1] - 1))))
    for mask in (np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8),
                 (rng.random(shape) < 0.3).astype(np.uint8) * 255):
        foreground = mask >= 128
        distance = np.where(foreground, distance_transform_edt(foreground), distance_transform_edt(~foreground))
        has_boundary = foreground.any() and not foreground.all()
        for width in (reach, reach + 1, 10**9):
            assert np.array_equal(boundary_band(mask, width), (distance <= width) & has_boundary), width
