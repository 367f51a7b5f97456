"""main_ASLP.py's training under a write failure or Ctrl-C (tests/faults/injecting.py): one line naming the
file (Ctrl-C: the checkpoint and the command that continues), no traceback, no half-written file, and the same
command with --resume then finishes the run."""
from __future__ import annotations

from pathlib import Path

import pytest

from data.demo import make_demo_dataset
from tests.conftest import TINY, run_cli
from tests.faults.injecting import CTRL_C, FULL_DISK, assert_whole, faulted_at
from tests.interrupting import visible_lines


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data cut to 12 training images: with TINY's 4 for validation, one batch of 8 per epoch (the
    session's 24 take three batches and ~2.5 times as long, for the same two checkpoints)."""
    return make_demo_dataset(tmp_path_factory.mktemp("small_demo"), seed=0, n_train=12, n_test=1, n_texture=1)


def test_a_full_disk_mid_training_is_one_line_and_resume_finishes_the_run(
        small_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("--demo", f"--dataset_root={small_demo}", *TINY, "--experiment=full", "--method=BCE", "--stages=train")
    targets = faulted_at(monkeypatch, "checkpoint.pth", FULL_DISK, nth=2)  # epoch 2's checkpoint
    first = run_cli(tmp_path, *args)
    monkeypatch.undo()
    lines = visible_lines(first.err)
    assert first.code == 2 and len(lines) == 1, first.err
    assert f"could not write {targets[-1]}: " in lines[0]
    assert "ENOSPC" in lines[0] and "previous version is intact" in lines[0]
    run_dir = tmp_path / "experiments" / "full"
    assert_whole(run_dir)
    # Resumed after the last checkpoint, the run still writes the network and its plot: a fault there too.
    for name, kind in (("Model_2_Gen.pth", FULL_DISK), ("calibration_history.png", CTRL_C)):
        targets = faulted_at(monkeypatch, name, kind)
        cut = run_cli(tmp_path, *args, "--resume")
        monkeypatch.undo()
        lines = visible_lines(cut.err)
        assert Path(targets[-1]).name == name and "Traceback" not in cut.err, cut.err
        if kind == FULL_DISK:
            assert cut.code == 2 and len(lines) == 1 and f"could not write {targets[-1]}: " in lines[0], lines
        else:  # where the checkpoint is, and the command that continues
            assert cut.code == 130 and lines[0].startswith("training interrupted") and lines[-1].endswith("--resume")
        assert_whole(run_dir)
    resumed = run_cli(tmp_path, *args, "--resume")
    assert resumed.code == 0, resumed.err
    assert "Resuming from" in resumed.out and (run_dir / "Model_2_Gen.pth").is_file()
    assert (run_dir / "calibration_history.png").is_file()
    assert_whole(run_dir)
