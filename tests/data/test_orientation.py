"""EXIF orientation (data/orientation.py): photos, masks and maps are read upright, by one rule, and said so;
predict.py decodes every photo first and names all it cannot read."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import predict
from data.datasets import check_photos, image_size
from data.files import read_grey, read_photo
from data.orientation import ORIENTED_NOTE, upright
from tests.interrupting import visible_lines


def _tagged(image: Image.Image, path: Path, value: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = value
    image.save(path, exif=exif)
    return path


@pytest.mark.parametrize("value", range(1, 9))
def test_upright_turns_levels_as_pil_exif_transpose_does(tmp_path: Path, value: int) -> None:
    levels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = _tagged(Image.fromarray(levels), tmp_path / "m.png", value)
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(upright(levels, value), expected)
    read, notes = read_grey(path, "map")
    np.testing.assert_array_equal(read, expected)
    assert (ORIENTED_NOTE in notes) == (value != 1)


def test_a_phone_photo_and_its_mask_are_read_upright_alike(tmp_path: Path) -> None:
    photo = _tagged(Image.new("RGB", (40, 30), "red"), tmp_path / "p.jpg", 6)  # stored sideways, shown upright
    mask = _tagged(Image.new("L", (40, 30), 255), tmp_path / "p.png", 6)
    assert read_photo(photo).size == image_size(photo) == (30, 40)
    assert read_grey(mask, "mask")[0].shape == (40, 30)


def test_every_unreadable_photo_is_named_at_once_and_nothing_is_made(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (16, 16)).save(photos / "good.jpg")
    (photos / "cut.jpg").write_bytes((photos / "good.jpg").read_bytes()[:60])
    (photos / "text.png").write_text("not an image")
    out = tmp_path / "out"
    assert predict.cli([f"--weights={tmp_path / 'none.pth'}", f"--images={photos}", f"--out={out}"]) == 2
    lines = visible_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "2 photos of" in lines[0] and "cut.jpg" in lines[0] and "text.png" in lines[0]
    assert not out.exists()


def test_photos_turned_by_their_tag_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [_tagged(Image.new("RGB", (8, 6)), tmp_path / f"{i}.jpg", 6 if i else 1) for i in range(3)]
    check_photos(paths)
    assert f"2 photos {ORIENTED_NOTE}" in capsys.readouterr().out
