"""main_ASLP.py as a user runs it: its outputs, its answers to bad input, and Ctrl-C.

One tiny comparison of every kind of row is trained and scored once per session (`demo_comparison`);
error paths run the command line in this process (`run_cli`). Only what needs a fresh interpreter
(--help and option errors answered without importing torch, Ctrl-C) starts main_ASLP.py as a process.
"""
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ALL_METHODS, PROJECT_ROOT, TINY, run_cli

MAIN = PROJECT_ROOT / "main_ASLP.py"


def test_demo_trains_tests_and_evaluates(demo_comparison, demo_root):
    out, result = demo_comparison
    assert "Demo configuration" in result.out
    results = json.loads((out / "ASLP_MC" / "results.json").read_text())
    assert set(results) == {"DEMO-SOD", "DEMO-Texture"}
    assert 0.0 <= results["DEMO-SOD"]["ECE"] <= 1.0 and results["DEMO-SOD"]["n_images"] == 6
    assert (out / "ASLP_MC" / "results.md").is_file() and (out / "ASLP_MC" / "results.csv").is_file()
    for name, count in (("DEMO-SOD", 6), ("DEMO-Texture", 4)):
        maps = sorted((out / "ASLP_MC" / "predictions" / name).glob("*.png"))
        assert len(maps) == count
        image = Image.open(demo_root / "Test" / name / "Image" / f"{maps[0].stem}.jpg")
        assert Image.open(maps[0]).size == image.size and Image.open(maps[0]).mode == "L"


def test_alpha_table_covers_every_training_image_highest_first(demo_comparison):
    out, _ = demo_comparison
    alpha = json.loads((out / "ASLP_MC" / "alpha.json").read_text())
    values = list(alpha.values())
    assert len(alpha) == 20 and values == sorted(values, reverse=True)
    assert values[0] > 0.0 and all(0.0 <= v < 0.25 for v in values)


def test_alpha_and_validation_calibration_are_logged_per_epoch_and_plotted(demo_comparison):
    out, result = demo_comparison
    header = (out / "ASLP_MC" / "log.csv").read_text().splitlines()[0].split(",")
    assert header[4] == "alpha_used_mean" and {"val_ECE", "val_OE", "val_ECE_boundary"} <= set(header)
    rows = (out / "ASLP_MC" / "alpha_log.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["epoch", "q0"] and "at_ceiling" in rows[0] and len(rows) == 3
    assert "% at the upper clamp" in result.out
    for name in ("alpha_history.png", "calibration_history.png"):
        assert (out / "ASLP_MC" / name).stat().st_size > 10_000
    assert (out / "validation_calibration.png").stat().st_size > 10_000


def test_compare_tabulates_every_method_and_keeps_finished_networks(demo_comparison, demo_root):
    out, result = demo_comparison
    table = json.loads((out / "comparison.json").read_text())["summary"]
    assert list(table) == list(ALL_METHODS)
    assert set(table["ASLP"]) == {"DEMO-SOD", "DEMO-Texture"}  # one set per group: no mean columns
    markdown = (out / "comparison.md").read_text()
    overall, location = markdown.split("Where the miscalibration is")  # the second table: boundary band and rest
    for part in (overall, location):
        assert sum(line.startswith("| ") for line in part.splitlines()) == 1 + len(table) and "**" in part
    assert "Protocol: paper protocol" in markdown and "MCE %" in markdown and "CECE %" in markdown
    # Post-hoc calibration changes the confidences, never the decisions of the probabilities: the same
    # accuracy of the probability maps as the network it calibrates (the stretched maps may differ).
    networks = {"TS": "BCE", "LTS": "BCE", "SEL": "BCE", "SEL-context": "BCE", "ASLP+TS": "ASLP", "ASLP+LTS": "ASLP"}
    for calibrated, network in networks.items():
        for name in ("DEMO-SOD", "DEMO-Texture"):
            assert (table[calibrated][name]["probabilities_ACC"]["mean"]
                    == table[network][name]["probabilities_ACC"]["mean"]), (calibrated, name)
    fit = json.loads((out / "TS" / "ts_fit.json").read_text())
    assert fit["temperature"] > 0 and fit["weights"].endswith(str(Path("BCE") / "Model_2_Gen.pth"))
    assert (out / "ASLP_MC+LTS" / "lts_fit.pth").is_file() and (out / "SEL-context" / "sel-context_fit.json").is_file()
    assert all(f"{name} on " in result.out for name in ("TS", "LTS", "SEL", "SEL-context"))

    again = run_cli(out.parent.parent, "--demo", f"--dataset_root={demo_root}", *TINY, "--compare=BCE,ASLP",
                    "--stages=train")
    assert again.code == 0 and again.out.count("is not retrained (this continues the comparison") == 2


def test_end_of_run_says_where_results_maps_and_plots_are(demo_comparison):
    _, result = demo_comparison
    summary = result.out[result.out.rindex("Outputs:"):]
    out = Path("experiments") / "demo" / "ASLP_MC"
    for path in (out / "Model_2_Gen.pth", out / "predictions" / "DEMO-SOD", out / "results.md", out / "alpha.json"):
        assert str(path) in summary, path
    assert "comparison.md" in summary


def test_released_style_weights_are_tested_without_training(demo_comparison, demo_root, tmp_path):
    out, _ = demo_comparison
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY,
                     f"--weights={out / 'ASLP_MC' / 'Model_2_Gen.pth'}", "--stages=test", "--experiment=again")
    assert result.code == 0, result.err[-3000:]
    assert "Training" not in result.out
    for first in (out / "ASLP_MC" / "predictions" / "DEMO-SOD").glob("*.png"):
        second = tmp_path / "experiments" / "again" / "predictions" / "DEMO-SOD" / first.name
        assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(second)))


