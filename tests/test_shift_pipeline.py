"""main_ASLP.py with --corruptions: every corrupted copy of every test set is tested and scored, and the
shift table and figure are written beside the comparison, which keeps the clean sets."""
import json
import shutil

from tests.conftest import TINY, run_cli
from report.shift import CALIBRATOR_NOTE


def test_every_corrupted_copy_is_scored_and_tabulated(demo_comparison, demo_root, tmp_path):
    # The session's tiny BCE network, tested as BCE and calibrated as TS: no training here.
    weights = demo_comparison[0] / "BCE" / "Model_2_Gen.pth"
    root = shutil.copytree(demo_root, tmp_path / "data")  # the corrupted sets are written into the data root
    arguments = ("--demo", f"--dataset_root={root}", *TINY, f"--weights={weights}", "--compare=BCE,TS",
                 "--test_datasets=DEMO-SOD", "--corruptions=gaussian_noise,contrast", "--severities=5",
                 "--experiment=shift", "--stages=test,eval")
    result = run_cli(tmp_path, *arguments)
    assert result.code == 0, result.err[-3000:]
    shifted = ["DEMO-SOD@gaussian_noise-5", "DEMO-SOD@contrast-5"]
    assert "Wrote 2 corrupted test sets" in result.out
    out = tmp_path / "experiments" / "shift"
    for method in ("BCE", "TS"):
        scored = json.loads((out / method / "results.json").read_text())
        assert sorted(scored) == sorted(["DEMO-SOD", *shifted])
        assert all(scored[name]["n_images"] == scored["DEMO-SOD"]["n_images"] for name in shifted)
    compared = json.loads((out / "comparison.json").read_text())
    assert not any("@" in name for run in compared["runs"] for name in run["metrics"])
    table = (out / "shift.md").read_text()
    assert CALIBRATOR_NOTE in table and "## DEMO-SOD" in table and "| TS |" in table
    assert (out / "shift.png").is_file() and "experiments/shift/shift.md" in result.out


def test_scoring_only_needs_the_corrupted_sets_written_by_a_test_stage(demo_root, tmp_path):
    root = shutil.copytree(demo_root, tmp_path / "data")
    result = run_cli(tmp_path, "--demo", f"--dataset_root={root}", "--stages=eval", "--corruptions=contrast",
                     "--severities=2", "--corrupted_sets=DEMO-SOD")
    assert result.code == 2 and "DEMO-SOD@contrast-2" in result.err and "--stages=test,eval" in result.err
