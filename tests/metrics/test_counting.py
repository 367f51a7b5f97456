"""The one pixel counter: an image's joint histograms, overall and in its boundary band, and the level
counts they give; adding histograms first or level counts first gives the same counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.boundary import boundary_band
from metrics.calibration import joint_histogram, level_counts_from_joint
from metrics.counting import PixelCounts, count_pixels
from protocol import PROTOCOLS


def image(seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A random map and a mask with a soft-edged object (levels 0, 255 and some in between)."""
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 256, shape, dtype=np.uint8)
    gt = np.zeros(shape, np.uint8)
    gt[shape[0] // 4: 3 * shape[0] // 4, shape[1] // 4: 3 * shape[1] // 4] = 255
    edge = rng.random(shape) < 0.1
    gt[edge] = rng.integers(1, 255, int(edge.sum()), dtype=np.uint8)
    return pred, gt


def test_an_image_is_counted_overall_and_in_its_band() -> None:
    pred, gt = image(0, (24, 30))
    pixels = count_pixels(pred, gt, 3)
    band = boundary_band(gt, 3)
    np.testing.assert_array_equal(pixels.joint, joint_histogram(pred, gt))
    np.testing.assert_array_equal(pixels.band_joint, joint_histogram(pred[band], gt[band]))
    assert 0 < pixels.band_joint.sum() == band.sum() < pixels.joint.sum() == pred.size


def test_without_a_width_the_band_is_not_counted_and_a_given_histogram_is_used() -> None:
    pred, gt = image(1, (10, 12))
    given_joint = joint_histogram(pred, gt)
    pixels = count_pixels(pred, gt, None, given_joint)
    assert pixels.band_joint is None and pixels.joint is given_joint
    assert pixels.level_counts(PROTOCOLS["calibrated"].correct_table).band is None
    with pytest.raises(ValueError, match="boundary band"):
        pixels + PixelCounts.zeros()


@settings(max_examples=20, deadline=None)
@given(seeds=st.lists(st.integers(0, 2**16), min_size=1, max_size=4), width=st.integers(1, 4),
       name=st.sampled_from(sorted(PROTOCOLS)))
def test_adding_histograms_first_or_level_counts_first_gives_the_same_counts(seeds: list[int], width: int,
                                                                              name: str) -> None:
    """The validation pass adds histograms, then reads them under a rule; the scorer reads each image
    under its rule, then adds: both are the same integers."""
    correct = PROTOCOLS[name].correct_table
    images = [count_pixels(*image(seed, (8 + seed % 9, 9 + seed % 7)), width) for seed in seeds]
    total = sum(images, PixelCounts.zeros()).level_counts(correct)
    for got, key in ((total.pixels, "joint"), (total.band, "band_joint")):
        summed = sum(level_counts_from_joint(getattr(pixels, key), correct) for pixels in images)
        np.testing.assert_array_equal(got, summed)
