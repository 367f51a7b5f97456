"""Test-stage maps: one forward pass writes what the protocol asks for, with a record of what the maps are; a
temperature never changes a decision; the command line writes the same maps for a folder of photographs."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import predict

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


# ---- the command line: python predict.py --weights=FILE --images=FOLDER --out=FOLDER ----------------

def tiny_weights(tmp_path):
    """A tiny network's weights as torch.save writes a state dict, and the network."""
    torch.manual_seed(0)
    network = build_model(feat_channel=8)
    torch.save(network.state_dict(), tmp_path / "tiny.pth")
    return tmp_path / "tiny.pth", network


def command(weights, images, out, *more):
    return predict.cli([f"--weights={weights}", f"--images={images}", f"--out={out}", "--size=32",
                        "--device=cpu", "--batch-size=4", *more])


def two_photos(demo_root, tmp_path):
    """Two of the demo's test photographs in tmp_path/DEMO-SOD/Image, laid out as a data set."""
    folder = tmp_path / "DEMO-SOD" / "Image"
    folder.mkdir(parents=True)
    for path in sorted((demo_root / "Test" / "DEMO-SOD" / "Image").iterdir())[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_the_command_writes_the_test_stages_maps_and_says_where(demo_root, tmp_path, capsys):
    weights, network = tiny_weights(tmp_path)
    images = two_photos(demo_root, tmp_path)
    assert command(weights, images, tmp_path / "out") == 0
    test_dir, probability_dir = (tmp_path / "out" / folder / "DEMO-SOD" for folder in ("predictions", "probabilities"))
    assert f"Wrote 2 maps of the photos in {images}: the paper protocol's test maps in {test_dir} and the " \
           f"probability maps round(255 p) in {probability_dir}\n" in capsys.readouterr().out
    # The very maps the test stage writes with the same network (the decoder width is read from the file).
    write_predictions(network, images, tmp_path / "stage", "DEMO-SOD", get_protocol("paper"), CPU)
    for folder in (test_dir, probability_dir):
        written = sorted(folder.glob("*.png"))
        assert len(written) == 2 and all(
            path.read_bytes() == (tmp_path / "stage" / folder.parent.name / "DEMO-SOD" / path.name).read_bytes()
            for path in written)
    # Under the calibrated protocol the test maps are those probability maps, and nothing else is written.
    assert command(weights, images, tmp_path / "calibrated", "--protocol=calibrated") == 0
    assert sorted(p.name for p in (tmp_path / "calibrated").iterdir()) == ["predictions"]
    for path in probability_dir.glob("*.png"):
        assert (tmp_path / "calibrated" / "predictions" / "DEMO-SOD" / path.name).read_bytes() == path.read_bytes()


def test_bad_input_is_one_error_line_and_exit_2_and_nothing_is_written(demo_root, tmp_path, capsys):
    weights, _ = tiny_weights(tmp_path)
    images = demo_root / "Test" / "DEMO-SOD" / "Image"
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("")
    cases = {
        "missing weights": ((tmp_path / "nowhere.pth", images, tmp_path / "o1"), "--weights=", "no such file"),
        "weights folder": ((tmp_path, images, tmp_path / "o2"), "is a folder; pass the checkpoint file", "tiny.pth"),
        "not a checkpoint": ((tmp_path / "a_file", images, tmp_path / "o3"), "is not a PyTorch checkpoint", ""),
        "no photos": ((weights, tmp_path / "empty", tmp_path / "o4"), f"{tmp_path / 'empty'} contains no", ".jpg"),
        "no folder": ((weights, tmp_path / "gone", tmp_path / "o5"), f"not found: {tmp_path / 'gone'}", ""),
        "unwritable output": ((weights, images, tmp_path / "a_file" / "out"), "cannot write to the output folder",
                              "choose another folder"),
    }
    for case, (arguments, *says) in cases.items():
        assert command(*arguments) == 2, case
        error = capsys.readouterr().err
        assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error, (case, error)
        assert all(part in error for part in says), (case, error)
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 6))


def test_a_mistyped_option_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        predict.cli(["--weights=w", "--images=i", "--out=o", "--size=33"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and error == ("error: argument --size: 33 is not a positive multiple of 32 (the "
                                                 "network's stride) (python predict.py --help)\n")


@pytest.mark.parametrize("option", ["--weights", "--images", "--out", "--size"])
def test_an_option_given_as_a_bare_double_dash_is_refused_in_one_line(option, capsys):
    argv = {"--weights": "w", "--images": "i", "--out": "o"}
    argv[option] = "--"  # Python's argparse reads --option=-- as an empty list, not as a missing value
    with pytest.raises(SystemExit) as stopped:
        predict.cli([f"{name}={value}" for name, value in argv.items()])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"error: argument {option}: expected one argument (python predict.py --help)\n"


def test_ctrl_c_exits_130_saying_where_the_maps_are(demo_root, tmp_path, capsys, monkeypatch):
    weights, _ = tiny_weights(tmp_path)

    def interrupted(*_arguments, **_options):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict, "write_predictions", interrupted)
    assert command(weights, two_photos(demo_root, tmp_path), tmp_path / "out") == 130
    assert capsys.readouterr().err.strip() == f"interrupted: the maps written so far are in {tmp_path / 'out'}"


def test_help_answers_without_importing_torch(tmp_path):
    # Run from another folder, as a user would; -X importtime lists every module imported.
    result = subprocess.run([sys.executable, "-X", "importtime", str(Path(predict.__file__)), "--help"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--weights" in result.stdout and "--protocol {paper,calibrated}" in result.stdout
    assert "torch" not in result.stderr


def test_channels_last_inference_gives_the_contiguous_logits(tmp_path):
    """CHANNELS_LAST changes only the memory layout: the same logits (to float rounding), so the same maps."""
    images = _images(tmp_path / "Image")
    torch.manual_seed(0)
    network = build_model(feat_channel=8)
    loader = inference_loader(sorted(images.iterdir()), 32, 2, 0, False)
    plain = {name: logit for name, logit, _ in predict_maps(network, loader, CPU, show_progress=False)}
    fast = Inference(CPU.device, CPU.size, CPU.batch_size, CPU.num_workers, channels_last=True)
    converted = {name: logit for name, logit, _ in predict_maps(network, loader, fast, show_progress=False)}
    assert next(network.parameters()).dim() == 4 and next(network.parameters()).is_contiguous(
        memory_format=torch.channels_last)
    assert plain.keys() == converted.keys() == {"im0", "im1"}
    for name in plain:
        torch.testing.assert_close(converted[name], plain[name], rtol=1e-4, atol=1e-4)
