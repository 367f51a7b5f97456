"""The paper protocol against a naive per-image, per-threshold reference and hand-worked cases."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evaluate import EvaluationInputError, evaluate_datasets, score_dataset
from protocol import level_counts
from metrics.calibration import (
    equal_width_bin_of_level,
    expected_calibration_error,
    joint_histogram,
    overconfidence_error,
    pixel_accuracy,
)
from metrics.measures import average_precision, roc_auc
from metrics.paper import level_cuts, paper_image_stats, s_measure, split_point
from protocol import PROTOCOLS
from tests.conftest import write_pairs

THRESHOLDS = np.linspace(0, 1 - 1e-10, 255)
PAPER_KEYS = ("ECE", "OE", "ACC", "MAE", "maxF", "meanF", "maxE", "meanE", "S", "AP", "AUC")


def naive_s_measure(s: np.ndarray, y: np.ndarray) -> float:
    if y.mean() == 0:
        return 1 - s.mean()
    if y.mean() == 1:
        return s.mean()
    g = (y >= 0.5).astype(np.float64)

    def object_score(values: np.ndarray) -> float:
        return 2 * values.mean() / (values.mean() ** 2 + 1 + values.std(ddof=1) + 1e-20)

    u = g.mean()
    s_object = u * object_score(s[g == 1]) + (1 - u) * object_score(1 - s[g == 0])
    rows, cols = g.shape
    x_split = int(np.round((g.sum(axis=0) * np.arange(cols)).sum() / g.sum()))
    y_split = int(np.round((g.sum(axis=1) * np.arange(rows)).sum() / g.sum()))

    def block(a: np.ndarray, b: np.ndarray) -> float:
        n = a.size
        x, yy = a.mean(), b.mean()
        sx = ((a - x) ** 2).sum() / (n - 1 + 1e-20)
        sy = ((b - yy) ** 2).sum() / (n - 1 + 1e-20)
        sxy = ((a - x) * (b - yy)).sum() / (n - 1 + 1e-20)
        alpha, beta = 4 * x * yy * sxy, (x * x + yy * yy) * (sx + sy)
        return alpha / (beta + 1e-20) if alpha != 0 else (1.0 if beta == 0 else 0.0)

    area = rows * cols
    w1, w2, w3 = x_split * y_split / area, (cols - x_split) * y_split / area, x_split * (rows - y_split) / area
    s_region = (
        w1 * block(s[:y_split, :x_split], g[:y_split, :x_split])
        + w2 * block(s[:y_split, x_split:], g[:y_split, x_split:])
        + w3 * block(s[y_split:, :x_split], g[y_split:, :x_split])
        + (1 - w1 - w2 - w3) * block(s[y_split:, x_split:], g[y_split:, x_split:])
    )
    return max(0.5 * s_object + 0.5 * s_region, 0.0)


def naive_paper(pairs: list[tuple[np.ndarray, np.ndarray]], n_bins: int = 10) -> dict[str, float]:
    """Written from the protocol's description, pixel by pixel and threshold by threshold."""
    curves = {key: np.zeros(255) for key in ("f", "e", "p", "r", "fpr")}
    mae, sm, conf_all, correct_all = [], [], [], []
    for pred, gt in pairs:
        p, y = pred / 255.0, gt / 255.0
        s = (p - p.min()) / (p.max() - p.min() + 1e-20)
        for i, t in enumerate(THRESHOLDS):
            b = (s >= t).astype(np.float64)
            tp = (b * y).sum()
            precision, recall = tp / (b.sum() + 1e-20), tp / (y.sum() + 1e-20)
            f = 1.3 * precision * recall / (0.3 * precision + recall) if precision + recall > 0 else 0.0
            fm, d = b - b.mean(), y - y.mean()
            align = 2 * d * fm / (d * d + fm * fm + 1e-20)
            curves["f"][i] += f
            curves["e"][i] += ((align + 1) ** 2 / 4).sum() / (y.size - 1 + 1e-20)
            curves["p"][i] += precision
            curves["r"][i] += recall
            curves["fpr"][i] += (b * (1 - y)).sum() / ((1 - y).sum() + 1e-20)
        mae.append(np.abs(p - y).mean())
        sm.append(naive_s_measure(s, y))
        conf_all.append(np.maximum(p, 1 - p).ravel())
        correct_all.append((((pred >= 128) & (gt == 255)) | ((pred < 128) & (gt == 0))).ravel())
    mean = {key: value / len(pairs) for key, value in curves.items()}

    # VOC envelope, written as a loop on purpose.
    recall = np.concatenate(([0.0], mean["r"], [1.0]))
    precision = np.concatenate(([0.0], mean["p"], [0.0]))
    order = np.argsort(recall)
    recall, precision = recall[order], precision[order]
    for i in range(len(precision) - 1, 0, -1):
        precision[i - 1] = max(precision[i - 1], precision[i])
    steps = [i for i in range(len(recall) - 1) if recall[i + 1] != recall[i]]
    ap = sum((recall[i + 1] - recall[i]) * precision[i + 1] for i in steps)
    roc = np.lexsort((mean["r"], mean["fpr"]))

    conf, correct = np.concatenate(conf_all), np.concatenate(correct_all)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = oe = 0.0
    for lower, upper in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lower) & (conf <= upper)
        if inside.any():
            c, a, w = conf[inside].mean(), correct[inside].mean(), inside.mean()
            ece += w * abs(c - a)
            oe += w * c * max(c - a, 0.0)
    return {
        "ECE": ece,
        "OE": oe,
        "ACC": correct.mean(),
        "MAE": float(np.mean(mae)),
        "maxF": mean["f"].max(),
        "meanF": mean["f"].mean(),
        "maxE": mean["e"].max(),
        "meanE": mean["e"].mean(),
        "S": float(np.mean(sm)),
        "AP": ap,
        "AUC": np.trapezoid(mean["r"][roc], mean["fpr"][roc]),
    }


