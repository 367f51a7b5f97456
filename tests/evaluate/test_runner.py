"""Whole-set scoring: worker merging, pooled values, out-of-distribution sets and the written reports."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluate import EvaluationInputError, evaluate_datasets, run_evaluation, score_dataset
from metrics.boundary import BOUNDARY_WIDTH, boundary_band
from metrics.calibration import expected_calibration_error
from metrics.table import BOUNDARY, IMAGE, PROBABILITIES, REST, calibration_metrics, result_key, sod_metrics
from protocol import PROBABILITY_PROTOCOL, level_counts
from report.tables import is_report_output
from tests.conftest import write_pairs

# Every key of the probability maps beside the test maps: the probability protocol's whole-set, per-image,
# band and rest values.
BOUNDARY_KEYS = ("boundary_fraction", "ECE_boundary", "OE_boundary", "ECE_rest", "OE_rest")
PROBABILITY_KEYS = [
    result_key(m.key, scope, statistic, probabilities=True)
    for scope in ("set", IMAGE, BOUNDARY, REST)
    for m in calibration_metrics(PROBABILITY_PROTOCOL.name, scope)
    for statistic in (("mean", "std", "median", "p90") if scope == IMAGE else ("mean",))
] + [result_key("boundary_fraction", probabilities=True)]

REQUIRED_KEYS = [
    "protocol", "ECE", "OE", "ACC", "AECE", "dECE", "NLL", "Brier", "mean_saliency", "maxF", "meanF", "adpF", "wF",
    "MAE", "S", "maxE", "meanE", "adpE", "AP", "AUC",
]  # fmt: skip


def _write_set(pred_dir: Path, gt_dir: Path, n: int, seed: int, empty_masks: bool = False) -> list[tuple]:
    """Soft noisy maps of varying sizes; returns the (pred, gt) arrays written."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        height, width = int(rng.integers(30, 70)), int(rng.integers(30, 70))
        yy, xx = np.mgrid[:height, :width]
        distance = np.hypot((yy - height / 2) / (height / 4), (xx - width / 2) / (width / 3))
        gt = cv2.GaussianBlur(((distance < 1) * 255).astype(np.uint8), (3, 3), 0)
        soft = 1 / (1 + np.exp((distance - 1 + rng.uniform(-0.4, 0.4)) * rng.uniform(2, 15)))
        pred = np.clip(soft * 255 + rng.normal(0, 15, gt.shape), 0, 255).astype(np.uint8)
        if empty_masks:
            gt[:] = 0
            pred = (pred * rng.uniform(0.05, 0.4)).astype(np.uint8)
        pairs.append((pred, gt))
    write_pairs(pred_dir, gt_dir, pairs, stem="{:03d}")
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
    assert metrics["ECE_img_std"] == pytest.approx(np.std(per_image), abs=1e-14)
    assert metrics["n_images"] == 6 and metrics["n_empty_masks"] == 0
    # The boundary band, pooled over the images' own bands (default width).
    bands = [boundary_band(g, BOUNDARY_WIDTH) for _, g in pairs]
    band_pred = np.concatenate([p[b] for (p, _), b in zip(pairs, bands, strict=True)])[None]
    band_gt = np.concatenate([g[b] for (_, g), b in zip(pairs, bands, strict=True)])[None]
    assert metrics["boundary_width"] == BOUNDARY_WIDTH
    assert metrics["boundary_fraction"] == pytest.approx(band_pred.size / pred.size, abs=1e-15)
    assert metrics["ECE_boundary"] == pytest.approx(expected_calibration_error(level_counts(band_pred, band_gt)),
                                                    abs=1e-14)
    rest_pred = np.concatenate([p[~b] for (p, _), b in zip(pairs, bands, strict=True)])[None]
    rest_gt = np.concatenate([g[~b] for (_, g), b in zip(pairs, bands, strict=True)])[None]
    assert metrics["ECE_rest"] == pytest.approx(expected_calibration_error(level_counts(rest_pred, rest_gt)), abs=1e-14)


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
    # Calibration, boundary band (empty masks: no band, so band ECE / OE are n/a) and SOD tables.
    assert len(dtd_rows) == 3 and "n/a" in dtd_rows[1] and "n/a" in dtd_rows[2]
    assert "out-of-distribution" in report
    assert_curves_written(out, "calibrated", ["SOD"], results)


