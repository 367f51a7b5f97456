"""The scoring engine's accumulator: the band / rest split of the calibration counts."""

from __future__ import annotations

import numpy as np

from evaluate.accumulate import MapCounts, Scoring
from metrics.boundary import boundary_band
from metrics.calibration import expected_calibration_error, joint_histogram
from protocol import PROTOCOLS, level_counts


def square_mask() -> np.ndarray:
    """A 20 x 20 object (rows and columns 10..29) in a 40 x 40 mask."""
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    return mask


def blobs(seed: int, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    """Soft random blobs touching the image border: mask levels around 128 decide the object."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((shape[0] // 8, shape[1] // 8))
    field = np.kron(coarse, np.ones((8, 8))) + 0.2 * rng.random(shape)
    return np.clip(field * 255, 0, 255).astype(np.uint8)


def test_band_and_rest_counts_add_up_to_the_counts_of_all_pixels() -> None:
    rng = np.random.default_rng(3)
    calibrated = PROTOCOLS["calibrated"]
    maps = MapCounts(calibrated)
    scoring = Scoring(calibrated, n_bins=10, boundary_width=2)
    images = [(rng.integers(0, 256, mask.shape, dtype=np.uint8), mask) for mask in (square_mask(), blobs(4))]
    images.append((images[0][0], np.zeros((40, 40), np.uint8)))  # an empty mask adds to the rest only
    for pred, gt in images:
        maps.add(pred, gt, joint_histogram(pred, gt), scoring)
    bands = [boundary_band(gt, 2) for _, gt in images]
    band_pixels = [np.concatenate([image[index][band] for image, band in zip(images, bands, strict=True)])
                   for index in (0, 1)]
    rest_pixels = [np.concatenate([image[index][~band] for image, band in zip(images, bands, strict=True)])
                   for index in (0, 1)]
    band_counts, rest_counts = level_counts(*band_pixels), level_counts(*rest_pixels)
    assert np.array_equal(maps.boundary_counts, band_counts)
    assert np.array_equal(maps.boundary_counts + rest_counts, maps.counts)
    assert maps.boundary_counts.sum() == 144 + 160 + 4 + bands[1].sum()

    metrics = maps.metrics(10)
    assert metrics["ECE_boundary"] == expected_calibration_error(band_counts)
    assert metrics["ECE_rest"] == expected_calibration_error(rest_counts)
    assert metrics["boundary_fraction"] == band_counts.sum() / maps.counts.sum()
    # ECE sums absolute gaps per bin, so the global one is at most the pixel-weighted mean of the parts.
    fraction = metrics["boundary_fraction"]
    assert metrics["ECE"] <= fraction * metrics["ECE_boundary"] + (1 - fraction) * metrics["ECE_rest"] + 1e-15