def _soft_pair(rng: np.random.Generator, shape: tuple[int, int], stretched: bool) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    distance = np.hypot((yy - shape[0] * rng.uniform(0.3, 0.7)) / (shape[0] / 4), (xx - shape[1] / 2) / (shape[1] / 4))
    gt = cv2.GaussianBlur(((distance < 1) * 255).astype(np.uint8), (5, 5), 0)  # soft edges
    prob = 1 / (1 + np.exp((distance - 1) * rng.uniform(2, 8))) * rng.uniform(0.4, 1) + rng.normal(0, 0.08, shape)
    prob = np.clip(prob, 0, 1)
    if stretched:  # the authors' maps: 255 (p - min) / (max - min + 1e-8)
        prob = (prob - prob.min()) / (prob.max() - prob.min() + 1e-8)
    return np.rint(prob * 255).astype(np.uint8), gt


def _write(folder: Path, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Path, Path]:
    return write_pairs(folder / "pred", folder / "gt", pairs, stem="{:02d}")


@pytest.mark.parametrize("stretched", [True, False])
def test_matches_naive_reference(tmp_path: Path, stretched: bool) -> None:
    rng = np.random.default_rng(int(stretched))
    pairs = [_soft_pair(rng, (int(rng.integers(20, 40)), int(rng.integers(20, 40))), stretched) for _ in range(5)]
    empty = pairs[0][1].copy()
    empty[:] = 0
    pairs.append((pairs[0][0], empty))
    expected = naive_paper(pairs)
    got = score_dataset(*_write(tmp_path, pairs), workers=1, protocol="paper")
    assert got["protocol"] == "paper"
    for key in PAPER_KEYS:
        assert got[key] == pytest.approx(expected[key], abs=1e-4), key
    for key in ("adpF", "wF", "adpE", "AECE", "NLL", "probabilities_ECE"):
        assert got[key] is None, key