def test_each_method_runs_once_per_seed_and_is_summarised(demo_root, tmp_path):
    # TS alone: the BCE network it calibrates is not listed, so each seed trains it first, unscored.
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--epochs=1", "--start_epoch=0",
                     "--compare=TS", "--seeds=3,4", "--experiment=seeded")
    assert result.code == 0, result.err[-3000:]
    out = tmp_path / "experiments" / "seeded"
    assert result.out.count("TS calibrates the BCE network, which --compare does not list") == 1
    for seed in (3, 4):
        assert (out / f"seed{seed}" / "TS" / "results.json").is_file()
        assert (out / f"seed{seed}" / "BCE" / "Model_1_Gen.pth").is_file()
        assert not (out / f"seed{seed}" / "BCE" / "results.json").exists()
        assert str(Path("experiments") / "seeded" / f"seed{seed}" / "BCE" / "Model_1_Gen.pth") in result.out
    first = json.loads((out / "seed3" / "TS" / "results.json").read_text())
    second = json.loads((out / "seed4" / "TS" / "results.json").read_text())
    assert first["DEMO-SOD"]["ECE"] != second["DEMO-SOD"]["ECE"]  # the seed reached the training
    fits = [json.loads((out / f"seed{seed}" / "TS" / "ts_fit.json").read_text())["weights"] for seed in (3, 4)]
    assert fits[0].endswith(str(Path("seed3") / "BCE" / "Model_1_Gen.pth")) and "seed4" in fits[1]
    table = json.loads((out / "comparison.json").read_text())
    assert table["seeds"] == [3, 4] and table["protocol"] == "paper"
    assert sorted((run["method"], run["seed"]) for run in table["runs"]) == [("TS", 3), ("TS", 4)]
    assert table["summary"]["TS"]["DEMO-SOD"]["ECE"]["n"] == 2
    assert "±" in (out / "comparison.md").read_text() and "±" in result.out
    assert (out / "comparison.csv").read_text().splitlines()[0].startswith("method,seed,protocol,")


def test_scoring_a_run_under_another_protocol_than_its_maps_stops_naming_both(demo_comparison, demo_root, tmp_path):
    out, _ = demo_comparison
    shutil.copytree(out / "BCE", tmp_path / "experiments" / "bce")
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--stages=eval", "--experiment=bce",
                     "--protocol=calibrated")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "holds stretched maps" in result.err and "written under the paper protocol" in result.err
    assert "--protocol=paper" in result.err and "--stages=test,eval --protocol=calibrated" in result.err


# ---- what an earlier run stops --------------------------------------------------------------------

def test_fresh_run_into_a_finished_run_is_refused_and_writes_nothing(demo_comparison, demo_root):
    out, _ = demo_comparison
    before = sorted(p.name for p in (out / "ASLP_MC").iterdir())
    result = run_cli(out.parent.parent, "--demo", f"--dataset_root={demo_root}", *TINY, "--epochs=1",
                     "--start_epoch=0", "--experiment=demo/ASLP_MC")
    assert result.code == 2 and "Traceback" not in result.err
    relative = Path("experiments") / "demo" / "ASLP_MC"
    for fix in (f"{relative} already holds", "Model_2_Gen.pth", "--experiment=", "--resume", f"delete {relative}"):
        assert fix in result.err, fix
    assert sorted(p.name for p in (out / "ASLP_MC").iterdir()) == before


