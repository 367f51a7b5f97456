"""Images on which a SOD metric is undefined: every value lies in its range or is n/a, and the notes say, per
metric, which images it leaves out (undefined there) or keeps with a note (the authors' artefacts)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluate.runner import _pair_all, _score_paired, scoring_of
from metrics.calibration import joint_histogram
from metrics import measures
from metrics.table import sod_metrics
from protocol import get_protocol
from report.tables import DatasetScore
from tests.conftest import write_pairs

PROTOCOLS = ("calibrated", "paper")
E_KEYS = {"calibrated": ("maxE", "meanE", "adpE"), "paper": ("maxE", "meanE")}


def normal_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A square object and a noisy map of it: every metric is defined."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((40, 50), np.uint8)
    gt[10:30, 15:35] = 255
    pred = np.clip(gt * 0.6 + rng.normal(60, 40, gt.shape), 0, 255).astype(np.uint8)
    return pred, gt


def full_pair() -> tuple[np.ndarray, np.ndarray]:
    """A mask all foreground, predicted perfectly."""
    full = np.full((30, 30), 255, np.uint8)
    return full, full


def pixel(pred: int, gt: int) -> tuple[np.ndarray, np.ndarray]:
    return np.array([[pred]], np.uint8), np.array([[gt]], np.uint8)


def score(tmp_path: Path, pairs: dict[str, tuple[np.ndarray, np.ndarray]], protocol: str,
          workers: int = 1) -> DatasetScore:
    """Score the pairs, written under their names, as one set called "set"."""
    write_pairs(tmp_path / "pred", tmp_path / "gt", pairs)
    paired = _pair_all([("set", tmp_path / "pred", tmp_path / "gt")], None, get_protocol(protocol))
    return _score_paired(paired, scoring_of(protocol=protocol, workers=workers))[0]


def test_a_perfect_full_mask_image_beside_a_normal_one_does_not_collapse_auc(tmp_path: Path) -> None:
    alone = score(tmp_path / "alone", {"normal": normal_pair()}, "calibrated").metrics["AUC"]
    both = score(tmp_path / "calibrated", {"normal": normal_pair(), "full": full_pair()}, "calibrated")
    assert alone > 0.99 and both.metrics["AUC"] == pytest.approx(alone, abs=1e-12)
    assert ("AUC covers 1 of 2 images, leaving out 1 image(s) whose mask is all foreground (no background pixel: "
            "the false-positive rate is 0 / 0): full") in both.notes
    # The paper protocol keeps the authors' number, which the full mask about halves, and says why.
    paper = score(tmp_path / "paper", {"normal": normal_pair(), "full": full_pair()}, "paper")
    assert paper.metrics["AUC"] < 0.6 * alone
    assert any(note.startswith("AUC includes 1 image(s) whose mask is all 255 (no background") and
               note.endswith(": full") for note in paper.notes)


def test_a_set_of_full_masks_has_no_auc(tmp_path: Path) -> None:
    pairs = {"a": full_pair(), "b": (np.full((20, 30), 250, np.uint8), np.full((20, 30), 255, np.uint8))}
    calibrated = score(tmp_path / "calibrated", pairs, "calibrated")
    assert calibrated.metrics["AUC"] is None and calibrated.metrics["AP"] == pytest.approx(1.0)
    assert any(note.startswith("AUC covers 0 of 2 images, leaving out 2 image(s) whose mask is all foreground")
               for note in calibrated.notes)
    paper = score(tmp_path / "paper", pairs, "paper")
    assert paper.metrics["AUC"] == 0  # the authors' value: no false-positive rate anywhere
    assert any(note.startswith("AUC includes 2 image(s) whose mask is all 255") for note in paper.notes)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_single_pixel_images_are_left_out_of_the_e_measure(tmp_path: Path, protocol: str) -> None:
    alone = score(tmp_path / "alone", {"normal": normal_pair()}, protocol).metrics
    pixels = {"one": pixel(200, 255), "two": pixel(0, 0)}
    mixed = score(tmp_path / "mixed", {"normal": normal_pair(), **pixels}, protocol)
    keys = E_KEYS[protocol]
    for key in keys:
        assert 0 <= mixed.metrics[key] <= 1 and mixed.metrics[key] == pytest.approx(alone[key], abs=1e-12), key
    left_out = ("cover 1 of 3 images, leaving out 2 image(s) whose map has a single pixel (the E-measure divides by "
                "N - 1 = 0): one, two")
    assert f"{' and '.join([', '.join(keys[:-1]), keys[-1]])} {left_out}" in mixed.notes
    only = score(tmp_path / "only", pixels, protocol)
    assert all(only.metrics[key] is None for key in keys)
    assert any(" cover 0 of 2 images, leaving out 2 image(s) whose map has a single pixel" in note
               for note in only.notes)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_images_without_an_s_measure_are_left_out_of_s(tmp_path: Path, protocol: str) -> None:
    # The authors' S is NaN on a single foreground pixel; PySODMetrics' where the centroid is on the last column.
    gt = np.zeros((20, 20), np.uint8)
    if protocol == "paper":
        gt[5, 5] = 255
    else:
        gt[:, -1] = 255
    odd = (np.arange(400, dtype=np.uint8).reshape(20, 20), gt)
    alone = score(tmp_path / "alone", {"normal": normal_pair()}, protocol).metrics["S"]
    mixed = score(tmp_path / "mixed", {"normal": normal_pair(), "odd": odd}, protocol)
    assert mixed.metrics["S"] == pytest.approx(alone, abs=1e-12)
    assert any(note.startswith("S covers 1 of 2 images, leaving out 1 image(s) whose S-measure is NaN in "
                               + ("the authors' tool" if protocol == "paper" else "PySODMetrics"))
               and note.endswith(": odd") for note in mixed.notes)


def test_one_or_two_workers_give_the_same_values_and_notes(tmp_path: Path) -> None:
    pairs = {"a": normal_pair(1), "b": full_pair(), "c": (normal_pair(2)[0], np.zeros((40, 50), np.uint8)),
             "d": pixel(9, 255), "e": normal_pair(3), "f": pixel(0, 0)}
    one = score(tmp_path, pairs, "calibrated", workers=1)
    two = score(tmp_path, pairs, "calibrated", workers=2)
    assert one.notes == two.notes
    assert any(note.startswith("AUC covers 2 of 6 images") for note in one.notes)
    for key, value in one.metrics.items():
        assert two.metrics[key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float) else value), key


# Small images of every kind: masks with both classes, all background, all foreground, soft; 1 x 1 to 4 x 5.
_IMAGES = st.lists(
    st.tuples(st.integers(1, 4), st.integers(1, 5), st.sampled_from(["binary", "empty", "full", "soft"]),
              st.integers(0, 2**32 - 1)),
    min_size=1, max_size=6,
)


def _image(height: int, width: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 256, (height, width), dtype=np.uint8)
    gt = {"binary": rng.integers(0, 2, (height, width)) * 255, "empty": np.zeros((height, width)),
          "full": np.full((height, width), 255), "soft": rng.integers(0, 256, (height, width))}[kind]
    return pred, gt.astype(np.uint8)


def _accumulate(protocol: str, pairs: list[tuple[np.ndarray, np.ndarray]], first: int = 0) -> measures.ImageAccumulator:
    accumulator = measures.ImageAccumulator()
    for index, (pred, gt) in enumerate(pairs, first):
        accumulator.add(get_protocol(protocol).image_stats(pred, gt, joint_histogram(pred, gt)), str(index))
    return accumulator


@settings(max_examples=40, deadline=None)
@given(images=_IMAGES, protocol=st.sampled_from(PROTOCOLS), cut=st.integers(0, 6))
def test_every_value_is_in_its_range_or_undefined(images: list[tuple], protocol: str, cut: int) -> None:
    pairs = [_image(*image) for image in images]
    whole = _accumulate(protocol, pairs)
    for metric in sod_metrics(protocol):
        formula = metric.from_sod
        if not formula.covered(whole):
            assert whole.left_out(formula.quantities), metric.key  # said in the notes
            continue
        value = formula(whole)
        # The E-measure divides by N - 1: up to N / (N - 1) <= 2, and then noted.
        top = 2 if measures.E_ABOVE_ONE in whole.noted(formula.quantities) else 1
        assert math.isfinite(value) and 0 <= value <= top, metric.key
        if protocol == "calibrated":  # undefined images change nothing: as if they were not there
            names = set().union(*whole.left_out(formula.quantities).values())
            kept = _accumulate(protocol, [pair for index, pair in enumerate(pairs) if str(index) not in names])
            assert formula.covered(kept) == formula.covered(whole) == len(pairs) - len(names)
            assert value == pytest.approx(formula(kept), abs=1e-12), metric.key

    # Shards merged in order equal one pass.
    merged = _accumulate(protocol, pairs[:cut])
    merged.merge(_accumulate(protocol, pairs[cut:], first=min(cut, len(pairs))))
    assert (merged.counts, merged.values, merged.condition_images, merged.n_images) == (
        whole.counts, whole.values, whole.condition_images, whole.n_images)
    for quantity, curve in whole.sums.items():
        np.testing.assert_allclose(merged.sums[quantity], curve, rtol=0, atol=1e-12)