def test_reports_and_plots_are_written(tmp_path: Path) -> None:
    for name, seed in (("A", 4), ("B", 5)):
        _write_set(tmp_path / "pred" / name, tmp_path / "gt" / name, n=3, seed=seed)
    out = tmp_path / "out"
    results = evaluate_datasets(
        tmp_path / "pred", tmp_path / "gt", ["A", "B"], out, workers=1, n_bins=15, protocol="calibrated"
    )

    assert list(results) == ["A", "B"]
    for metrics in results.values():
        # In this order (other metrics may come between), the whole-set values first.
        assert [key for key in metrics if key in REQUIRED_KEYS] == REQUIRED_KEYS
        assert list(metrics).index("AUC") < list(metrics).index("ECE_boundary")
        assert metrics["n_images"] == 3
        for key in REQUIRED_KEYS[1:]:
            if key != "NLL":
                assert 0.0 <= metrics[key] <= 1.0, key
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [row["dataset"] for row in rows] == ["A", "B"]
    assert float(rows[1]["ECE"]) == results["B"]["ECE"]
    names = ("reliability_A_as_given.png", "reliability_B_as_given.png", "reliability_as_given_all_sets.png")
    for name in names:
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 300 and image.shape[1] > 300, name
    assert all(is_report_output(path.name) for path in out.iterdir())
    report = (out / "results.md").read_text()
    assert "15 equal-width bins" in report and all(f"({name})" in report for name in names)
    assert "Calibration, calibrated protocol" in report and "Saliency metrics, calibrated protocol" in report
    # Where each metric is defined, not a second copy of the formulas.
    assert "metrics/calibration.py" in report and "metrics/sod.py" in report and "sum_j" not in report
    assert "metrics/table.py" in report


def assert_curves_written(out: Path, protocol: str, sets: list[str], results: dict) -> None:
    """curves.json: the protocol, the sets with objects only, aligned arrays, ascending thresholds."""
    written = json.loads((out / "curves.json").read_text())
    assert written["protocol"] == protocol and list(written["sets"]) == sets
    for name in sets:
        curves = {key: np.array(values) for key, values in written["sets"][name].items()}
        assert sorted(curves) == ["f_measure", "fpr", "precision", "recall", "threshold"]
        assert len({values.size for values in curves.values()}) == 1
        threshold = curves["threshold"]
        assert threshold[0] == 0 and threshold[-1] <= 1 and (np.diff(threshold) > 0).all()
        assert curves["f_measure"].max() == pytest.approx(results[name]["maxF"], abs=1e-12)
        # At the lowest threshold every pixel is predicted; recall falls as the threshold rises.
        assert curves["recall"][0] == pytest.approx(1.0) and curves["fpr"][0] == pytest.approx(1.0)
        assert (np.diff(curves["recall"]) <= 1e-12).all()


def test_paper_coverage_of_each_metric_is_reported(tmp_path: Path) -> None:
    _write_set(tmp_path / "pred", tmp_path / "gt", n=3, seed=8)
    small = cv2.imread(str(tmp_path / "pred" / "001.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / "pred" / "001.png"), cv2.resize(small, (12, 10)))
    out = tmp_path / "out"
    results = run_evaluation([("S", tmp_path / "pred", tmp_path / "gt")], out, workers=1, protocol="paper")
    assert results["S"]["n_images"] == 3 and results["S"]["n_images_calibration"] == 2
    report = (out / "results.md").read_text()
    calibration_row, sod_row = [line for line in report.splitlines() if line.startswith("| S ")]
    assert calibration_row.split("|")[2].strip() == "2" and sod_row.split("|")[2].strip() == "3"
    assert "the calibration metrics and the mean saliency cover 2 of 3 images" in report
    calibrated = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, protocol="calibrated")
    assert calibrated["n_images_calibration"] == 3


def test_paper_e_measure_is_na_on_empty_masks_and_constant_maps_get_a_note(tmp_path: Path) -> None:
    _write_set(tmp_path / "pred", tmp_path / "gt", n=3, seed=9, empty_masks=True)
    for path in (tmp_path / "pred").iterdir():
        cv2.imwrite(str(path), np.zeros((20, 20), np.uint8))
    out = tmp_path / "out"
    results = run_evaluation([("T", tmp_path / "pred", tmp_path / "gt")], out, workers=1, protocol="paper",
                             trust_map_levels=False)
    for key in ("maxE", "meanE", "maxF", "S", "AP", "AUC"):
        assert results["T"][key] is None, key
    assert results["T"]["MAE"] == 0 and results["T"]["n_constant_maps"] == 3
    notes = (out / "results.md").read_text().splitlines()
    note = next(line for line in notes if "every prediction map is constant" in line)
    # The metrics it names are the table's, each that summarises the threshold curves.
    curves = re.search(r"so (.*) say nothing", note).group(1)
    assert re.split(r", | and ", curves) == [m.key for m in sod_metrics("paper") if m.from_sod.of_curves]


def test_maps_of_levels_0_and_1_are_refused_with_the_way_through(tmp_path: Path) -> None:
    pairs = _write_set(tmp_path / "pred", tmp_path / "gt", n=3, seed=10)
    for index, (pred, _) in enumerate(pairs):
        cv2.imwrite(str(tmp_path / "pred" / f"{index:03d}.png"), (pred >= 200).astype(np.uint8))
    with pytest.raises(EvaluationInputError, match=r"3 maps .*pred hold only the levels 0 and 1.*multiply.*"
                                                   r"--trust-map-levels"):
        score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, protocol="calibrated")
    trusted = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, protocol="calibrated",
                            trust_map_levels=True)
    assert trusted["n_images"] == 3 and trusted["ACC"] < 1