def test_resume_with_another_architecture_or_method_is_refused(demo_comparison, demo_root, tmp_path):
    out, _ = demo_comparison
    shutil.copytree(out / "ASLP_MC", tmp_path / "experiments" / "copy")
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--resume", "--experiment=copy",
                     "--feat_channel=16", "--method=BCE")
    assert result.code == 2 and "Traceback" not in result.err
    checkpoint = Path("experiments") / "copy" / "checkpoint.pth"
    assert f"{checkpoint} was trained with --feat_channel=8 --method=ASLP" in result.err
    assert "--experiment" in result.err


# ---- bad input: one `error:` line naming the problem and the fix, before any work -------------------

def test_without_data_it_fails_at_once_naming_the_folder_and_the_demo(tmp_path):
    result = run_cli(tmp_path)
    assert result.code == 2
    assert str(Path("Dataset") / "Train" / "DUTS-TR" / "Image") in result.err and "--demo" in result.err


def test_missing_weights_file_fails_before_anything_runs(tmp_path):
    result = run_cli(tmp_path, "--weights=nowhere/Model_30_Gen.pth", "--stages=test")
    assert result.code == 2 and "nowhere/Model_30_Gen.pth" in result.err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_absent_is_an_error(demo_root, tmp_path):
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", "--device=cuda")
    assert result.code == 2 and "CUDA is not available" in result.err


def test_unwritable_output_folder_is_an_error_naming_it(demo_root, tmp_path):
    (tmp_path / "experiments").write_text("a file where the output folder should be")
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY)
    assert result.code == 2 and "cannot write to the output folder experiments/demo" in result.err


@pytest.mark.parametrize("arguments, message", [
    (("--weights=w.pth", "--stages=train"), "--weights skips training, so --stages=train would do nothing"),
    (("--weights=w.pth", "--resume"), "--weights skips training, so --resume has nothing to continue"),
    (("--stages=",), "--stages: no stage given"),
    (("--test_datasets=ECSSD,SOD,ECSSD",), "--test_datasets names ECSSD twice"),
    (("--compare=BCE,TS,BCE",), "--compare lists a method twice"),
    (("--seeds=1,x",), "--seeds expects comma-separated integers"),
])
def test_settings_that_cannot_work_together_are_refused(tmp_path, arguments, message):
    (tmp_path / "w.pth").write_bytes(b"PK")
    result = run_cli(tmp_path, *arguments)
    assert result.code == 2 and result.err.startswith(f"error: {message}") and result.err.count("\n") == 1


def test_weights_that_are_no_checkpoint_stop_first_in_one_line_naming_the_file(tmp_path):
    (tmp_path / "README.md").write_text("# not weights\n")
    result = run_cli(tmp_path, "--weights=README.md", "--stages=test")  # and no dataset: the weights come first
    assert result.code == 2 and result.err.count("\n") == 1
    assert "README.md is not a PyTorch checkpoint" in result.err and "file an issue" not in result.err


def test_weights_folder_is_refused_naming_the_files_in_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "Model_2_Gen.pth").write_bytes(b"")
    result = run_cli(tmp_path, "--weights=run", "--stages=test")
    assert result.code == 2 and "is a folder" in result.err and "Model_2_Gen.pth" in result.err


def test_a_perturbation_that_never_happens_stops_before_training(demo_root, tmp_path):
    # The demo starts alpha late: a few epochs of ASLP would be BCE, row for row.
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", "--compare=BCE,ASLP", "--epochs=3",
                     "--start_epoch=6")
    assert result.code == 2 and "ASLP would train exactly as BCE" in result.err
    assert "--epochs=8 or more" in result.err and "--start_epoch=1 or less" in result.err
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", "--method=SLP", "--slp_alpha=0")
    assert result.code == 2 and "SLP would train exactly as BCE" in result.err
    assert not (tmp_path / "experiments").exists()


def test_post_hoc_without_its_network_says_which_network_it_needs(demo_root, tmp_path):
    # Without the train stage nothing trains the network a post-hoc row calibrates.
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--compare=TS,ASLP+LTS",
                     "--stages=test,eval")
    assert result.code == 2 and "TS calibrates the BCE network" in result.err
    assert "run the train stage too" in result.err and "--weights" in result.err


