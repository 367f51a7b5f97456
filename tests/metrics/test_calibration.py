"""Calibration metrics on level counts against a direct per-pixel computation and hand-computed values."""

from __future__ import annotations

import math
import zlib
from fractions import Fraction

import numpy as np
import pytest

from metrics.calibration import (
    MAX_BINS,
    adaptive_calibration_error,
    brier_score,
    calibration_bins,
    debiased_calibration_error,
    equal_mass_bin_of_level,
    equal_width_bin_of_level,
    expected_calibration_error,
    mean_prediction,
    negative_log_likelihood,
    overconfidence_error,
    pixel_accuracy,
)
from protocol import level_counts

EDGE_LEVELS = np.array([0, 51, 102, 127, 128, 153, 204, 255], dtype=np.uint8)


def _exact_bin(level: int, n_bins: int) -> int:
    """Equal-width bin of a level, from exact rational confidence: j with j/B < c <= (j+1)/B."""
    confidence = Fraction(max(level, 255 - level), 255)
    return next(j for j in range(n_bins) if confidence <= Fraction(j + 1, n_bins))


def _pixels(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    p = pred.ravel().astype(np.float64) / 255
    y = (gt.ravel() >= 128).astype(np.float64)
    return {
        "p": p,
        "y": y,
        "conf": np.maximum(p, 1 - p),
        "correct": ((pred.ravel() >= 128) == (gt.ravel() >= 128)).astype(np.float64),
    }


def _per_bin(px: dict[str, np.ndarray], bins: np.ndarray, n_bins: int) -> list[tuple[float, float, float, int]]:
    """(weight, mean confidence, accuracy, pixel count) of every non-empty bin, pixel by pixel."""
    out = []
    for j in range(n_bins):
        inside = bins == j
        if inside.any():
            out.append((inside.mean(), px["conf"][inside].mean(), px["correct"][inside].mean(), inside.sum()))
    return out


def _equal_width_bins(pred: np.ndarray, n_bins: int) -> np.ndarray:
    lookup = {int(v): _exact_bin(int(v), n_bins) for v in np.unique(pred)}
    return np.array([lookup[int(v)] for v in pred.ravel()])


def _equal_mass_bins(pred: np.ndarray, n_bins: int) -> np.ndarray:
    """Whole confidence levels to the bin of their middle pixel rank, via a sort of the pixels."""
    conf_level = np.maximum(pred.ravel().astype(np.int64), 255 - pred.ravel().astype(np.int64))
    order = np.sort(conf_level, kind="stable")
    n = order.size
    bins = np.empty_like(conf_level)
    for level in np.unique(conf_level):
        start = np.searchsorted(order, level, side="left")
        stop = np.searchsorted(order, level, side="right")
        middle = Fraction(int(start + stop), 2)
        bins[conf_level == level] = min(math.floor(n_bins * middle / n), n_bins - 1)
    return bins


def reference(pred: np.ndarray, gt: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    px = _pixels(pred, gt)
    width = _per_bin(px, _equal_width_bins(pred, n_bins), n_bins)
    mass = _per_bin(px, _equal_mass_bins(pred, 15), 15)
    squared = sum(w * ((c - a) ** 2 - (a * (1 - a) / (n - 1) if n > 1 else 0.0)) for w, c, a, n in width)
    q = np.clip(px["p"], 1 / 510, 1 - 1 / 510)
    return {
        "ECE": sum(w * abs(c - a) for w, c, a, _ in width),
        "OE": sum(w * c * max(c - a, 0.0) for w, c, a, _ in width),
        "ACC": px["correct"].mean(),
        "AECE": sum(w * abs(c - a) for w, c, a, _ in mass),
        "dECE": math.sqrt(max(squared, 0.0)),
        "NLL": -np.mean(px["y"] * np.log(q) + (1 - px["y"]) * np.log(1 - q)),
        "Brier": np.mean((px["p"] - px["y"]) ** 2),
        "mean": px["p"].mean(),
    }


def ours(pred: np.ndarray, gt: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    counts = level_counts(pred, gt)
    return {
        "ECE": expected_calibration_error(counts, n_bins),
        "OE": overconfidence_error(counts, n_bins),
        "ACC": pixel_accuracy(counts),
        "AECE": adaptive_calibration_error(counts, 15),
        "dECE": debiased_calibration_error(counts, n_bins),
        "NLL": negative_log_likelihood(counts),
        "Brier": brier_score(counts),
        "mean": mean_prediction(counts),
    }


def _case(name: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape = (37, 53)
    pred = rng.integers(0, 256, shape).astype(np.uint8)
    gt = (rng.random(shape) < 0.4).astype(np.uint8) * 255
    if name == "edge_levels":
        pred = rng.choice(EDGE_LEVELS, shape).astype(np.uint8)
    elif name == "all_black":
        pred[:] = 0
    elif name == "all_white":
        pred[:] = 255
    elif name == "empty_mask":
        gt[:] = 0
    elif name == "soft_mask_edges":
        gt = rng.choice(np.array([0, 1, 100, 127, 128, 129, 200, 255], dtype=np.uint8), shape)
    elif name == "confident":
        # Mostly saturated, like a trained saliency model: one level holds most of the mass.
        pred = np.where(rng.random(shape) < 0.85, np.where(gt >= 128, 255, 0), pred).astype(np.uint8)
    return pred, gt


@pytest.mark.parametrize(
    "name", ["random", "edge_levels", "all_black", "all_white", "empty_mask", "soft_mask_edges", "confident"]
)
@pytest.mark.parametrize("n_bins", [10, 7])
def test_matches_per_pixel_reference(name: str, n_bins: int) -> None:
    pred, gt = _case(name, np.random.default_rng(zlib.crc32(name.encode())))
    expected = reference(pred, gt, n_bins)
    got = ours(pred, gt, n_bins)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key


def test_bin_membership_of_edge_levels() -> None:
    # c = 0.2 * k exactly for levels 51 k (and 255 - 51 k); 127 and 128 have c = 128/255.
    bins = equal_width_bin_of_level(10)
    assert bins[[51, 102, 153, 204, 255, 127, 128, 0]].tolist() == [7, 5, 5, 7, 9, 5, 5, 9]
    assert equal_width_bin_of_level(5)[[153, 102, 204, 51]].tolist() == [2, 2, 3, 3]
    for n_bins in range(1, 21):
        expected = [_exact_bin(level, n_bins) for level in range(256)]
        assert equal_width_bin_of_level(n_bins).tolist() == expected


def test_hand_computed_example() -> None:
    # level, mask: 255 fg (c=1, right), 204 bg (c=.8, wrong), 153 fg (c=.6, right),
    # 51 bg (c=.8, right), 0 bg (c=1, right), 166 bg (c=166/255 in (.6,.7], wrong).
    pred = np.array([[255, 204, 153, 51, 0, 166]], dtype=np.uint8)
    gt = np.array([[255, 0, 255, 0, 0, 0]], dtype=np.uint8)
    counts = level_counts(pred, gt)
    c166 = 166 / 255
    # Bins: (.9,1] {1, 1} gap 0; (.7,.8] {.8 wrong, .8 right} gap .3; (.5,.6] {.6 right} gap .4; (.6,.7] gap c166.
    assert expected_calibration_error(counts) == pytest.approx((2 * 0.3 + 0.4 + c166) / 6, abs=1e-15)
    assert expected_calibration_error(counts) == pytest.approx(421 / 1530, abs=1e-15)
    assert overconfidence_error(counts) == pytest.approx(2 / 6 * 0.8 * 0.3 + 1 / 6 * c166 * c166, abs=1e-15)
    assert pixel_accuracy(counts) == pytest.approx(4 / 6, abs=1e-15)
    clamp = 1 / 510
    nll = (
        -(
            math.log(1 - clamp)
            + math.log(1 - 0.8)
            + math.log(0.6)
            + math.log(1 - 0.2)
            + math.log(1 - clamp)
            + math.log(1 - c166)
        )
        / 6
    )
    assert negative_log_likelihood(counts) == pytest.approx(nll, abs=1e-12)
    assert brier_score(counts) == pytest.approx((0.8**2 + 0.4**2 + 0.2**2 + c166**2) / 6, abs=1e-15)
    stats = calibration_bins(counts)
    assert stats.count.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 0, 2]


def test_equal_mass_bins_never_split_a_level() -> None:
    # Confidence levels 200 (1 pixel), 220 (1 pixel), 255 (8 pixels), 5 bins: middle ranks .5, 1.5, 6.
    pred = np.array([[200, 220] + [255] * 8], dtype=np.uint8)
    counts = level_counts(pred, np.full_like(pred, 255))
    bins = equal_mass_bin_of_level(counts, 5)
    assert bins[[200, 220, 255]].tolist() == [0, 0, 3]
    # 35 = 255 - 220 shares the confidence level of 220, hence its bin.
    assert bins[35] == bins[220]
    mean_conf = (200 + 220) / 2 / 255
    assert adaptive_calibration_error(counts, 5) == pytest.approx(0.2 * (1 - mean_conf), abs=1e-15)


def test_one_adaptive_bin_is_the_global_gap() -> None:
    pred, gt = _case("random", np.random.default_rng(3))
    counts = level_counts(pred, gt)
    px = _pixels(pred, gt)
    assert adaptive_calibration_error(counts, 1) == pytest.approx(abs(px["conf"].mean() - px["correct"].mean()))


def test_debiasing_lowers_the_plug_in_estimate() -> None:
    rng = np.random.default_rng(4)
    pred = rng.integers(0, 256, (200, 200)).astype(np.uint8)
    # Labels drawn with probability pred/255: calibrated, so the plug-in l2 error is pure noise.
    gt = (rng.random(pred.shape) < pred / 255).astype(np.uint8) * 255
    counts = level_counts(pred, gt)
    stats = calibration_bins(counts)
    filled = stats.count > 0
    plug_in = math.sqrt(np.sum(stats.weight[filled] * (stats.confidence[filled] - stats.accuracy[filled]) ** 2))
    assert debiased_calibration_error(counts) < plug_in


def test_level_counts_layout() -> None:
    pred = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    gt = np.array([[127, 128, 0, 255]], dtype=np.uint8)
    counts = level_counts(pred, gt)
    assert counts.shape == (256, 2) and counts.dtype == np.int64
    assert counts.sum() == 4
    assert counts[0, 0] == 1 and counts[127, 1] == 1 and counts[128, 0] == 1 and counts[255, 1] == 1


@pytest.mark.parametrize(
    "pred, gt",
    [
        (np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8)),
        (np.zeros((2, 2), np.float32), np.zeros((2, 2), np.uint8)),
        (np.zeros((2, 2), np.uint16), np.zeros((2, 2), np.uint8)),
    ],
)
def test_level_counts_rejects_bad_maps(pred: np.ndarray, gt: np.ndarray) -> None:
    with pytest.raises(ValueError):
        level_counts(pred, gt)


@pytest.mark.parametrize(
    "counts",
    [np.zeros((256, 2), np.int64), np.ones((255, 2), np.int64), -np.ones((256, 2), np.int64), np.ones((256, 2)) / 2],
)
def test_metrics_reject_bad_counts(counts: np.ndarray) -> None:
    with pytest.raises(ValueError):
        expected_calibration_error(counts)
    with pytest.raises(ValueError):
        brier_score(counts)


def test_bins_must_be_positive() -> None:
    counts = level_counts(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError):
            expected_calibration_error(counts, bad)


def test_more_bins_than_the_most_allowed_would_change_no_value() -> None:
    # --bins=1000000000 asked for arrays of 8 GB (a MemoryError traceback): bins beyond MAX_BINS are refused, and
    # at MAX_BINS each level has a bin of its own, so that 1000 bins, pixel by pixel, give the same values.
    pred, gt = _case("random", np.random.default_rng(3))
    at_most, finer = ours(pred, gt, MAX_BINS), reference(pred, gt, 1000)
    for key in ("ECE", "OE", "dECE"):
        assert at_most[key] == pytest.approx(finer[key], abs=1e-12), key
    with pytest.raises(ValueError, match=f"n_bins must be an integer from 1 to {MAX_BINS}"):
        expected_calibration_error(level_counts(pred, gt), MAX_BINS + 1)
