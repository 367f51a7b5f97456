"""End to end: main_ASLP.py on the tiny synthetic data, as a user runs it."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MAIN = Path(__file__).resolve().parents[1] / "main_ASLP.py"
TINY = ["--epochs=2", "--start_epoch=1", "--train_size=32", "--test_size=32", "--feat_channel=8",
        "--batch_size=8", "--validation_size=4", "--eval_workers=1", "--log_every=1"]


def run_main(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_run(demo_root, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("run")
    result = run_main(cwd, "--demo", f"--dataset_root={demo_root}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd / "experiments" / "demo", result


def test_demo_trains_tests_and_evaluates(tiny_run, demo_root):
    out, result = tiny_run
    assert "Demo configuration" in result.stdout
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"DEMO-SOD", "DEMO-Texture"}
    assert 0.0 <= results["DEMO-SOD"]["ECE"] <= 1.0 and results["DEMO-SOD"]["n_images"] == 6
    assert (out / "results.md").is_file() and (out / "results.csv").is_file()
    for name, count in (("DEMO-SOD", 6), ("DEMO-Texture", 4)):
        maps = sorted((out / "predictions" / name).glob("*.png"))
        assert len(maps) == count
        image = Image.open(demo_root / "Test" / name / "Image" / f"{maps[0].stem}.jpg")
        assert Image.open(maps[0]).size == image.size and Image.open(maps[0]).mode == "L"


def test_alpha_table_covers_every_training_image_highest_first(tiny_run):
    out, _ = tiny_run
    alpha = json.loads((out / "alpha.json").read_text())
    values = list(alpha.values())
    assert len(alpha) == 20 and values == sorted(values, reverse=True)
    assert values[0] > 0.0 and all(0.0 <= v < 0.25 for v in values)


def test_released_style_weights_are_tested_without_training(tiny_run, demo_root):
    out, _ = tiny_run
    cwd = out.parent.parent
    result = run_main(cwd, "--demo", f"--dataset_root={demo_root}", *TINY, f"--weights={out / 'Model_2_Gen.pth'}",
                      "--stages=test", "--experiment=again")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Training" not in result.stdout
    for first in (out / "predictions" / "DEMO-SOD").glob("*.png"):
        second = cwd / "experiments" / "again" / "predictions" / "DEMO-SOD" / first.name
        assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(second)))


def test_without_data_it_fails_at_once_naming_the_folder_and_the_demo(tmp_path):
    result = run_main(tmp_path)
    assert result.returncode == 2
    assert str(Path("Dataset") / "Train" / "DUTS-TR" / "Image") in result.stderr and "--demo" in result.stderr


def test_unknown_option_is_an_error_naming_it(tmp_path):
    result = run_main(tmp_path, "--epoch=3")
    assert result.returncode == 2 and "--epoch" in result.stderr


def test_alpha_diagnostics_are_logged_per_epoch_and_plotted(tiny_run):
    out, result = tiny_run
    rows = (out / "alpha_log.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["epoch", "q0"] and "at_ceiling" in rows[0] and len(rows) == 3
    assert "% at the upper clamp" in result.stdout
    assert (out / "alpha_history.png").stat().st_size > 10_000


ALL_METHODS = "BCE,LS,DisturbLabel,SLP,ASLP,Focal,Brier,MbLS,TS"


def test_compare_tabulates_every_method_and_skips_finished_ones(demo_root, tmp_path):
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, f"--compare={ALL_METHODS}")
    assert result.returncode == 0, result.stderr[-3000:]
    table = json.loads((tmp_path / "experiments" / "demo" / "comparison.json").read_text())
    assert list(table) == ALL_METHODS.split(",")
    assert set(table["ASLP"]) == {"DEMO-SOD", "DEMO-Texture"}  # one set per group: no mean columns
    markdown = (tmp_path / "experiments" / "demo" / "comparison.md").read_text()
    assert sum(line.startswith("| ") for line in markdown.splitlines()) == 1 + len(table) and "**" in markdown
    # temperature scaling changes the confidences, never the decisions: the same accuracy as BCE
    assert table["TS"]["DEMO-SOD"]["ACC"] == table["BCE"]["DEMO-SOD"]["ACC"]
    assert json.loads((tmp_path / "experiments" / "demo" / "TS" / "temperature.json").read_text())["temperature"] > 0

    again = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--compare=BCE,LS",
                     "--stages=train")
    assert again.returncode == 0 and again.stdout.count("skipping its training") == 2


def test_missing_weights_file_fails_before_anything_runs(tmp_path):
    result = run_main(tmp_path, "--weights=nowhere/Model_30_Gen.pth", "--stages=test")
    assert result.returncode == 2 and "nowhere/Model_30_Gen.pth" in result.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_absent_is_an_error(demo_root, tmp_path):
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", "--device=cuda")
    assert result.returncode == 2 and "CUDA is not available" in result.stderr


def test_unwritable_output_folder_is_an_error_naming_it(demo_root, tmp_path):
    (tmp_path / "experiments").write_text("a file where the output folder should be")
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY)
    assert result.returncode == 2 and "cannot write to the output folder experiments/demo" in result.stderr
