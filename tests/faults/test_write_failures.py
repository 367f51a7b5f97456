"""A write that fails (full disk, quota, read-only folder, file-size limit) while scoring: one line naming the
file and the cause, no traceback, and no half-written file; the next run, with room, writes them all."""
from __future__ import annotations

import errno
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common import atomic
from tests.conftest import PROJECT_ROOT as REPO
from tests.interrupting import visible_lines

OUTPUTS = ("results.json", "curves.json", "results.csv", "results.md")


def _maps_and_masks(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    pred, gt = root / "pred", root / "GT"
    for folder in (pred, gt):
        folder.mkdir(parents=True)
    for index in range(3):
        mask = np.zeros((24, 24), np.uint8)
        mask[6:18, 6:18] = 255
        Image.fromarray(mask).save(gt / f"{index}.png")
        Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)).save(pred / f"{index}.png")
    return pred, gt


def _evaluate(pred: Path, gt: Path, out: Path) -> int:
    from evaluate.__main__ import main

    return main([f"--pred={pred}", f"--gt={gt}", f"--out={out}", "--workers=1"])


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_the_kth_write_failing_ends_in_one_line_and_leaves_no_half_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], k: int) -> None:
    pred, gt = _maps_and_masks(tmp_path)
    out = tmp_path / "out"
    real = atomic.os.replace
    count = 0

    def failing(source: str, target: str) -> None:
        nonlocal count
        count += 1
        if count == k:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(source, target)

    monkeypatch.setattr(atomic.os, "replace", failing)
    assert _evaluate(pred, gt, out) == 2
    lines = visible_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("evaluate: error: could not write ") and "ENOSPC" in lines[0], lines
    assert not [p.name for p in out.rglob("*") if ".tmp" in p.name]  # no temporary left behind
    monkeypatch.undo()
    assert _evaluate(pred, gt, out) == 0  # the next run, with room, writes every file
    assert all((out / name).is_file() for name in OUTPUTS)


def test_a_file_size_limit_while_python_m_evaluate_writes_is_one_line(tmp_path: Path) -> None:
    pred, gt = _maps_and_masks(tmp_path)
    out = tmp_path / "out"

    def limit() -> None:  # in the child: files larger than 2 kB cannot be written (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    result = subprocess.run([sys.executable, "-m", "evaluate", f"--pred={pred}", f"--gt={gt}", f"--out={out}",
                             "--workers=1"], cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=limit)
    lines = visible_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "could not write" in lines[0] and "EFBIG" in lines[0]
    for name in OUTPUTS:  # each there whole, or not at all
        path = out / name
        assert not path.exists() or path.stat().st_size <= 2048
    assert not [p.name for p in out.rglob("*") if ".tmp" in p.name]


def test_convert_masks_stopped_by_a_full_disk_says_so_and_the_next_run_refuses_to_mix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from data.convert_masks import main

    src, dst = tmp_path / "jpg", tmp_path / "png"
    src.mkdir()
    for index in range(3):
        Image.fromarray(np.full((8, 8), 250, np.uint8)).save(src / f"{index}.jpg")
    real, count = atomic.os.replace, [0]

    def second_fails(source: str, target: str) -> None:
        count[0] += 1
        if count[0] == 2:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        real(source, target)

    monkeypatch.setattr(atomic.os, "replace", second_fails)
    assert main([str(src), str(dst)]) == 2
    lines = visible_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("convert_masks: error: could not write") and "EDQUOT" in lines[0]
    assert sorted(p.name for p in dst.iterdir()) == ["0.png"]  # the one written is whole; no temporary left
    monkeypatch.undo()
    assert main([str(src), str(dst)]) == 2  # the next run refuses to mix its masks with those
    assert "exist already" in capsys.readouterr().err


def test_half_a_map_left_by_a_killed_write_is_never_scored_as_a_map(tmp_path: Path) -> None:
    from evaluate import score_dataset

    pred, gt = _maps_and_masks(tmp_path)
    (pred / ".0.4242.tmp.png").write_bytes((pred / "0.png").read_bytes()[:40])  # a kill -9 mid-write left it
    metrics = score_dataset(pred, gt, workers=1)
    assert metrics["n_images"] == 3 and metrics["n_ignored_files"] == 1
