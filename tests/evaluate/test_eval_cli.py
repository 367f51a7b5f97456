"""The ``python -m evaluate`` command line, run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "evaluate", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _write(folder: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    (folder / "Image").mkdir(parents=True)  # the project's layout: images beside GT, never read
    (folder / "GT").mkdir()
    (folder / "pred").mkdir()
    for index in range(n):
        gt = np.zeros((32, 48), np.uint8)
        gt[8:24, 10:30] = 255
        pred = np.clip(cv2.GaussianBlur(gt, (7, 7), 2) + rng.normal(0, 25, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / "GT" / f"{index}.png"), gt)
        cv2.imwrite(str(folder / "pred" / f"{index}.png"), pred)


def test_single_set(tmp_path: Path) -> None:
    _write(tmp_path / "ECSSD", n=3, seed=0)
    pred = tmp_path / "ECSSD" / "pred"
    result = _run(f"--pred={pred}", f"--gt={tmp_path / 'ECSSD' / 'GT'}", "--name=ECSSD", "--workers=1")
    assert result.returncode == 0, result.stderr
    assert "| ECSSD" in result.stdout and "ECE %" in result.stdout
    # Default output folder: beside the predictions, never inside them.
    out = tmp_path / "ECSSD" / "pred_eval"
    for name in ("results.md", "results.csv", "results.json", "reliability_ECSSD.png", "reliability_all.png"):
        assert (out / name).is_file(), name
        assert not (pred / name).exists(), name
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
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_unwritable_output_exits_2_before_scoring(tmp_path: Path) -> None:
    _write(tmp_path / "S", n=2, seed=0)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        result = _run(f"--pred={tmp_path / 'S' / 'pred'}", f"--gt={tmp_path / 'S' / 'GT'}", f"--out={out}")
        assert result.returncode == 2, result.stderr
        assert f"evaluate: error: cannot write the results into {out}" in result.stderr
        assert "Traceback" not in result.stderr and "| S" not in result.stdout


def test_protocols_and_raw_maps(tmp_path: Path) -> None:
    _write(tmp_path / "S", n=2, seed=1)
    pred, gt = tmp_path / "S" / "pred", tmp_path / "S" / "GT"
    out = tmp_path / "out"
    result = _run(f"--pred={pred}", f"--gt={gt}", f"--prob={pred}", f"--out={out}", "--workers=1")
    assert result.returncode == 0, result.stderr
    assert "Calibration, paper protocol" in result.stdout and "raw p: ECE %" in result.stdout
    assert json.loads((out / "results.json").read_text())["pred"]["calibrated_ECE"] is not None
    result = _run(f"--pred={pred}", f"--gt={gt}", "--protocol=calibrated", f"--out={out}", "--workers=1")
    assert result.returncode == 0 and "Calibration, calibrated protocol" in result.stdout
    assert json.loads((out / "results.json").read_text())["pred"]["protocol"] == "calibrated"
    assert _run(f"--pred={pred}", f"--gt={gt}", "--protocol=calibrated", f"--prob={pred}").returncode == 2
