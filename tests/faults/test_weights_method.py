"""--weights trained as one method are not filed and labelled as METHOD's default (pipeline.py): the run stops
naming the method their run's record names."""
from __future__ import annotations

from pathlib import Path

import torch

from model import build_model
from model.checkpoint import recorded_method
from tests.conftest import TINY, run_cli
from tests.interrupting import visible_lines


def _bce_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    weights = folder / "Model_2_Gen.pth"
    torch.save(build_model(8).state_dict(), weights)
    torch.save({"run": {"METHOD": "BCE"}, "epoch": 2}, folder / "checkpoint.pth")
    return weights


def test_weights_of_a_bce_run_tested_under_the_default_method_stop_naming_bce(demo_root: Path, tmp_path: Path) -> None:
    weights = _bce_run(tmp_path / "runs" / "bce")
    assert recorded_method(weights) == ("BCE", weights.parent / "checkpoint.pth")
    result = run_cli(tmp_path, "--demo", f"--dataset_root={demo_root}", *TINY, f"--weights={weights}",
                     "--stages=test,eval")
    lines = visible_lines(result.err)
    assert result.code == 2 and len(lines) == 1, result.err
    assert "was trained as BCE" in lines[0] and "as ASLP" in lines[0] and "--method=BCE" in lines[0]
    assert not (tmp_path / "experiments").exists()


def test_weights_without_a_record_are_taken_as_named(tmp_path: Path) -> None:
    weights = tmp_path / "Model_30_Gen.pth"
    torch.save(build_model(8).state_dict(), weights)
    assert recorded_method(weights) is None
