"""main_ASLP.py under a write failure: one line naming the file, no traceback, no half-written file, and the
same command with --resume then finishes the run."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from common import atomic
from data.demo import make_demo_dataset
from tests.conftest import TINY, run_cli
from tests.interrupting import visible_lines


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data cut to 12 training images: with TINY's 4 for validation, one batch of 8 per epoch (the
    session's 24 take three batches and ~2.5 times as long, for the same two checkpoints)."""
    return make_demo_dataset(tmp_path_factory.mktemp("small_demo"), seed=0, n_train=12, n_test=1, n_texture=1)


def test_a_full_disk_mid_training_is_one_line_and_resume_finishes_the_run(
        small_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, written = atomic.os.replace, []

    def full_after_first_checkpoint(source: str, target: str) -> None:
        if Path(target).name == "checkpoint.pth":
            if written:  # the second epoch's checkpoint finds the disk full
                raise OSError(errno.ENOSPC, "No space left on device")
            written.append(target)
        real(source, target)

    args = ("--demo", f"--dataset_root={small_demo}", *TINY, "--experiment=full", "--method=BCE", "--stages=train")
    monkeypatch.setattr(atomic.os, "replace", full_after_first_checkpoint)
    first = run_cli(tmp_path, *args)
    monkeypatch.undo()
    lines = visible_lines(first.err)
    assert first.code == 2 and len(lines) == 1, first.err
    assert "checkpoint.pth" in lines[0] and "ENOSPC" in lines[0] and "previous version is intact" in lines[0]
    run_dir = tmp_path / "experiments" / "full"
    assert not [p.name for p in run_dir.iterdir() if ".tmp" in p.name]
    resumed = run_cli(tmp_path, *args, "--resume")
    assert resumed.code == 0, resumed.err
    assert "Resuming from" in resumed.out and (run_dir / "Model_2_Gen.pth").is_file()
