"""Shared fixtures and helpers: the synthetic demo data, folders of maps and masks, and main_ASLP.py run in
this process.

Running the script's `cli` in-process, not as a new Python process, saves the 4-20 s that each
import of torch costs; the few tests that must see a fresh process (--help without torch, Ctrl-C)
start one themselves.
"""
from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from filelock import FileLock

from data.demo import make_demo_dataset

# Under pytest-xdist (pytest.ini: two workers, one per core of the CI machine) each worker runs torch
# on one thread, so that the two do not fight over the cores. Set before torch is first imported.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"  # the data and the authors' code beside the project (absent: tests skip)
SHARED_REFERENCE = SHARED / "reference"
# The tiny configuration of the end-to-end runs: 32 px, an 8-channel decoder, two epochs.
TINY = ("--epochs=2", "--start_epoch=1", "--train_size=32", "--test_size=32", "--feat_channel=8", "--batch_size=8",
        "--validation_size=4", "--eval_workers=1", "--log_every=1")
# Every kind of row: trained methods, each post-hoc calibrator on BCE, and calibrators on another method.
ALL_METHODS = ("BCE", "ASLP", "TS", "LTS", "SEL", "SEL-context", "ASLP+TS", "ASLP+LTS")


Named = Mapping[str, np.ndarray] | Sequence[np.ndarray]


def write_maps(folder: Path, maps: Named, stem: str = "{}") -> Path:
    """Each 8-bit array of `maps` as a PNG in `folder` (made if missing), named by its key, or `stem` filled with
    its index ("{}": 0.png, 1.png, ...; "im{:02d}": im00.png, ...); returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    named = maps if isinstance(maps, Mapping) else {stem.format(index): image for index, image in enumerate(maps)}
    for name, image in named.items():
        if not cv2.imwrite(str(folder / f"{name}.png"), image):
            raise OSError(f"could not write {folder / name}.png")
    return folder


def write_pairs(pred_dir: Path, gt_dir: Path, pairs: Mapping[str, tuple] | Sequence[tuple],
                stem: str = "{}") -> tuple[Path, Path]:
    """Each (map, mask) pair of `pairs` under one name (as in `write_maps`) in `pred_dir` and in `gt_dir`;
    returns the two folders."""
    named = dict(pairs) if isinstance(pairs, Mapping) else {stem.format(i): pair for i, pair in enumerate(pairs)}
    write_maps(pred_dir, {name: pred for name, (pred, _) in named.items()})
    write_maps(gt_dir, {name: gt for name, (_, gt) in named.items()})
    return pred_dir, gt_dir


@dataclass(frozen=True)
class Result:
    """What a run of main_ASLP.py's command line returned and printed."""

    code: int
    out: str
    err: str


def run_cli(cwd: Path, *args: str) -> Result:
    """main_ASLP.py's command line in this process, run from `cwd` (its outputs are relative to it)."""
    import main_ASLP

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main_ASLP.cli(list(args))
    finally:
        os.chdir(previous)
    return Result(code, out.getvalue(), err.getvalue())


def _once_per_session(tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[Path, FileLock]:
    """A folder `name` made once for the whole test session, and the lock to hold while making it: under
    pytest-xdist (`-n 2`) every worker is a process of its own, and they share the folder above their
    temporary folders."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    return shared / name, FileLock(str(shared / f"{name}.lock"))


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, lock = _once_per_session(tmp_path_factory, "demo_data")
    with lock:  # the data set's own marker says when it is complete
        return make_demo_dataset(folder, seed=0, n_train=24, n_test=6, n_texture=4)


@pytest.fixture(scope="session")
def demo_comparison(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """The tiny network of every trained method, trained once per test session (one worker trains, the
    others wait and read), with every post-hoc row, tested and scored: (the comparison's folder
    experiments/demo, what the run printed). Tests that change files copy them first."""
    cwd, lock = _once_per_session(tmp_path_factory, "comparison")
    printed = cwd / "printed.json"
    with lock:
        if not printed.is_file():
            cwd.mkdir(exist_ok=True)
            result = run_cli(cwd, "--demo", f"--dataset_root={demo_root}", *TINY,
                             f"--compare={','.join(ALL_METHODS)}")
            assert result.code == 0, result.err[-3000:]
            printed.write_text(json.dumps(result.__dict__))
    return cwd / "experiments" / "demo", Result(**json.loads(printed.read_text()))


@pytest.fixture(scope="session")
def released_layout() -> dict[str, list[int]]:
    """Key -> shape of the authors' released checkpoint (shared/reference, beside the project)."""
    path = SHARED_REFERENCE / "official_checkpoint_keys.json"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text())
