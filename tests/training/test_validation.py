"""The validation pass: its accuracy under each protocol, and its calibration, counted as the scorer counts."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from data.loaders import inference_loader
from evaluate import score_dataset
from evaluate.accumulate import DatasetAccumulator, Scoring
from evaluate.io import MapPair
from metrics.calibration import pixel_accuracy
from model import build_model
from predict import predict_maps, write_predictions
from protocol import PROBABILITY_PROTOCOL, get_protocol, probability_map
from tests.tiny import CPU, PAPER, validation_loader
from training.log import describe_calibration
from training.validation import Validation, validate


class Scaled(nn.Module):
    """The network with its logits multiplied by `scale`: 1 keeps an untrained network's probabilities
    near 0.5, where the decision is decided; a large scale spreads them over all levels."""

    def __init__(self, network: nn.Module, scale: float) -> None:
        super().__init__()
        self.network, self.scale = network, scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images) * self.scale


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_validation_accuracy_is_the_rule_it_replaced_under_both_protocols(demo_root, soft_validation, scale):
    """The accuracy that steers alpha, now from the joint histograms, equals bit for bit the earlier
    rule, pixel_correct(sigmoid(logit) >= 0.5, mask) summed over the maps at image size."""
    torch.manual_seed(0)
    network = Scaled(build_model(8), scale)
    loader = validation_loader(demo_root, sorted(soft_validation[1].iterdir()))
    accuracies = {}
    for name in ("paper", "calibrated"):
        protocol = get_protocol(name)
        counts = torch.zeros(2, dtype=torch.float64)  # correct, total: the earlier validation_accuracy
        for _, logit, mask in predict_maps(network, loader, CPU, show_progress=False):
            counts[0] += protocol.pixel_correct(torch.sigmoid(logit) >= 0.5, mask).sum()
            counts[1] += mask.numel()
        validation = validate(network, loader, CPU, protocol)
        assert validation.accuracy.dtype == torch.float32
        assert torch.equal(validation.accuracy, (counts[0] / counts[1]).float())
        assert validation.joint.sum() == counts[1]
        assert 0 < validation.band_joint.sum() < counts[1] and (validation.band_joint <= validation.joint).all()
        accuracies[name] = float(validation.accuracy)
    assert accuracies["paper"] < accuracies["calibrated"]  # soft mask pixels count as wrong in the paper's rule


def test_the_probability_level_decides_as_p_at_least_half_for_every_float32_near_it():
    """round(255 p) >= 128 iff p >= 0.5 for every float32 within 0.01 of 0.5; round(255 p) grows with
    p, so this holds for every p."""
    bits = np.arange(np.float32(0.49).view(np.int32), np.float32(0.51).view(np.int32) + 1, dtype=np.int32)
    p = bits.view(np.float32)
    assert p[0] == np.float32(0.49) and np.float32(0.5) in p
    np.testing.assert_array_equal(probability_map(p) >= 128, p >= 0.5)


def test_validation_calibration_is_what_the_scoring_reports_for_the_test_stage_maps(soft_validation, tmp_path):
    """ECE, OE and boundary ECE of the validation pass equal the evaluator's calibrated_* values for
    the probability maps the test stage writes of the same images (same rule, bins and band)."""
    images, masks = soft_validation
    torch.manual_seed(0)
    network = Scaled(build_model(8), 30.0)
    single = replace(CPU, batch_size=1)  # the same batches for both passes
    loader = inference_loader(sorted(images.iterdir()), 32, 1, 0, False, sorted(masks.iterdir()))
    calibration = validate(network, loader, single, PAPER, boundary_width=3).calibration(n_bins=15)
    write_predictions(network, images, tmp_path / "run", "VAL", get_protocol("calibrated"), single)
    scores = score_dataset(tmp_path / "run" / "predictions" / "VAL", masks, protocol="calibrated", n_bins=15,
                           boundary_width=3, workers=1)
    assert calibration == {"val_ECE": scores["ECE"], "val_OE": scores["OE"], "val_ECE_boundary": scores["ECE_boundary"]}
    assert 0 < calibration["val_ECE_boundary"] != calibration["val_ECE"]


def test_validation_without_any_boundary_logs_no_band_ece_and_says_so():
    """Masks all empty (or all object) have no band: its ECE is NaN in log.csv and "n/a" on the line."""
    joint = np.zeros((256, 256), dtype=np.int64)
    joint[200, 0], joint[10, 0] = 30, 70  # 30 false-positive pixels at p = 200/255, 70 right at 10/255
    validation = Validation(torch.tensor(0.7), joint, np.zeros_like(joint))
    calibration = validation.calibration(n_bins=10)
    assert calibration["val_ECE"] > 0 and math.isnan(calibration["val_ECE_boundary"])
    assert describe_calibration(calibration).endswith("boundary ECE n/a")


# ---- one counter: the validation pass counts pixels as the scorer does ---------------------------

class Ramp(nn.Module):
    """A network without weights: its logit is a fixed function of the image, so its maps, and the
    validation numbers they give, can be pinned."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return 4 * images.mean(dim=1, keepdim=True) + images[:, :1] - images[:, 2:]