def test_soft_mask_pixels_count_as_wrong_in_the_paper_acc() -> None:
    # Levels 255 (mask 255, right), 200 (mask 128: soft, wrong in paper, right when thresholded),
    # 100 (mask 0, right), 0 (mask 0, right).
    pred = np.array([[255, 200, 100, 0]], np.uint8)
    gt = np.array([[255, 128, 0, 0]], np.uint8)
    paper = PROTOCOLS["paper"].counts_from_joint(joint_histogram(pred, gt))
    calibrated = level_counts(pred, gt)
    assert pixel_accuracy(paper) == 0.75 and pixel_accuracy(calibrated) == 1.0
    assert expected_calibration_error(paper) == pytest.approx((200 + 100) / 1020, abs=1e-15)
    assert overconfidence_error(paper) == pytest.approx((200 / 255) ** 2 / 4, abs=1e-15)
    assert expected_calibration_error(calibrated) == pytest.approx((55 + 100) / 1020, abs=1e-15)


def test_paper_binning_equals_torch_float32_for_ten_bins() -> None:
    torch = pytest.importorskip("torch")
    p = torch.arange(256, dtype=torch.uint8) / 255.0
    confidence = torch.maximum(p, 1.0 - p)
    edges = torch.linspace(0, 1, steps=11)
    theirs = np.full(256, -1)
    for j in range(10):
        theirs[((confidence > edges[j]) & (confidence <= edges[j + 1])).numpy()] = j
    assert theirs.tolist() == equal_width_bin_of_level(10).tolist()


def test_stretching_changes_the_decision_but_not_mae() -> None:
    # Stretched, level 100 of a 60..100 map is 1: it passes every threshold, although 100/255 < 0.5.
    pred = np.array([[60, 100]], np.uint8)
    gt = np.array([[0, 255]], np.uint8)
    cuts = level_cuts(60, 100)
    assert cuts[0] == 60 and cuts[127] == 80 and cuts[254] == 100
    stats = paper_image_stats(pred, gt, joint_histogram(pred, gt))
    assert stats.f_curve[1:].min() == pytest.approx(1.0) and stats.f_curve[0] < 1
    assert stats.mae == pytest.approx((60 + 155) / 510, abs=1e-15)  # unstretched: not 0


def test_level_cuts_of_constant_and_full_range_maps() -> None:
    assert level_cuts(7, 7).tolist() == [7] + [256] * 254
    full = level_cuts(0, 255)
    # Level v passes i/254 iff 254 v >= 255 i.
    assert all(full[i] == math.ceil(255 * i / 254) for i in range(255))


def test_average_precision_by_hand() -> None:
    precision = np.array([1.0, 0.5, 0.6, 0.4])
    recall = np.array([0.2, 0.6, 0.6, 1.0])
    # Envelope over recall 0, .2, .6, 1: 1, .6, .4 -> .2 * 1 + .4 * .6 + .4 * .4.
    assert average_precision(precision, recall) == pytest.approx(0.6, abs=1e-15)
    assert average_precision(precision[::-1], recall[::-1]) == pytest.approx(0.6, abs=1e-15)


def test_auc_by_hand_sorted_by_fpr() -> None:
    fpr = np.array([0.5, 0.0, 0.0, 1.0, 0.2])
    tpr = np.array([1.0, 0.4, 0.2, 1.0, 0.8])
    # (0, .2) (0, .4) (.2, .8) (.5, 1) (1, 1): .2 * .6 + .3 * .9 + .5 * 1.
    assert roc_auc(tpr, fpr) == pytest.approx(0.89, abs=1e-15)


def test_s_measure_centroid_is_rounded_half_even_without_plus_one() -> None:
    fg = np.zeros((5, 6), bool)
    fg[1:3, 2:4] = True  # mean column 2.5, mean row 1.5
    assert split_point(fg) == (2, 2)
    fg[:, :] = False
    fg[0:2, 3:5] = True  # mean row 0.5 -> 0: the top blocks are empty
    assert split_point(fg) == (4, 0)
    pred = np.tile(np.arange(6, dtype=np.uint8) * 40, (5, 1))
    # An empty block gives NaN in the authors' code, and here.
    assert math.isnan(s_measure(pred, fg.astype(np.uint8) * 255, 0, 200))


