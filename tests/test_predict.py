"""Test-stage maps: one forward pass writes what the protocol asks for, with a record of what the maps are; a
temperature never changes a decision."""
import json

import numpy as np
import torch
from PIL import Image

from protocol import get_protocol
from model import build_model
from predict import Inference, predict_maps, write_predictions
from data.loaders import inference_loader

CPU = Inference(torch.device("cpu"), size=32, batch_size=2, num_workers=0)


def _images(folder, sizes=((40, 30), (24, 50))):
    folder.mkdir()
    for i, size in enumerate(sizes):
        Image.new("RGB", size, (i * 90, 50, 200)).save(folder / f"im{i}.jpg")
    return folder


def test_one_forward_pass_writes_stretched_and_probability_maps_under_paper(tmp_path):
    images = _images(tmp_path / "Image")
    torch.manual_seed(0)
    count = write_predictions(build_model(feat_channel=8), images, tmp_path / "run", "SET", get_protocol("paper"), CPU)
    assert count == 2
    for i, size in enumerate([(40, 30), (24, 50)]):
        stretched = np.asarray(Image.open(tmp_path / "run" / "predictions" / "SET" / f"im{i}.png"))
        probability = np.asarray(Image.open(tmp_path / "run" / "probabilities" / "SET" / f"im{i}.png"))
        assert stretched.shape == probability.shape == (size[1], size[0])
        assert stretched.max() == 255 and stretched.min() == 0 and not np.array_equal(stretched, probability)
        # Stretching is monotone: a higher probability level never gets a lower stretched level.
        levels = np.unique(probability)
        highest = [stretched[probability == level].max() for level in levels]
        lowest = [stretched[probability == level].min() for level in levels]
        assert all(high <= low for high, low in zip(highest[:-1], lowest[1:]))


def test_calibrated_protocol_writes_only_probability_maps(tmp_path):
    images = _images(tmp_path / "Image")
    write_predictions(build_model(feat_channel=8), images, tmp_path / "run", "SET", get_protocol("calibrated"), CPU)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["predictions"]


def test_each_folder_of_maps_gets_a_record_of_what_its_maps_are(tmp_path):
    images = _images(tmp_path / "Image")
    (tmp_path / "run" / "predictions" / "SET").mkdir(parents=True)
    (tmp_path / "run" / "predictions" / "SET" / "maps.json").write_text('{"maps": "stale"}')
    write_predictions(build_model(feat_channel=8), images, tmp_path / "run", "SET", get_protocol("paper"), CPU,
                      origin={"network": "w.pth", "calibrator": "TS"})
    for folder, kind in (("predictions", "stretched"), ("probabilities", "probabilities")):
        record = json.loads((tmp_path / "run" / folder / "SET" / "maps.json").read_text())
        assert record["maps"] == kind and record["protocol"] == "paper" and record["images"] == 2
        assert record["network"] == "w.pth" and record["calibrator"] == "TS" and "32 x 32" in record["size_rule"]


def _logits(network, images, temperature=None):
    loader = inference_loader(sorted(images.iterdir()), 32, 2, 0, False)
    return {name: logit for name, logit, _ in predict_maps(network, loader, CPU, temperature=temperature)}


def test_a_temperature_scalar_or_per_pixel_never_changes_a_decision(tmp_path):
    images = _images(tmp_path / "Image")
    torch.manual_seed(1)
    network = build_model(feat_channel=8)
    plain = _logits(network, images)

    def wild(logits, _images):  # a rough positive temperature map, 0.05 .. 20, at network resolution
        return torch.exp(3 * torch.sin(torch.arange(logits.numel()).reshape(logits.shape) * 0.7))

    for temperature in (lambda logits, images: 3.0, wild):
        scaled = _logits(network, images, temperature)
        for name, logit in plain.items():
            assert torch.equal(scaled[name] >= 0, logit >= 0)
            assert not torch.equal(scaled[name], logit)


def test_the_network_predicts_in_eval_mode_and_is_restored(tmp_path):
    images = _images(tmp_path / "Image")
    network = build_model(feat_channel=8).train()
    modes = []
    network.register_forward_hook(lambda module, *_: modes.append(module.training))
    _logits(network, images)
    assert modes == [False] and network.training