def test_paper_draws_the_stretched_and_the_probability_maps(tmp_path: Path) -> None:
    pairs = _write_set(tmp_path / "probabilities", tmp_path / "gt", n=2, seed=11)
    (tmp_path / "pred").mkdir()
    for index, (probability, _) in enumerate(pairs):
        stretched = (probability - probability.min()) * 255.0 / (probability.max() - probability.min())
        cv2.imwrite(str(tmp_path / "pred" / f"{index:03d}.png"), stretched.round().astype(np.uint8))
    out = tmp_path / "out"
    results = run_evaluation([("S", tmp_path / "pred", tmp_path / "gt")], out, workers=1, protocol="paper",
                             probability_dirs={"S": tmp_path / "probabilities"})
    report = (out / "results.md").read_text()
    # Maps without a maps.json are someone else's: scored as the protocol says, titled as given.
    for name in ("reliability_S_as_given.png", "reliability_S_probabilities_as_given.png"):
        assert (out / name).is_file() and f"({name})" in report, name
    assert "Maps as given (S: no maps.json says what they are" in report and results["S"]["maps"] == "as_given"
    assert_curves_written(out, "paper", ["S"], results)


def _write_stretched(probability_dir: Path, pred_dir: Path) -> None:
    """The maps of ``probability_dir`` min-max stretched, as the paper protocol's test maps."""
    pred_dir.mkdir(parents=True)
    for path in sorted(probability_dir.iterdir()):
        probability = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float64)
        stretched = (probability - probability.min()) * 255.0 / (probability.max() - probability.min())
        cv2.imwrite(str(pred_dir / path.name), stretched.round().astype(np.uint8))


def test_boundary_band_and_image_ece_of_the_probability_maps_under_both_protocols(tmp_path: Path) -> None:
    _write_set(tmp_path / "probabilities" / "S", tmp_path / "gt" / "S", n=4, seed=12)
    _write_stretched(tmp_path / "probabilities" / "S", tmp_path / "pred" / "S")
    paper = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["S"], tmp_path / "paper", workers=1,
                              protocol="paper", probability_root=tmp_path / "probabilities", boundary_width=3)["S"]
    calibrated = evaluate_datasets(tmp_path / "probabilities", tmp_path / "gt", ["S"], tmp_path / "calibrated",
                                   workers=1, protocol="calibrated", boundary_width=3)["S"]
    # The same keys under both protocols, each written to results.json.
    assert list(paper) == list(calibrated)
    for out, results in ((tmp_path / "paper", paper), (tmp_path / "calibrated", calibrated)):
        assert json.loads((out / "results.json").read_text())["S"] == results
    assert paper["boundary_width"] == calibrated["boundary_width"] == 3
    # Under the paper protocol the probability maps carry them (probabilities_*), the stretched maps none;
    # they equal the calibrated protocol's values of the same maps, and so does every other value of those.
    for metric in (*BOUNDARY_KEYS, "ECE_img_mean", "ECE_img_std", "ECE_img_p90"):
        assert paper[metric] is None, metric
        assert calibrated[f"{PROBABILITIES}_{metric}"] is None, metric
        assert isinstance(calibrated[metric], float), metric
    for key in PROBABILITY_KEYS:
        plain = key.removeprefix(f"{PROBABILITIES}_")
        assert paper[key] == pytest.approx(calibrated[plain], rel=0, abs=1e-15), key
    assert {f"{PROBABILITIES}_{metric}" for metric in BOUNDARY_KEYS} <= set(PROBABILITY_KEYS)
    assert 0 < calibrated["boundary_fraction"] < 1
    wider = score_dataset(tmp_path / "probabilities" / "S", tmp_path / "gt" / "S", workers=1, protocol="calibrated")
    assert wider["boundary_width"] == BOUNDARY_WIDTH and wider["boundary_fraction"] > calibrated["boundary_fraction"]
    band = ["boundary pixels %", "boundary ECE %", "boundary OE %", "rest ECE %", "rest OE %"]
    for out, columns in (("paper", [f"{title} ({PROBABILITIES})" for title in band]), ("calibrated", band)):
        report = (tmp_path / out / "results.md").read_text()
        assert "## Calibration in the boundary band (3 px) and the rest" in report, out
        assert any(is_subsequence(columns, header) for header in table_headers(report)), out
        assert "metrics/boundary.py" in report, out
    paper_headers = table_headers((tmp_path / "paper" / "results.md").read_text())
    assert paper_headers[0] == ["images", "ECE %", "OE %", "ACC %", "mean saliency"]
    assert is_subsequence(["images", *(f"{title} % ({PROBABILITIES})" for title in ("ECE", "OE", "ACC"))], paper_headers[1])


