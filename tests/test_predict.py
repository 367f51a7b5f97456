"""Test-stage maps: the authors' stretched maps, raw probabilities, and the validation decision rule."""
import cv2
import numpy as np
import torch
from PIL import Image

from model import build_model
from predict import pixel_correct, probability_map, stretched_map, write_predictions


def test_stretched_map_matches_the_authors_formula_written_by_opencv(tmp_path):
    probability = torch.rand(37, 53, generator=torch.Generator().manual_seed(0)) * 0.4 + 0.3
    p = probability.numpy()
    cv2.imwrite(str(tmp_path / "authors.png"), 255 * (p - p.min()) / (p.max() - p.min() + 1e-8))
    assert np.array_equal(stretched_map(probability), cv2.imread(str(tmp_path / "authors.png"), cv2.IMREAD_GRAYSCALE))
    assert stretched_map(probability).min() == 0 and stretched_map(probability).max() == 255


def test_stretching_changes_the_decision_where_raw_probabilities_do_not():
    probability = torch.tensor([[0.10, 0.20, 0.30]])  # every pixel background (p < 0.5)
    assert (probability_map(probability) < 128).all()
    assert stretched_map(probability).tolist() == [[0, 127, 255]]  # the top pixel becomes foreground


def test_probability_map_is_round_255_p():
    probability = torch.tensor([[0.0, 0.5, 1.0, 0.2]])
    assert probability_map(probability).tolist() == [[0, 128, 255, 51]]


def test_paper_accuracy_counts_soft_mask_pixels_wrong_calibrated_thresholds_them():
    probability = torch.tensor([0.9, 0.9, 0.1, 0.1, 0.6])
    mask = torch.tensor([255, 200, 0, 60, 128], dtype=torch.uint8)
    assert pixel_correct(probability, mask, "paper").tolist() == [True, False, True, False, False]
    assert pixel_correct(probability, mask, "calibrated").tolist() == [True, True, True, True, True]


def test_one_forward_pass_writes_stretched_and_raw_maps(tmp_path):
    images = tmp_path / "Image"
    images.mkdir()
    for i, size in enumerate([(40, 30), (24, 50)]):
        Image.new("RGB", size, (i * 90, 50, 200)).save(images / f"im{i}.jpg")
    network = build_model(feat_channel=8)
    count = write_predictions(network, images, tmp_path / "pred", size=32, device=torch.device("cpu"), batch_size=2,
                              num_workers=0, stretched=True, probability_dir=tmp_path / "prob")
    assert count == 2
    for i, size in enumerate([(40, 30), (24, 50)]):
        stretched = np.asarray(Image.open(tmp_path / "pred" / f"im{i}.png"))
        raw = np.asarray(Image.open(tmp_path / "prob" / f"im{i}.png"))
        assert stretched.shape == raw.shape == (size[1], size[0])
        assert stretched.max() == 255 and stretched.min() == 0 and not np.array_equal(stretched, raw)
        # Stretching is monotone: a higher raw level never gets a lower stretched level.
        levels = np.unique(raw)
        highest = [stretched[raw == level].max() for level in levels]
        lowest = [stretched[raw == level].min() for level in levels]
        assert all(high <= low for high, low in zip(highest[:-1], lowest[1:]))
