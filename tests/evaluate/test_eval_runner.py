"""Whole-set scoring: worker merging, pooled values, out-of-distribution sets and the written reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluate import evaluate_datasets, expected_calibration_error, level_counts, score_dataset

REQUIRED_KEYS = [
    "protocol", "ECE", "OE", "ACC", "AECE", "dECE", "NLL", "Brier", "maxF", "meanF", "adpF", "wF", "MAE", "S",
    "maxE", "meanE", "adpE", "AP", "AUC", "n_images",
]  # fmt: skip


def _write_set(pred_dir: Path, gt_dir: Path, n: int, seed: int, empty_masks: bool = False) -> list[tuple]:
    """Soft noisy maps of varying sizes; returns the (pred, gt) arrays written."""
    rng = np.random.default_rng(seed)
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    pairs = []
    for index in range(n):
        height, width = int(rng.integers(30, 70)), int(rng.integers(30, 70))
        yy, xx = np.mgrid[:height, :width]
        distance = np.hypot((yy - height / 2) / (height / 4), (xx - width / 2) / (width / 3))
        gt = cv2.GaussianBlur(((distance < 1) * 255).astype(np.uint8), (3, 3), 0)
        soft = 1 / (1 + np.exp((distance - 1 + rng.uniform(-0.4, 0.4)) * rng.uniform(2, 15)))
        pred = np.clip(soft * 255 + rng.normal(0, 15, gt.shape), 0, 255).astype(np.uint8)
        if empty_masks:
            gt[:] = 0
            pred = (pred * rng.uniform(0.05, 0.4)).astype(np.uint8)
        cv2.imwrite(str(pred_dir / f"{index:03d}.png"), pred)
        cv2.imwrite(str(gt_dir / f"{index:03d}.png"), gt)
        pairs.append((pred, gt))
    return pairs


@pytest.mark.parametrize("protocol", ["paper", "calibrated"])
def test_two_workers_equal_one_pass(tmp_path: Path, protocol: str) -> None:
    _write_set(tmp_path / "pred", tmp_path / "gt", n=37, seed=0)
    # One prediction of the wrong size and one in colour, so that the merged notes are exercised too.
    small = cv2.imread(str(tmp_path / "pred" / "005.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / "pred" / "005.png"), cv2.resize(small, (20, 20)))
    grey = cv2.imread(str(tmp_path / "pred" / "030.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / "pred" / "030.png"), cv2.merge([grey] * 3))
    single = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, protocol=protocol)
    parallel = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=2, protocol=protocol)
    assert single.keys() == parallel.keys()
    assert single["n_resized"] == 1 and single["n_converted"] == 1
    assert single["protocol"] == parallel["protocol"] == protocol
    for key, value in single.items():
        if isinstance(value, float):
            assert parallel[key] == pytest.approx(value, abs=1e-12, rel=0), key
        else:
            assert parallel[key] == value, key


def test_pooled_values_and_per_image_ece(tmp_path: Path) -> None:
    pairs = _write_set(tmp_path / "pred", tmp_path / "gt", n=6, seed=1)
    metrics = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, protocol="calibrated")
    pred = np.concatenate([p.ravel() for p, _ in pairs])[None]
    gt = np.concatenate([g.ravel() for _, g in pairs])[None]
    # Pooled over pixels, not averaged over images.
    assert metrics["ECE"] == pytest.approx(expected_calibration_error(level_counts(pred, gt)), abs=1e-14)
    assert metrics["ACC"] == pytest.approx(np.mean((pred >= 128) == (gt >= 128)), abs=1e-14)
    assert metrics["mean_saliency"] == pytest.approx(np.mean(pred / 255), abs=1e-14)
    assert metrics["n_pixels"] == pred.size
    per_image = [expected_calibration_error(level_counts(p, g)) for p, g in pairs]
    assert metrics["ECE_img_mean"] == pytest.approx(np.mean(per_image), abs=1e-14)
    assert metrics["ECE_img_median"] == pytest.approx(np.median(per_image), abs=1e-14)
    assert metrics["ECE_img_p90"] == pytest.approx(np.percentile(per_image, 90), abs=1e-14)
    assert metrics["n_images"] == 6 and metrics["n_empty_masks"] == 0


def test_ood_set_reports_mean_saliency_instead_of_f_and_s(tmp_path: Path) -> None:
    _write_set(tmp_path / "pred" / "SOD", tmp_path / "data" / "SOD" / "GT", n=4, seed=2)
    ood = _write_set(tmp_path / "pred" / "DTD", tmp_path / "data" / "DTD" / "GT", n=5, seed=3, empty_masks=True)
    out = tmp_path / "report"
    results = evaluate_datasets(
        tmp_path / "pred", tmp_path / "data", ["SOD", "DTD"], out, workers=2, protocol="calibrated"
    )

    for key in ("maxF", "meanF", "adpF", "wF", "S", "AP", "AUC"):
        assert results["DTD"][key] is None, key
        assert isinstance(results["SOD"][key], float), key
    for key in ("ECE", "OE", "ACC", "MAE", "maxE", "meanE", "adpE"):
        assert isinstance(results["DTD"][key], float), key
    expected_saliency = np.mean(np.concatenate([p.ravel() for p, _ in ood]) / 255)
    assert results["DTD"]["mean_saliency"] == pytest.approx(expected_saliency, abs=1e-14)
    assert results["DTD"]["n_empty_masks"] == 5

    written = json.loads((out / "results.json").read_text())
    assert written == results
    assert written["DTD"]["maxF"] is None
    report = (out / "results.md").read_text()
    dtd_rows = [line for line in report.splitlines() if line.startswith("| DTD")]
    assert len(dtd_rows) == 2 and "n/a" in dtd_rows[1]
    assert "out-of-distribution" in report


def test_reports_and_plots_are_written(tmp_path: Path) -> None:
    for name, seed in (("A", 4), ("B", 5)):
        _write_set(tmp_path / "pred" / name, tmp_path / "gt" / name, n=3, seed=seed)
    out = tmp_path / "out"
    results = evaluate_datasets(
        tmp_path / "pred", tmp_path / "gt", ["A", "B"], out, workers=1, n_bins=15, protocol="calibrated"
    )

    assert list(results) == ["A", "B"]
    for metrics in results.values():
        assert list(metrics)[: len(REQUIRED_KEYS)] == REQUIRED_KEYS
        assert metrics["n_images"] == 3
        for key in REQUIRED_KEYS[1:-1]:
            if key != "NLL":
                assert 0.0 <= metrics[key] <= 1.0, key
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [row["dataset"] for row in rows] == ["A", "B"]
    assert float(rows[1]["ECE"]) == results["B"]["ECE"]
    for name in ("reliability_A.png", "reliability_B.png", "reliability_all.png"):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 300 and image.shape[1] > 300, name
    report = (out / "results.md").read_text()
    assert "15 equal-width bins" in report and "reliability_all.png" in report
    assert "Calibration, calibrated protocol" in report and "Saliency metrics, calibrated protocol" in report
