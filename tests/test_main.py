"""End to end: main_ASLP.py on the tiny synthetic data, as a user runs it."""
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
    assert (out / "log.csv").read_text().splitlines()[0].split(",")[4] == "alpha_used_mean"
    rows = (out / "alpha_log.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["epoch", "q0"] and "at_ceiling" in rows[0] and len(rows) == 3
    assert "% at the upper clamp" in result.stdout
    assert (out / "alpha_history.png").stat().st_size > 10_000


# Every kind of row: trained methods (a weak Brier network's maps may hold only the levels 0 and 1, which the
# pipeline must still score), post-hoc ones on BCE and on another method. Each objective alone is
# tested in tests/loss.
ALL_METHODS = "BCE,ASLP,Brier,TS,LTS,ASLP+TS,ASLP+LTS"


def test_compare_tabulates_every_method_and_skips_finished_ones(demo_root, tmp_path):
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, f"--compare={ALL_METHODS}")
    assert result.returncode == 0, result.stderr[-3000:]
    table = json.loads((tmp_path / "experiments" / "demo" / "comparison.json").read_text())["summary"]
    assert list(table) == ALL_METHODS.split(",")
    assert set(table["ASLP"]) == {"DEMO-SOD", "DEMO-Texture"}  # one set per group: no mean columns
    markdown = (tmp_path / "experiments" / "demo" / "comparison.md").read_text()
    overall, location = markdown.split("Where the miscalibration is")  # the second table: boundary band and rest
    for part in (overall, location):
        assert sum(line.startswith("| ") for line in part.splitlines()) == 1 + len(table) and "**" in part
    assert "Protocol: paper protocol" in markdown
    # Post-hoc calibration changes the confidences, never the decisions of the probabilities: the same
    # calibrated accuracy as the network it calibrates (the stretched maps of the paper protocol may differ).
    for calibrated, network in (("TS", "BCE"), ("LTS", "BCE"), ("ASLP+TS", "ASLP"), ("ASLP+LTS", "ASLP")):
        for name in ("DEMO-SOD", "DEMO-Texture"):
            assert (table[calibrated][name]["probabilities_ACC"]["mean"]
                    == table[network][name]["probabilities_ACC"]["mean"]), (calibrated, name)
    fit = json.loads((tmp_path / "experiments" / "demo" / "TS" / "ts_fit.json").read_text())
    assert fit["temperature"] > 0 and fit["weights"].endswith(str(Path("BCE") / "Model_2_Gen.pth"))
    assert (tmp_path / "experiments" / "demo" / "ASLP_MC+LTS" / "lts_fit.pth").is_file()
    assert "TS on " in result.stdout and "LTS on " in result.stdout

    again = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--compare=BCE,Brier",
                     "--stages=train")
    assert again.returncode == 0 and again.stdout.count("is not retrained (this continues the comparison") == 2


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


