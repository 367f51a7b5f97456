"""main_ASLP.py's command line: Ctrl-C anywhere before training is one line and status 130."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.interrupting import HAS_PROC, REPO, interrupted, slow_import

MAIN = REPO / "main_ASLP.py"


@pytest.mark.parametrize("imported", ["configurator", "pipeline"])
def test_ctrl_c_while_the_modules_load_is_one_line_and_status_130(tmp_path: Path, imported: str) -> None:
    # The script's own imports, and torch's with the pipeline (a KeyboardInterrupt inside an extension's import
    # surfaces as an ImportError traceback). Were the Ctrl-C missed, the missing data would stop the run at once.
    command = slow_import(str(MAIN), imported, "--stages=eval", f"--dataset_root={tmp_path / 'missing'}")
    status, lines, stderr = interrupted(command, tmp_path, line=f"importing {imported}")
    assert (status, lines) == (130, ["interrupted"]), stderr


@pytest.mark.skipif(not HAS_PROC, reason="finds the forkserver in /proc")
def test_ctrl_c_while_the_eval_stage_starts_its_workers_is_one_line_and_status_130(tmp_path: Path) -> None:
    # As `python -m evaluate` (tests/evaluate/test_cli.py): sent while the scoring's forkserver imports its modules.
    rng = np.random.default_rng(0)
    masks, maps = tmp_path / "data" / "Test" / "S" / "GT", tmp_path / "experiments" / "e" / "predictions" / "S"
    for folder in (masks, maps):
        folder.mkdir(parents=True)
    for index in range(40):
        gt = np.zeros((24, 32), np.uint8)
        gt[6:18, 8:24] = 255
        cv2.imwrite(str(masks / f"{index}.png"), gt)
        cv2.imwrite(str(maps / f"{index}.png"), rng.integers(0, 256, gt.shape, dtype=np.uint8))
    command = [sys.executable, str(MAIN), "--stages=eval", f"--dataset_root={tmp_path / 'data'}", "--test_datasets=S",
               "--experiment=e", "--eval_workers=2"]
    status, lines, stderr = interrupted(command, tmp_path, forkserver_loaded="cv2")
    assert (status, lines) == (130, ["interrupted"]), stderr
    assert not (tmp_path / "experiments" / "e" / "results.json").exists()
