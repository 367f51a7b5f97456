"""The protocol object: the pixel rule on numpy and torch, the test maps bit for bit, a third protocol."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluate import EvaluationInputError, score_dataset
from metrics import table
from metrics.calibration import joint_histogram
from protocol import DEFAULT_PROTOCOL, PROTOCOLS, get_protocol, mask_thresholded, probability_map
from tests.conftest import PROJECT_ROOT, write_pairs

PAPER, CALIBRATED = PROTOCOLS["paper"], PROTOCOLS["calibrated"]
MASK_LEVELS = np.arange(256, dtype=np.uint8)


def documented_rule(protocol_name: str, decision: bool, level: int) -> bool:
    """The rules as the protocols' documentation states them, one pixel at a time."""
    if protocol_name == "paper":  # the binarised map must equal the mask level: soft levels are wrong
        return level == (255 if decision else 0)
    return decision == (level >= 128)


def every_pixel_kind() -> tuple[np.ndarray, np.ndarray]:
    """Every (decision, mask level) pair once: decisions False then True, each against levels 0..255."""
    return np.repeat([False, True], 256), np.tile(MASK_LEVELS, 2)


@pytest.mark.parametrize("name", ["paper", "calibrated"])
def test_pixel_correct_is_the_documented_rule_on_numpy_and_torch(name: str) -> None:
    protocol = get_protocol(name)
    decision, mask = every_pixel_kind()
    expected = [documented_rule(name, bool(d), int(g)) for d, g in zip(decision, mask, strict=True)]
    got = protocol.pixel_correct(decision, mask)
    assert got.dtype == bool and got.tolist() == expected
    torch = pytest.importorskip("torch")
    on_torch = protocol.pixel_correct(torch.from_numpy(decision), torch.from_numpy(mask))
    assert on_torch.dtype == torch.bool and on_torch.tolist() == expected
    # The calibration counts use the same rule, through the (decision, mask level) table.
    assert protocol.correct_table.ravel().tolist() == expected


def test_the_rules_differ_only_on_soft_mask_levels() -> None:
    decision, mask = every_pixel_kind()
    differs = PAPER.pixel_correct(decision, mask) != CALIBRATED.pixel_correct(decision, mask)
    assert set(mask[differs].tolist()) == set(range(1, 255))


def random_probabilities(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probability = rng.random((37, 53), dtype=np.float32)
    # Values whose 255 p lies on a tie of rounding, and the ends of the range.
    probability[0, :4] = np.float32([0.5 / 255, 2.5 / 255, 0.0, 1.0])
    return probability


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probability_map_is_torch_round_of_255_p(seed: int) -> None:
    torch = pytest.importorskip("torch")
    probability = random_probabilities(seed)
    expected = torch.round(torch.from_numpy(probability) * 255.0).to(torch.uint8).numpy()
    assert np.array_equal(probability_map(probability), expected)
    assert np.array_equal(CALIBRATED.test_map(probability), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paper_test_map_is_the_authors_float32_stretch(seed: int) -> None:
    torch = pytest.importorskip("torch")
    probability = random_probabilities(seed) * np.float32(0.3) + np.float32(0.2)  # a narrow range, stretched
    p = torch.from_numpy(probability)
    # 255 (p - min) / (max - min + 1e-8) in float32, rounded half to even and saturated, as OpenCV writes it.
    stretched = 255 * (p - p.min()) / (p.max() - p.min() + torch.tensor(1e-8, dtype=torch.float32))
    expected = torch.clamp(torch.round(stretched), 0, 255).to(torch.uint8).numpy()
    got = PAPER.test_map(probability)
    assert np.array_equal(got, expected) and got.min() == 0 and got.max() == 255


def test_names_defaults_and_probability_maps() -> None:
    assert DEFAULT_PROTOCOL in PROTOCOLS and list(PROTOCOLS) == ["paper", "calibrated"]
    assert PAPER.writes_probability_maps and not CALIBRATED.writes_probability_maps
    with pytest.raises(ValueError, match="unknown protocol 'papers'; choose one of paper, calibrated"):
        get_protocol("papers")
    with pytest.raises(EvaluationInputError, match="choose one of paper, calibrated"):
        score_dataset(PROJECT_ROOT, PROJECT_ROOT, protocol="papers", workers=1)


def soft_pixels_right(decision, mask):  # noqa: ANN001, ANN201  (numpy arrays or torch tensors)
    """A third rule: soft mask levels count as right whatever the decision."""
    return mask_thresholded(decision, mask) | ((mask > 0) & (mask < 255))


def test_a_third_protocol_is_one_new_object_and_its_name_in_the_metrics_it_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lenient = dataclasses.replace(
        CALIBRATED, name="lenient", description="soft mask pixels are right", correct_rule=soft_pixels_right
    )
    for key in ("ECE", "ACC", "maxF"):
        entry = table.METRICS[key]
        monkeypatch.setitem(table.METRICS, key, dataclasses.replace(entry, reported={**entry.reported, "lenient": ("set",)}))
    pred = np.array([[255, 200, 100, 0, 10, 250]], np.uint8)
    gt = np.array([[255, 100, 0, 0, 200, 0]], np.uint8)
    write_pairs(tmp_path / "pred", tmp_path / "gt", {"a": (np.repeat(pred, 3, axis=0), np.repeat(gt, 3, axis=0))})
    metrics = score_dataset(tmp_path / "pred", tmp_path / "gt", protocol=lenient, workers=1)
    # Right: 255/255, 200/100 (soft), 100/0, 0/0, 10/200 (soft); wrong: 250/0. Both other rules: 3 of 6.
    assert metrics["protocol"] == "lenient" and metrics["ACC"] == pytest.approx(5 / 6, abs=1e-15)
    assert score_dataset(tmp_path / "pred", tmp_path / "gt", protocol="calibrated", workers=1)["ACC"] == 0.5
    assert metrics["OE"] is None and metrics["ECE_img_mean"] is None and metrics["NLL"] is None
    assert metrics["maxF"] is not None and metrics["S"] is None
    assert lenient.pixel_correct(pred >= 128, gt).tolist() == [[True, True, True, True, True, False]]
    assert lenient.counts_from_joint(joint_histogram(pred, gt)).sum() == 6


def test_the_paper_protocol_never_loads_the_libraries_it_does_not_need(tmp_path: Path) -> None:
    checkerboard = np.array([[0, 255], [255, 0]], np.uint8)
    write_pairs(tmp_path / "pred", tmp_path / "gt", {"a": (checkerboard, checkerboard)})
    script = (
        "import sys\n"
        "from evaluate import score_dataset\n"
        f"score_dataset({str(tmp_path / 'pred')!r}, {str(tmp_path / 'gt')!r}, protocol='paper', workers=1)\n"
        "loaded = [m for m in ('py_sod_metrics', 'scipy', 'sklearn', 'matplotlib', 'torch') if m in sys.modules]\n"
        "sys.exit(f'loaded {loaded}' if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