def run_without_torch(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """main_ASLP.py as a script, reporting on stderr's last line whether torch was imported before it exited."""
    probe = ("import atexit, runpy, sys; atexit.register(lambda: print('torch imported:', 'torch' in sys.modules, "
             f"file=sys.stderr)); sys.argv = [{str(MAIN)!r}, *sys.argv[1:]]; sys.path.insert(0, {str(MAIN.parent)!r}); "
             f"runpy.run_path({str(MAIN)!r}, "
             "run_name='__main__')")
    return subprocess.run([sys.executable, "-c", probe, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_help_lists_every_constant_with_its_default_without_importing_torch(tmp_path):
    import main_ASLP
    result = run_without_torch(tmp_path, "--help")
    assert result.returncode == 0 and result.stderr.strip() == "torch imported: False"
    for name, value in main_ASLP.CONSTANTS.items():
        assert f"--{name.lower()}={main_ASLP.format_value(value)}" in result.stdout, name
    assert "--epochs=30" in result.stdout and "training epochs" in result.stdout


def test_method_names_known_before_import_are_the_objectives_and_the_calibrators():
    import methods
    from calibrators import CALIBRATORS
    from loss import OBJECTIVES
    assert set(methods.TRAINED) == set(OBJECTIVES) and set(methods.POST_HOC) == set(CALIBRATORS)
    assert [methods.network_method(m) for m in ("TS", "LTS", "ASLP+TS", "MbLS+LTS", "ASLP")] == \
        ["BCE", "BCE", "ASLP", "MbLS", "ASLP"]
    assert [methods.known_method(m) for m in ("ASLP+LTS", "TS+TS", "ASLP+", "Nope", "BCE+Focal")] == \
        [True, False, False, False, False]


@pytest.mark.parametrize("argument, message", [
    ("--epochs=0", "--epochs must be at least 1, got 0"), ("--batch_size=0", "--batch_size must be at least 1"),
    ("--lr=-1", "--lr must be positive"), ("--epoch=3", "unknown option --epoch"),
])
def test_bad_values_are_one_line_errors_before_torch_is_imported(tmp_path, argument, message):
    result = run_without_torch(tmp_path, argument)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and lines[0].startswith(f"error: {message}") and lines[1:] == ["torch imported: False"]
    assert not (tmp_path / "experiments").exists()


def test_weights_with_only_the_train_stage_is_an_error(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"PK")
    result = run_without_torch(tmp_path, "--weights=w.pth", "--stages=train")
    assert result.returncode == 2 and "--weights skips training" in result.stderr and "--stages=test,eval" in result.stderr


def test_weights_that_are_no_checkpoint_stop_first_in_one_line_naming_the_file(tmp_path):
    (tmp_path / "README.md").write_text("# not weights\n")
    result = run_main(tmp_path, "--weights=README.md", "--stages=test")  # and no dataset: the weights come first
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "README.md is not a PyTorch checkpoint" in result.stderr and "file an issue" not in result.stderr


def test_fresh_run_into_a_finished_run_is_refused_and_writes_nothing(tiny_run, demo_root):
    out, _ = tiny_run
    before = sorted(p.name for p in out.iterdir())
    result = run_main(out.parent.parent, "--demo", f"--dataset_root={demo_root}", *TINY, "--epochs=1", "--start_epoch=0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    relative = Path("experiments") / "demo"
    for fix in (f"{relative} already holds", "Model_2_Gen.pth", "--experiment=", "--resume", f"delete {relative}"):
        assert fix in result.stderr, fix
    assert sorted(p.name for p in out.iterdir()) == before


def test_resume_with_another_architecture_or_method_is_refused(tiny_run, demo_root):
    out, _ = tiny_run
    result = run_main(out.parent.parent, "--demo", f"--dataset_root={demo_root}", *TINY, "--resume",
                      "--feat_channel=16", "--method=BCE")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    checkpoint = Path("experiments") / "demo" / "checkpoint.pth"
    assert f"{checkpoint} was trained with --feat_channel=8 --method=ASLP" in result.stderr
    assert "--experiment" in result.stderr


def test_end_of_run_says_where_results_maps_and_plots_are(tiny_run):
    _, result = tiny_run
    summary = result.stdout[result.stdout.rindex("Outputs:"):]
    out = Path("experiments") / "demo"
    for path in (out / "Model_2_Gen.pth", out / "predictions" / "DEMO-SOD", out / "results.md", out / "alpha.json"):
        assert str(path) in summary, path
    assert "reliability_" in summary or "alpha_history.png" in summary


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


def copy_of_demo(demo_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(demo_root, root)
    return root


def test_a_perturbation_that_never_happens_stops_before_training(demo_root, tmp_path):
    # The demo starts alpha after epoch 6: three epochs of ASLP would be BCE, row for row.
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", "--compare=BCE,ASLP", "--epochs=3")
    assert result.returncode == 2 and "ASLP would train exactly as BCE" in result.stderr
    assert "--epochs=8 or more" in result.stderr and "--start_epoch=1 or less" in result.stderr
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", "--method=SLP", "--slp_alpha=0")
    assert result.returncode == 2 and "SLP would train exactly as BCE" in result.stderr
    assert not (tmp_path / "experiments").exists()


def test_post_hoc_without_its_network_says_which_network_it_needs(demo_root, tmp_path):
    result = run_main(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--compare=TS,ASLP+LTS")
    assert result.returncode == 2 and "TS calibrates a BCE network" in result.stderr
    assert "add BCE to --compare" in result.stderr and "--weights" in result.stderr


def test_every_test_set_is_checked_before_training(demo_root, tmp_path):
    root = copy_of_demo(demo_root, tmp_path)
    common = ["--demo", f"--dataset_root={root}", *TINY]
    missing = run_main(tmp_path, *common, "--test_datasets=DEMO-SOD,NOPE")
    assert missing.returncode == 2 and str(root / "Test" / "NOPE" / "Image") in missing.stderr
    empty = run_main(tmp_path, *common, "--test_datasets=")
    assert empty.returncode == 2 and "--test_datasets is empty" in empty.stderr
    masks = root / "Test" / "DEMO-SOD" / "GT"
    first = sorted(masks.glob("*.png"))[0]
    Image.open(first).save(first.with_suffix(".jpg"), quality=90)
    first.unlink()
    lossy = run_main(tmp_path, *common)
    assert lossy.returncode == 2 and first.with_suffix(".jpg").name in lossy.stderr and "lossless" in lossy.stderr
    first.with_suffix(".jpg").unlink()
    unmasked = run_main(tmp_path, *common)
    assert unmasked.returncode == 2 and "have no mask" in unmasked.stderr and first.stem in unmasked.stderr
    for mask in masks.glob("*.png"):
        Image.fromarray((np.asarray(Image.open(mask)) > 127).astype(np.uint8)).save(mask)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(first)
    zero_one = run_main(tmp_path, *common)
    assert zero_one.returncode == 2 and "only the levels 0 and 1" in zero_one.stderr and str(masks) in zero_one.stderr
    assert not any((tmp_path / "experiments").rglob("*.pth"))


def test_split_lists_that_cannot_be_written_name_split_dir(demo_root, tmp_path):
    root = copy_of_demo(demo_root, tmp_path)
    (tmp_path / "a_file").write_text("")
    result = run_main(tmp_path, "--demo", f"--dataset_root={root}", *TINY, f"--split_dir={tmp_path / 'a_file'}")
    assert result.returncode == 2 and "--split_dir" in result.stderr and "a new split cannot be written" in result.stderr


def test_weights_folder_is_refused_naming_the_files_in_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "Model_2_Gen.pth").write_bytes(b"")
    result = run_main(tmp_path, "--weights=run", "--stages=test")
    assert result.returncode == 2 and "is a folder" in result.stderr and "Model_2_Gen.pth" in result.stderr