def is_subsequence(items: list[str], sequence: list[str]) -> bool:
    remaining = iter(sequence)
    return all(item in remaining for item in items)


def table_headers(report: str) -> list[list[str]]:
    """The column titles of each table of a report, the Dataset column left out."""
    return [[cell.strip() for cell in line.split("|")[2:-1]] for line in report.splitlines()
            if line.startswith("| Dataset ")]


def test_paper_protocol_with_probability_maps_two_workers_equal_one(tmp_path: Path) -> None:
    _write_set(tmp_path / "probabilities", tmp_path / "gt", n=16, seed=13)
    _write_stretched(tmp_path / "probabilities", tmp_path / "pred")
    options = {"protocol": "paper", "probability_dir": tmp_path / "probabilities", "boundary_width": 2}
    single = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, **options)
    parallel = score_dataset(tmp_path / "pred", tmp_path / "gt", workers=2, **options)
    assert single.keys() == parallel.keys()
    # The probability maps' metrics come from merged counts and per-image lists: exactly equal.
    for key in PROBABILITY_KEYS:
        assert isinstance(single[key], float) and parallel[key] == single[key], key
    for key, value in single.items():
        assert parallel[key] == (pytest.approx(value, rel=0, abs=1e-12) if isinstance(value, float) else value), key


@pytest.mark.parametrize("width", [0, 1.5])
def test_a_boundary_width_that_is_not_a_positive_integer_is_refused(tmp_path: Path, width: float) -> None:
    _write_set(tmp_path / "pred", tmp_path / "gt", n=1, seed=14)
    with pytest.raises(EvaluationInputError, match="boundary band's width must be a positive integer"):
        score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, boundary_width=width)  # type: ignore[arg-type]


def test_band_and_rest_values_that_are_n_a_say_why(tmp_path: Path) -> None:
    # Found by tests/evaluate/test_properties.py: an empty or full mask has no band, a mask of a few pixels no
    # rest, and their values were None without a word.
    for name, gt in (("flat", np.zeros((20, 20), np.uint8)), ("small", np.eye(3, dtype=np.uint8) * 255)):
        for folder in ("pred", "gt"):
            (tmp_path / name / folder).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / name / "pred" / "a.png"), np.full(gt.shape, 90, np.uint8))
        cv2.imwrite(str(tmp_path / name / "gt" / "a.png"), gt)
    flat = run_evaluation([("flat", tmp_path / "flat" / "pred", tmp_path / "flat" / "gt")], tmp_path / "out_flat",
                          protocol="calibrated", workers=1)["flat"]
    small = run_evaluation([("small", tmp_path / "small" / "pred", tmp_path / "small" / "gt")], tmp_path / "out_small",
                           protocol="calibrated", workers=1)["small"]
    assert flat["ECE_boundary"] is None and flat["ECE_rest"] is not None
    assert small["ECE_rest"] is None and small["ECE_boundary"] is not None
    assert ("ECE_boundary, MCE_boundary, CECE_boundary and OE_boundary are n/a: no mask has both object and "
            "background pixels, so none has a boundary") in (tmp_path / "out_flat" / "results.md").read_text()
    assert ("ECE_rest, MCE_rest, CECE_rest and OE_rest are n/a: every pixel lies within 5 px of a mask's object "
            "boundary") in (tmp_path / "out_small" / "results.md").read_text()


def test_more_bins_than_change_a_value_are_refused_before_any_folder_is_read(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="n_bins must be an integer from 1 to 256 .*, got 1000000000"):
        score_dataset(tmp_path / "missing", tmp_path / "missing", n_bins=10**9)
