"""One writer per experiment folder (common/lock.py): a second run into a folder being written stops at
once naming the first; a lock left by a killed run is taken over with a note."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

from common.lock import OWNER_NAME, folder_lock
from tests.conftest import TINY, run_cli


def test_a_second_run_into_a_locked_experiment_stops_at_once_naming_the_first(demo_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "experiments" / "conc"
    with folder_lock(folder):
        result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, "--experiment=conc")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "is being written by another run" in lines[0], result.err
    assert f"PID {os.getpid()}" in lines[0]
    assert "Training" not in result.out  # refused before any work
    assert not (folder / "log.csv").exists()


def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_note(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    folder = tmp_path / "experiments" / "killed"
    folder.mkdir(parents=True)
    (folder / ".lock").write_text("")
    (folder / OWNER_NAME).write_text(f"{pid} python main_ASLP.py --experiment=killed\n")
    out = io.StringIO()
    with redirect_stdout(out), folder_lock(folder):
        assert (folder / OWNER_NAME).read_text().split()[0] == str(os.getpid())
    assert f"locked by PID {pid}" in out.getvalue() and "taking the lock over" in out.getvalue()
    assert not (folder / OWNER_NAME).exists()  # released at the end
