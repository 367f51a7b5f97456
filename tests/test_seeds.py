"""--seeds: every method once per seed, one folder per run, a mean ± std comparison."""
import json
import subprocess
import sys
from pathlib import Path

MAIN = Path(__file__).resolve().parents[1] / "main_ASLP.py"
TINY = ["--epochs=2", "--start_epoch=1", "--train_size=32", "--test_size=32", "--feat_channel=8",
        "--batch_size=8", "--validation_size=4", "--eval_workers=1", "--log_every=1"]


def test_each_method_runs_once_per_seed_and_is_summarised(demo_root, tmp_path):
    result = subprocess.run(
        [sys.executable, str(MAIN), "--demo", f"--dataset_root={demo_root}", *TINY, "--compare=BCE,TS",
         "--seeds=3,4", "--experiment=seeded"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "experiments" / "seeded"
    for seed in (3, 4):
        for method in ("BCE", "TS"):
            assert (out / f"seed{seed}" / method / "results.json").is_file()
    first = json.loads((out / "seed3" / "BCE" / "results.json").read_text())
    second = json.loads((out / "seed4" / "BCE" / "results.json").read_text())
    assert first["DEMO-SOD"]["ECE"] != second["DEMO-SOD"]["ECE"]  # the seed reached the training
    table = json.loads((out / "comparison.json").read_text())
    assert table["seeds"] == [3, 4] and table["protocol"] == "paper"
    assert sorted((run["method"], run["seed"]) for run in table["runs"]) == [("BCE", 3), ("BCE", 4), ("TS", 3), ("TS", 4)]
    assert table["summary"]["BCE"]["DEMO-SOD"]["ECE"]["n"] == 2
    assert "±" in (out / "comparison.md").read_text() and "±" in result.stdout
    assert (out / "comparison.csv").read_text().splitlines()[0].startswith("method,seed,protocol,")
