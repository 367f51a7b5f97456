"""The ``python -m evaluate`` command line: its options and errors in this process (``main``), and as a
process where the entry point itself is what is tested (from any folder, what --help imports, Ctrl-C)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import evaluate.runner
from common.interrupts import INTERRUPTED_STATUS
from evaluate.__main__ import INTERRUPTED, main
from tests.conftest import PROJECT_ROOT, write_pairs
from tests.interrupting import HAS_PROC, interrupted, slow_import

# What --help must not load: the scoring libraries (and never torch).
HEAVY_MODULES = ("numpy", "cv2", "scipy", "py_sod_metrics", "sklearn", "matplotlib", "torch")


def _env_without_repo() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def _run(*args: str) -> SimpleNamespace:
    """`python -m evaluate ARGS` in this process: its exit status and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's own exits: --help, usage errors
            code = exit.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def _write(folder: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    (folder / "Image").mkdir(parents=True)  # the project's layout: images beside GT, never read
    gt = np.zeros((32, 48), np.uint8)
    gt[8:24, 10:30] = 255
    pairs = [(np.clip(cv2.GaussianBlur(gt, (7, 7), 2) + rng.normal(0, 25, gt.shape), 0, 255).astype(np.uint8), gt)
             for _ in range(n)]
    write_pairs(folder / "pred", folder / "GT", pairs)


def test_single_set(tmp_path: Path) -> None:
    _write(tmp_path / "ECSSD", n=3, seed=0)
    pred = tmp_path / "ECSSD" / "pred"
    result = _run(f"--pred={pred}", f"--gt={tmp_path / 'ECSSD' / 'GT'}", "--name=ECSSD", "--workers=1")
    assert result.returncode == 0, result.stderr
    assert "| ECSSD" in result.stdout and "ECE %" in result.stdout
    # Default output folder: beside the predictions, never inside them.
    out = tmp_path / "ECSSD" / "pred_eval"
    for name in ("results.md", "results.csv", "results.json"):
        assert (out / name).is_file(), name
    assert list(out.glob("reliability_ECSSD*.png"))
    assert sorted(path.name for path in pred.iterdir()) == ["0.png", "1.png", "2.png"]
    written = json.loads((out / "results.json").read_text())["ECSSD"]
    assert written["n_images"] == 3 and written["protocol"] == "paper"


def test_several_sets_with_gt_root_layout(tmp_path: Path) -> None:
    for index, name in enumerate(("A", "B")):
        _write(tmp_path / "Test" / name, n=2, seed=index)
        (tmp_path / "Test" / name / "pred").rename(tmp_path / "Test" / f"pred_{name}")
        (tmp_path / "preds").mkdir(exist_ok=True)
        (tmp_path / "Test" / f"pred_{name}").rename(tmp_path / "preds" / name)
    out = tmp_path / "out"
    result = _run(
        f"--pred-root={tmp_path / 'preds'}", f"--gt-root={tmp_path / 'Test'}", "--datasets=A,B", f"--out={out}"
    )
    assert result.returncode == 0, result.stderr
    assert set(json.loads((out / "results.json").read_text())) == {"A", "B"}


def test_missing_folder_exits_2_with_message(tmp_path: Path) -> None:
    _write(tmp_path / "S", n=1, seed=0)
    missing = tmp_path / "S" / "no_masks_here"
    result = _run(f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={missing}")
    assert result.returncode == 2
    assert str(missing) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "S" / "pred" / "results.json").exists()


def test_inconsistent_options_exit_2(tmp_path: Path) -> None:
    assert _run().returncode == 2
    assert _run(f"--pred={tmp_path}", f"--pred-root={tmp_path}").returncode == 2
    assert _run(f"--pred={tmp_path}", f"--gt={tmp_path}", "--workers=0").returncode == 2


def test_package_never_imports_torch_or_the_model() -> None:
    code = (
        "import sys, evaluate, evaluate.__main__\n"
        "bad = sorted(m for m in ('torch', 'model', 'loss') if m in sys.modules)\n"
        "sys.exit(f'imported {bad}' if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_unwritable_output_exits_2_before_scoring(tmp_path: Path) -> None:
    _write(tmp_path / "S", n=2, seed=0)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        result = _run(f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={tmp_path / 'S' / 'GT'}", f"--out={out}")
        assert result.returncode == 2, result.stderr
        assert f"evaluate: error: cannot write to the output folder {out}" in result.stderr
        assert "Traceback" not in result.stderr and "| S" not in result.stdout


def test_protocols_and_probability_maps(tmp_path: Path) -> None:
    _write(tmp_path / "S", n=2, seed=1)
    pred, gt = tmp_path / "S" / "pred", tmp_path / "S" / "GT"
    out = tmp_path / "out"
    result = _run(f"--pred={pred}", f"--gt={gt}", f"--probabilities={pred}", f"--out={out}", "--workers=1")
    assert result.returncode == 0, result.stderr
    assert "Calibration, paper protocol" in result.stdout
    assert json.loads((out / "results.json").read_text())["pred"]["probabilities_ECE"] is not None
    result = _run(f"--pred={pred}", f"--gt={gt}", "--protocol=calibrated", f"--out={out}", "--workers=1")
    assert result.returncode == 0 and "Calibration, calibrated protocol" in result.stdout
    assert json.loads((out / "results.json").read_text())["pred"]["protocol"] == "calibrated"
    refused = _run(f"--pred={pred}", f"--gt={gt}", "--protocol=calibrated", f"--probabilities={pred}")
    assert refused.returncode == 2 and "--probabilities/--probabilities-root go with --protocol=paper" in refused.stderr


@pytest.mark.parametrize(("entry", "workers"), [("evaluate", 2), ("evaluate/__main__.py", 1)])
def test_runs_from_any_working_directory(tmp_path: Path, entry: str, workers: int) -> None:
    # `python ROOT/evaluate` (the package folder) and `python ROOT/evaluate/__main__.py`, from elsewhere and
    # without the repository on PYTHONPATH; with two workers, whose processes must find the package too.
    _write(tmp_path / "S", n=3, seed=2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / entry), "--pred=../S/pred", "--gt=../S/GT", "--out=out",
         f"--workers={workers}"],
        cwd=elsewhere, env=_env_without_repo(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((elsewhere / "out" / "results.json").read_text())["pred"]["n_images"] == 3


def test_help_loads_no_scoring_library() -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['evaluate', '--help']\n"
        "try:\n"
        "    runpy.run_module('evaluate', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"loaded = [name for name in {HEAVY_MODULES!r} if name in sys.modules]\n"
        "sys.exit(f'--help imported {loaded}' if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--probabilities", "--probabilities-root", "--trust-map-levels", "paper", "calibrated"):
        assert option in result.stdout, option


def _binary_maps(folder: Path) -> None:
    for path in (folder / "pred").iterdir():
        cv2.imwrite(str(path), (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) >= 128).astype(np.uint8))


def test_maps_holding_only_0_and_1_stop_with_both_ways_on(tmp_path: Path) -> None:
    _write(tmp_path / "S", n=2, seed=3)
    _binary_maps(tmp_path / "S")
    pred, gt = tmp_path / "S" / "pred", tmp_path / "S" / "GT"
    refused = _run(f"--pred={pred}", f"--gt={gt}", f"--out={tmp_path / 'out'}", "--workers=1")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "hold only the levels 0 and 1" in refused.stderr and "multiply them by 255" in refused.stderr
    assert "--trust-map-levels" in refused.stderr
    trusted = _run(f"--pred={pred}", f"--gt={gt}", f"--out={tmp_path / 'out'}", "--workers=1", "--trust-map-levels")
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["pred"]["n_images"] == 2


def test_ctrl_c_anywhere_in_scoring_is_one_line_and_status_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "S", n=1, seed=0)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate.runner, "run_evaluation", interrupted)
    status = main([f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={tmp_path / 'S' / 'GT'}"])
    assert status == INTERRUPTED_STATUS == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "evaluate: interrupted (Ctrl-C) before the results were written"
    ]


def test_ctrl_c_at_the_terminal_while_workers_score(tmp_path: Path) -> None:
    # A terminal's Ctrl-C signals the whole process group: the command and its worker processes.
    _write(tmp_path / "S", n=40, seed=4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "evaluate", f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={tmp_path / 'S' / 'GT'}",
               f"--out={tmp_path / 'out'}", "--workers=2"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    seen = b""
    while b"%|" not in seen:  # the progress bar: scoring has started
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    os.killpg(process.pid, signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    stderr = (seen + rest).decode()
    assert b"%|" in seen, f"no progress bar before the end: {stderr}"
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.rstrip().endswith("evaluate: interrupted (Ctrl-C) before the results were written")


@pytest.mark.skipif(not HAS_PROC, reason="finds the forkserver in /proc")
def test_ctrl_c_while_the_workers_start_is_one_line_and_status_130(tmp_path: Path) -> None:
    # The forkserver imports the scoring libraries for about a second before it forks the workers: a Ctrl-C then
    # used to print its traceback (and one reaching a worker before its initializer, the worker's). Sent once
    # the server has loaded OpenCV, the first of them after numpy (a Ctrl-C inside numpy's import is swallowed).
    _write(tmp_path / "S", n=40, seed=5)
    command = [sys.executable, "-m", "evaluate", f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={tmp_path / 'S' / 'GT'}",
               f"--out={tmp_path / 'out'}", "--workers=2"]
    status, lines, stderr = interrupted(command, PROJECT_ROOT, forkserver_loaded="cv2")
    assert (status, lines) == (130, [INTERRUPTED]), stderr
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize("imported", ["argparse", "evaluate.runner"])
def test_ctrl_c_while_the_modules_load_is_one_line_and_status_130(tmp_path: Path, imported: str) -> None:
    # Before the command's first line (argparse) and while the scoring libraries load (a KeyboardInterrupt inside
    # numpy's first import surfaces as an ImportError and its traceback).
    _write(tmp_path / "S", n=2, seed=6)
    command = slow_import("evaluate", imported, f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={tmp_path / 'S' / 'GT'}",
                          f"--out={tmp_path / 'out'}", "--workers=1")
    status, lines, stderr = interrupted(command, PROJECT_ROOT, line=f"importing {imported}")
    assert (status, lines) == (130, [INTERRUPTED]), stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--pred=p", "--gt=g", "--bins=abc"], "argument --bins: must be a positive integer, got 'abc'"),
    (["--pred=p"], "--pred and --gt go together"),
    ([], "give either --pred and --gt, or --pred-root, --gt-root and --datasets"),
])
def test_usage_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Found by tests/test_command_lines.py: argparse printed its whole usage (9 lines) before the error, and
    # named the type function ("invalid _positive_int value").
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"evaluate: error: {message}; python -m evaluate --help lists the options"
    ]
