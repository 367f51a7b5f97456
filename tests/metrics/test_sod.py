"""SOD metrics against PySODMetrics' classic classes on the same maps: equal on images whose masks hold both
classes; elsewhere equal over the images each metric covers (undefined images are left out, where the library
averages in a 0)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import py_sod_metrics
import pytest

from evaluate import score_dataset
from metrics.measures import ImageAccumulator
from metrics.paper import PaperImageStats
from metrics.sod import SODImageStats, sod_image_stats
from metrics.table import METRICS, sod_metrics
from tests.conftest import write_pairs

SOD_KEYS = ("maxF", "meanF", "adpF", "wF", "MAE", "S", "maxE", "meanE", "adpE")
ORDINARY = ("soft", "soft_small", "all_black", "all_white", "constant")  # masks holding both classes
CASES = (*ORDINARY, "empty_mask", "full_mask", "mask_128", "tiny")
# The metrics each case without both classes leaves undefined: no foreground (mask_128: no pixel above 128;
# tiny: a 1 x 2 empty mask), no background.
NO_FOREGROUND = {"maxF", "meanF", "adpF", "wF", "AP", "AUC"}
UNDEFINED = {"empty_mask": NO_FOREGROUND, "full_mask": {"AUC"}, "mask_128": NO_FOREGROUND, "tiny": NO_FOREGROUND}


def _map_pair(case: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = {"soft_small": (23, 31), "tiny": (1, 2)}.get(case, (90, 120))
    yy, xx = np.mgrid[:height, :width]
    distance = np.hypot((yy - height * rng.uniform(0.3, 0.7)) / (height / 4), (xx - width / 2) / (width / 3.5))
    # Masks with anti-aliased (non-binary) edges, predictions soft and noisy.
    gt = cv2.GaussianBlur(((distance < 1) * 255).astype(np.uint8), (3, 3), 0)
    soft = 1 / (1 + np.exp((distance - 1 + rng.uniform(-0.3, 0.3)) * rng.uniform(3, 20)))
    pred = np.clip(soft * 255 + rng.normal(0, 20, gt.shape), 0, 255).astype(np.uint8)
    if case == "all_black":
        pred[:] = 0
    elif case == "all_white":
        pred[:] = 255
    elif case == "constant":
        pred[:] = 77
    elif case == "empty_mask":
        gt[:] = 0
    elif case == "full_mask":
        gt[:] = 255
    elif case == "mask_128":
        gt[gt > 0] = 128
    return pred, gt


def _library(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    with warnings.catch_warnings():
        # Fmeasure announces its deprecation; the classic class is exactly the reference wanted here.
        warnings.simplefilter("ignore")
        fm = py_sod_metrics.Fmeasure()
    wfm, mae, sm, em = (
        py_sod_metrics.WeightedFmeasure(),
        py_sod_metrics.MAE(),
        py_sod_metrics.Smeasure(),
        py_sod_metrics.Emeasure(),
    )
    for pred, gt in pairs:
        for metric in (fm, wfm, mae, sm, em):
            metric.step(pred, gt)
    f, e = fm.get_results()["fm"], em.get_results()["em"]
    return {
        "maxF": f["curve"].max(),
        "meanF": f["curve"].mean(),
        "adpF": f["adp"],
        "wF": wfm.get_results()["wfm"],
        "MAE": mae.get_results()["mae"],
        "S": sm.get_results()["sm"],
        "maxE": e["curve"].max(),
        "meanE": e["curve"].mean(),
        "adpE": e["adp"],
    }


@pytest.mark.parametrize("case", CASES)
def test_single_image_matches_library_where_defined(case: str) -> None:
    pair = _map_pair(case, np.random.default_rng(CASES.index(case)))
    accumulator = ImageAccumulator()
    accumulator.add(sod_image_stats(*pair), case)
    expected = _library([pair])
    undefined = UNDEFINED.get(case, set())
    for key in (*SOD_KEYS, "AP", "AUC"):
        formula = METRICS[key].from_sod
        assert formula.covered(accumulator) == (key not in undefined), key
        if key in undefined or key not in expected:
            continue
        assert formula(accumulator) == pytest.approx(expected[key], abs=1e-6, rel=0), key
    if undefined:  # where the library puts 0 for 0 / 0
        assert all(expected[key] == 0 for key in undefined & set(SOD_KEYS))


def _covered(key: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pairs metric ``key`` covers."""
    quantities = METRICS[key].from_sod.quantities
    return [pair for pair in pairs if all(name in dict(sod_image_stats(*pair).defined()) for name in quantities)]


def test_dataset_from_disk_matches_library_over_the_images_each_metric_covers(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    pairs = [_map_pair(case, rng) for case in CASES for _ in range(2)]
    write_pairs(tmp_path / "pred", tmp_path / "gt", pairs, stem="{:03d}")
    covered = {key: _covered(key, pairs) for key in SOD_KEYS}
    assert len(covered["maxF"]) == 2 * len(ORDINARY) + 2  # and the full masks, which have a recall
    expected = {key: _library(covered[key])[key] for key in SOD_KEYS}
    for workers in (1, 2):
        got = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=workers, protocol="calibrated")
        assert got["n_images"] == len(pairs)
        for key in SOD_KEYS:
            assert got[key] == pytest.approx(expected[key], abs=1e-6, rel=0), (key, workers)


@pytest.mark.parametrize("protocol", ["calibrated", "paper"])
def test_the_quantities_of_each_metric_are_defined_on_the_same_images(protocol: str) -> None:
    # What a metric covers is what its first quantity covers (metrics.table.SODFormula).
    kind = {"calibrated": SODImageStats, "paper": PaperImageStats}[protocol]
    for metric in sod_metrics(protocol):
        rules = {kind.undefined_when.get(name, frozenset()) for name in metric.from_sod.quantities}
        assert len(rules) == 1, metric.key


def test_values_are_not_trivially_equal() -> None:
    # Guard against a comparison that passes because every map scores the same.
    rng = np.random.default_rng(5)
    first = sod_image_stats(*_map_pair("soft", rng))
    second = sod_image_stats(*_map_pair("all_black", rng))
    assert first.weighted_f != second.weighted_f and first.s_measure != second.s_measure