def test_perfect_map_gives_ap_and_auc_one_in_both_protocols(tmp_path: Path) -> None:
    gt = np.zeros((20, 30), np.uint8)
    gt[5:15, 8:20] = 255
    pred_dir, gt_dir = _write(tmp_path, [(gt, gt), (gt[::-1].copy(), gt[::-1].copy())])
    for protocol in ("paper", "calibrated"):
        metrics = score_dataset(pred_dir, gt_dir, workers=1, protocol=protocol)
        assert metrics["AP"] == pytest.approx(1.0) and metrics["AUC"] == pytest.approx(1.0), protocol


def test_probability_maps_give_the_probabilities_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    raw_pairs = [_soft_pair(rng, (24, 32), stretched=False) for _ in range(3)]
    stretched = [((p - p.min()) * 255.0 / (p.max() - p.min())).round().astype(np.uint8) for p, _ in raw_pairs]
    pred_dir, gt_dir = _write(tmp_path / "paper", [(s, g) for s, (_, g) in zip(stretched, raw_pairs, strict=True)])
    probability_dir, _ = _write(tmp_path / "raw", raw_pairs)
    paper = score_dataset(pred_dir, gt_dir, workers=1, probability_dir=probability_dir)
    calibrated = score_dataset(probability_dir, gt_dir, workers=1, protocol="calibrated")
    for key in ("ECE", "OE", "ACC", "NLL", "ECE_boundary"):
        assert paper[f"probabilities_{key}"] == calibrated[key], key
        assert calibrated[f"probabilities_{key}"] is None
    assert paper["ECE"] != calibrated["ECE"]
    assert calibrated["protocol"] == "calibrated"


def test_missing_probability_map_is_an_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    pairs = [_soft_pair(rng, (16, 16), stretched=True) for _ in range(2)]
    pred_dir, gt_dir = _write(tmp_path / "a", pairs)
    probability_dir, _ = _write(tmp_path / "b", pairs[:1])
    with pytest.raises(EvaluationInputError, match="no probability map"):
        score_dataset(pred_dir, gt_dir, workers=1, probability_dir=probability_dir)
    with pytest.raises(EvaluationInputError, match="calibrated protocol scores the probability maps themselves"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol="calibrated", probability_dir=probability_dir)


def test_resized_map_is_left_out_of_ece_and_resized_with_pil(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    (pred_a, gt_a), (pred_b, gt_b) = _soft_pair(rng, (30, 40), True), _soft_pair(rng, (30, 40), True)
    small = cv2.resize(pred_b, (20, 15), interpolation=cv2.INTER_AREA)
    pred_dir, gt_dir = _write(tmp_path, [(pred_a, gt_a), (small, gt_b)])
    metrics = score_dataset(pred_dir, gt_dir, workers=1)
    assert metrics["n_resized"] == 1 and metrics["n_pixels"] == pred_a.size
    assert metrics["ECE"] == pytest.approx(naive_paper([(pred_a, gt_a)])["ECE"], abs=1e-12)
    pil = np.asarray(Image.fromarray(small).resize((40, 30), Image.Resampling.BILINEAR))
    assert metrics["MAE"] == pytest.approx(naive_paper([(pred_a, gt_a), (pil, gt_b)])["MAE"], abs=1e-12)


def test_report_names_the_protocol(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    _write(tmp_path / "in" / "A", [_soft_pair(rng, (16, 20), True) for _ in range(2)])
    (tmp_path / "pred").mkdir()
    (tmp_path / "in" / "A" / "pred").rename(tmp_path / "pred" / "A")
    (tmp_path / "in" / "A" / "gt").rename(tmp_path / "in" / "A" / "GT")
    results = evaluate_datasets(tmp_path / "pred", tmp_path / "in", ["A"], tmp_path / "out", workers=1)
    assert results["A"]["protocol"] == "paper"
    report = (tmp_path / "out" / "results.md").read_text()
    assert "Calibration, paper protocol" in report and "Saliency metrics, paper protocol" in report
    assert "**Paper protocol**" in report and "**Calibrated protocol**" in report