def test_the_validation_numbers_of_a_fixed_case_stay_what_they_were(demo_root, soft_validation):
    """Pinned before the validation pass and the scorer shared one counter (metrics.counting): the
    four validation images of the tiny split with blurred masks, a band of 3 px."""
    loader = validation_loader(demo_root, sorted(soft_validation[1].iterdir()))
    paper = validate(Ramp(), loader, CPU, PAPER, boundary_width=3)
    calibrated = validate(Ramp(), loader, CPU, get_protocol("calibrated"), boundary_width=3)
    assert (float(paper.accuracy), float(calibrated.accuracy)) == (0.23525354266166687, 0.2878071665763855)
    assert (int(paper.joint.sum()), int(paper.band_joint.sum())) == (49283, 3347)
    np.testing.assert_array_equal(paper.joint, calibrated.joint)
    assert paper.calibration(n_bins=15) == pytest.approx(
        {"val_ECE": 0.5950489231262579, "val_OE": 0.5692355566141127, "val_ECE_boundary": 0.39053176095654873},
        rel=1e-12, abs=0)
    assert paper.calibration() == pytest.approx(
        {"val_ECE": 0.595048923126258, "val_OE": 0.5677858454539169, "val_ECE_boundary": 0.3881907707809744},
        rel=1e-12, abs=0)


@pytest.mark.parametrize("name", ["paper", "calibrated"])
def test_the_validation_counts_are_the_scorers_counts_of_the_same_maps(soft_validation, tmp_path, name):
    """The test stage's probability maps of the validation images, read back from disk and added up by
    the scorer (evaluate.accumulate), hold the validation pass's level counts, pixel for pixel: of every
    pixel and of the boundary band under the calibrated rule, and the accuracy under the run's protocol."""
    images, masks = soft_validation
    single = replace(CPU, batch_size=1)
    loader = inference_loader(sorted(images.iterdir()), 32, 1, 0, False, sorted(masks.iterdir()))
    protocol = get_protocol(name)
    validation = validate(Ramp(), loader, single, protocol, boundary_width=3)
    write_predictions(Ramp(), images, tmp_path / "run", "VAL", get_protocol("calibrated"), single)
    maps = tmp_path / "run" / "predictions" / "VAL"
    scorers = {rule: DatasetAccumulator(Scoring(protocol=get_protocol(rule), boundary_width=3))
               for rule in ("calibrated", name)}
    for mask in sorted(masks.iterdir()):
        for scorer in scorers.values():
            scorer.add(MapPair(mask.stem, maps / mask.name, mask))
    counts = validation.pixels.level_counts(PROBABILITY_PROTOCOL.correct_table)
    np.testing.assert_array_equal(counts.pixels, scorers["calibrated"].test_maps.counts)
    np.testing.assert_array_equal(counts.band, scorers["calibrated"].test_maps.boundary_counts)
    assert 0 < counts.band.sum() < counts.pixels.sum()
    assert float(validation.accuracy) == np.float32(pixel_accuracy(scorers[name].test_maps.counts))