def copy_of_demo(demo_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    return root


def test_every_test_set_is_checked_before_training(demo_root, tmp_path):
    root = copy_of_demo(demo_root, tmp_path)
    common = ["--demo", f"--dataset_root={root}", *TINY]
    missing = run_cli(tmp_path, *common, "--test_datasets=DEMO-SOD,NOPE")
    assert missing.code == 2 and str(root / "Test" / "NOPE" / "Image") in missing.err
    empty = run_cli(tmp_path, *common, "--test_datasets=")
    assert empty.code == 2 and "--test_datasets is empty" in empty.err
    masks = root / "Test" / "DEMO-SOD" / "GT"
    first = sorted(masks.glob("*.png"))[0]
    Image.open(first).save(first.with_suffix(".jpg"), quality=90)
    first.unlink()
    lossy = run_cli(tmp_path, *common)
    assert lossy.code == 2 and first.with_suffix(".jpg").name in lossy.err and "lossless" in lossy.err
    first.with_suffix(".jpg").unlink()
    unmasked = run_cli(tmp_path, *common)
    assert unmasked.code == 2 and "have no mask" in unmasked.err and first.stem in unmasked.err
    for mask in masks.glob("*.png"):  # 8-bit masks saved as 16 bits: by their bit depth the objects would vanish
        Image.fromarray(np.asarray(Image.open(mask)).astype(np.uint16)).save(mask)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(first)
    sixteen = run_cli(tmp_path, *common)
    assert sixteen.code == 2 and "16-bit mask whose levels all lie in 0..255" in sixteen.err and str(masks) in sixteen.err
    assert not any((tmp_path / "experiments").rglob("*.pth"))


def test_split_lists_that_cannot_be_written_name_split_dir(demo_root, tmp_path):
    root = copy_of_demo(demo_root, tmp_path)
    (tmp_path / "a_file").write_text("")
    result = run_cli(tmp_path, "--demo", f"--dataset_root={root}", *TINY, f"--split_dir={tmp_path / 'a_file'}")
    assert result.code == 2 and "--split_dir" in result.err and "a new split cannot be written" in result.err


@pytest.mark.parametrize("argument, message", [
    ("--epochs=0", "--epochs must be at least 1, got 0"), ("--batch_size=0", "--batch_size must be at least 1"),
    ("--lr=-1", "--lr must be positive"), ("--epoch=3", "unknown option --epoch"),
    ("--compare=BCE,XX", "unknown method(s) XX"), ("--svls_kernel=4", "--svls_kernel must be an odd number"),
])
def test_bad_values_are_one_line_errors_before_the_pipeline_is_imported(tmp_path, monkeypatch, argument, message):
    # In this process: the pipeline, which imports torch, cannot be imported (an ImportError would fail the test),
    # so each error comes from the configuration stage before it.
    monkeypatch.setitem(sys.modules, "pipeline", None)
    result = run_cli(tmp_path, argument)
    lines = result.err.splitlines()
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.err
    assert not (tmp_path / "experiments").exists()


# ---- in a fresh process: what must be answered before torch is imported, and Ctrl-C ----------------

def run_without_torch(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """main_ASLP.py as a script, reporting on stderr's last line whether torch was imported before it exited."""
    probe = ("import atexit, runpy, sys; atexit.register(lambda: print('torch imported:', 'torch' in sys.modules, "
             f"file=sys.stderr)); sys.argv = [{str(MAIN)!r}, *sys.argv[1:]]; sys.path.insert(0, {str(MAIN.parent)!r}); "
             f"runpy.run_path({str(MAIN)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", probe, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_help_lists_every_constant_with_its_default_without_importing_torch(tmp_path):
    import main_ASLP
    result = run_without_torch(tmp_path, "--help")
    assert result.returncode == 0 and result.stderr.strip() == "torch imported: False"
    for name, value in main_ASLP.CONSTANTS.items():
        assert f"--{name.lower()}={main_ASLP.format_value(value)}" in result.stdout, name
    assert "--epochs=30" in result.stdout and "training epochs" in result.stdout


def test_a_bad_value_is_refused_before_torch_is_imported(tmp_path):
    # The promise itself, in a fresh interpreter: the configuration stage imports no torch.
    result = run_without_torch(tmp_path, "--epochs=0")
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and lines[0].startswith("error: --epochs must be at least 1, got 0")
    assert lines[1:] == ["torch imported: False"] and not (tmp_path / "experiments").exists()


def test_ctrl_c_prints_the_checkpoint_and_the_resume_command(demo_root, tmp_path):
    process = subprocess.Popen([sys.executable, str(MAIN), "--demo", f"--dataset_root={demo_root}", *TINY,
                                "--epochs=500"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "experiments" / "demo" / "checkpoint.pth"
    try:
        while not checkpoint.exists() and process.poll() is None:
            time.sleep(0.2)  # polling for the first checkpoint, not timing anything
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130 and "Traceback" not in stderr
    assert f"the last checkpoint is {Path('experiments') / 'demo' / 'checkpoint.pth'}" in stderr
    assert "--epochs=500 --resume" in stderr
