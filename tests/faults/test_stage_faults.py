"""main_ASLP.py's test and eval stages and predict.py under faults injected in-process (tests/faults/injecting.py):
a full disk at the k-th write and Ctrl-C at several points. Each faulted run is one line, no traceback, no
temporary left and every file present whole; the next run starts where the last stopped, and the run that
finishes ends with the very numbers and maps of the session's uninterrupted run.

One chain of runs into one folder, each faulted at another point, keeps this to a few short runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.layout import MAPS_RECORD
from tests.conftest import TINY, Result, run_cli
from tests.faults.injecting import CTRL_C, FULL_DISK, assert_whole, faulted_at
from tests.interrupting import visible_lines


def _assert_one_line(result: tuple[int, str], kind: str, target: str, interrupted: str) -> None:
    code, err = result
    lines = visible_lines(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    if kind == FULL_DISK:
        assert code == 2 and f"could not write {target}: " in lines[0] and "ENOSPC" in lines[0], lines
    else:
        assert code == 130 and lines[0] == interrupted, lines


# (k, fault): the k-th of a tiny test-and-eval run's 27 writes: the lock's owner file (k = 1), 12 maps, the two
# maps.json (14, 15), results.json (16), curves.json, results.csv, results.md, the reliability plots (20, 21),
# images.csv, the report page's data and page (24), the curves.
STAGE_FAULTS = [(1, FULL_DISK), (6, CTRL_C), (15, FULL_DISK), (16, CTRL_C), (20, FULL_DISK), (24, CTRL_C)]


def test_test_and_eval_stages_faulted_at_each_point_rerun_to_the_uninterrupted_results(
        demo_comparison: tuple[Path, Result], demo_root: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    comparison, _ = demo_comparison
    args = ("--demo", f"--dataset_root={demo_root}", *TINY, f"--weights={comparison / 'BCE' / 'Model_2_Gen.pth'}",
            "--method=BCE", "--stages=test,eval", "--test_datasets=DEMO-SOD", "--experiment=faulted")
    run_dir = tmp_path / "experiments" / "faulted"
    for k, kind in STAGE_FAULTS:  # each run the rerun of the one before it
        targets = faulted_at(monkeypatch, k, kind)
        result = run_cli(tmp_path, *args)
        monkeypatch.undo()
        assert len(targets) == k, f"the run wrote {len(targets)} files, fewer than {k}"
        _assert_one_line((result.code, result.err), kind, targets[-1], "interrupted")
        assert_whole(run_dir)
    finished = run_cli(tmp_path, *args)
    assert finished.code == 0, finished.err
    assert_whole(run_dir)
    expected = json.loads((comparison / "BCE" / "results.json").read_text())["DEMO-SOD"]
    assert json.loads((run_dir / "results.json").read_text())["DEMO-SOD"] == expected


def _digests(folder: Path) -> dict[str, str]:
    return json.loads((folder / MAPS_RECORD).read_text())["digests"]


def _ctrl_c_in_batch(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """Ctrl-C as the network starts its `batch`-th forward pass (counting from 1)."""
    import model

    real, passes = model.build_model, []

    def interrupting(*args: object, **kwargs: object):
        network = real(*args, **kwargs)

        def hook(module: object, inputs: object) -> None:
            passes.append(1)
            if len(passes) == batch:
                raise KeyboardInterrupt

        network.register_forward_pre_hook(hook)
        return network

    monkeypatch.setattr(model, "build_model", interrupting)


# predict.py over the six demo photos in batches of two: 12 maps, then the two maps.json.
PREDICT_FAULTS = [("write", 3, FULL_DISK), ("batch", 2, CTRL_C), ("write", 7, CTRL_C), ("write", 13, FULL_DISK),
                  ("write", 14, CTRL_C)]


def test_predict_faulted_at_each_point_reruns_to_the_test_stages_maps(
        demo_comparison: tuple[Path, Result], demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import predict

    comparison, _ = demo_comparison
    out = tmp_path / "out"
    argv = [f"--weights={comparison / 'BCE' / 'Model_2_Gen.pth'}", f"--out={out}", "--size=32", "--device=cpu",
            f"--images={demo_root / 'Test' / 'DEMO-SOD' / 'Image'}", "--batch-size=2"]
    for where, k, kind in PREDICT_FAULTS:
        if where == "write":
            targets = faulted_at(monkeypatch, k, kind)
        else:
            targets = [""]
            _ctrl_c_in_batch(monkeypatch, k)
        code = predict.cli(argv)
        monkeypatch.undo()
        assert where == "batch" or len(targets) == k, f"predict.py wrote {len(targets)} files, fewer than {k}"
        interrupted = f"interrupted: the maps written so far are in {out}"
        _assert_one_line((code, capsys.readouterr().err), kind, targets[-1], interrupted)
        if out.exists():
            assert_whole(out)
    assert predict.cli(argv) == 0
    assert_whole(out)
    for folder in ("predictions", "probabilities"):  # the very maps of the session's test stage
        assert _digests(out / folder / "DEMO-SOD") == _digests(comparison / "BCE" / folder / "DEMO-SOD")
