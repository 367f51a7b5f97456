"""The one-off conversion of a set's JPEG masks into PNG masks (``python -m data.convert_masks``)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from data.convert_masks import main
from data.files import list_files, read_grey
from tests.conftest import PROJECT_ROOT



def _jpeg_masks(folder: Path, stems: tuple[str, ...] = ("horse001", "horse002")) -> np.ndarray:
    """JPEG masks of one square object; returns the mask they were saved from."""
    folder.mkdir(parents=True, exist_ok=True)
    mask = np.zeros((32, 40), np.uint8)
    mask[8:24, 10:30] = 255
    for stem in stems:
        Image.fromarray(mask).save(folder / f"{stem}.jpg", quality=75)
    return mask


def test_jpeg_masks_become_png_masks_thresholded_at_128(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask = _jpeg_masks(tmp_path / "src")
    assert len(np.unique(read_grey(tmp_path / "src" / "horse001.jpg", "mask")[0])) > 2  # the noise to remove
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "src" / "blank.jpg")
    (tmp_path / "src" / "readme.txt").write_text("x")
    Image.fromarray(mask).save(tmp_path / "src" / "twin.png")
    Image.fromarray(mask).save(tmp_path / "src" / "twin.jpg")
    assert main([str(tmp_path / "src"), str(tmp_path / "dst")]) == 0
    out = capsys.readouterr().out
    assert f"Converted 3 JPEG masks of {tmp_path / 'src'} into PNG masks in {tmp_path / 'dst'}" in out
    assert "Left alone 1 JPEG masks that have a lossless twin" in out and "twin.jpg" in out
    assert "Left alone 2 other entries" in out and "readme.txt, twin.png" in out
    assert "Warning: 1 converted masks have no object (no level >= 128); check them: blank.jpg" in out
    assert sorted(list_files(tmp_path / "dst", "mask").files) == ["blank", "horse001", "horse002"]
    for stem in ("horse001", "horse002"):
        converted, notes = read_grey(tmp_path / "dst" / f"{stem}.png", "mask")
        assert np.array_equal(converted, mask) and notes == []


def test_nothing_is_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _jpeg_masks(tmp_path / "src")
    (tmp_path / "dst").mkdir()
    cv2.imwrite(str(tmp_path / "dst" / "horse002.png"), np.full((2, 2), 7, np.uint8))
    assert main([str(tmp_path / "src"), str(tmp_path / "dst")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("convert_masks: error: 1 of the PNG masks to write exist already in")
    assert "horse002.png; refusing to overwrite them" in error
    assert sorted(path.name for path in (tmp_path / "dst").iterdir()) == ["horse002.png"]
    assert read_grey(tmp_path / "dst" / "horse002.png", "mask")[0].max() == 7


def test_a_folder_without_jpeg_masks_or_holding_a_photograph_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "dst")]) == 2
    assert "holds no JPEG mask (.jpg/.jpeg) without a lossless twin" in capsys.readouterr().err
    _jpeg_masks(tmp_path / "src")
    photo = np.zeros((8, 8, 3), np.uint8)
    photo[..., 0] = 200
    Image.fromarray(photo).save(tmp_path / "src" / "horse003.jpg")
    assert main([str(tmp_path / "src"), str(tmp_path / "dst")]) == 2
    assert "horse003.jpg is a colour image whose channels differ" in capsys.readouterr().err
    assert not any((tmp_path / "dst").iterdir())


def test_the_command_line(tmp_path: Path) -> None:
    _jpeg_masks(tmp_path / "src")
    command = [sys.executable, "-m", "data.convert_masks"]
    help_text = subprocess.run([*command, "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "SRC_FOLDER DST_FOLDER" in help_text.stdout
    assert "thresholded at 128" in help_text.stdout
    # Torch-free, as the rest of the file rules: a one-off conversion must not wait for torch to import.
    code = "import sys, data.convert_masks; sys.exit('torch imported' if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, timeout=60).returncode == 0
    run = subprocess.run([*command, str(tmp_path / "src"), str(tmp_path / "dst")], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Converted 2 JPEG masks" in run.stdout
