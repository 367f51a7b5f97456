"""VOC-style palette masks with a void level (index 255): read apart for scoring, as background for training."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from data.datasets import check_masks, read_mask
from data.files import (
    PALETTE_INDEX_NOTE, VOID_AS_BACKGROUND_NOTE, VOID_NOTE, DataError, read_grey, read_mask_with_void,
)
from evaluate.io import MapPair, load_pair

VOC_PALETTE = [0, 0, 0, 128, 0, 0] + [0, 0, 0] * 253 + [224, 224, 192]
INDICES = np.array([[0, 255, 255, 0], [0, 255, 1, 255], [0, 255, 255, 0]])


def _voc_mask(path: Path, indices: np.ndarray = INDICES) -> Path:
    image = Image.fromarray(indices.astype(np.uint8), "P")
    image.putpalette(VOC_PALETTE)
    image.save(path)
    return path


def test_a_voc_mask_with_a_void_border_is_read_with_its_void_apart(tmp_path: Path) -> None:
    for suffix in (".png", ".bmp"):
        levels = read_mask_with_void(_voc_mask(tmp_path / f"voc{suffix}"))
        assert levels.image.tolist() == [[0, 0, 0, 0], [0, 0, 255, 0], [0, 0, 0, 0]]
        assert levels.void.tolist() == (INDICES == 255).tolist()
        assert levels.notes == [PALETTE_INDEX_NOTE, VOID_NOTE]
    # Without void nothing changes: no void map, no note.
    plain = read_mask_with_void(_voc_mask(tmp_path / "plain.png", np.array([[0, 1]])))
    assert plain.void is None and plain.notes == [PALETTE_INDEX_NOTE]


def test_training_reads_void_as_background_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _voc_mask(tmp_path / "voc.png")
    image, notes = read_grey(path, "mask")
    assert image.tolist() == read_mask_with_void(path).image.tolist() and notes[-1] == VOID_AS_BACKGROUND_NOTE
    assert read_mask(path).tolist() == image.tolist()
    _voc_mask(tmp_path / "plain.png", np.array([[0, 1]]))
    check_masks([path, tmp_path / "plain.png"])
    assert f"{VOID_AS_BACKGROUND_NOTE}: 1 of 2 masks: voc.png" in capsys.readouterr().out


def test_a_mask_void_everywhere_or_of_other_indices_is_refused_naming_it(tmp_path: Path) -> None:
    mask = _voc_mask(tmp_path / "all_void.png", np.full((2, 3), 255))
    cv2.imwrite(str(tmp_path / "map.png"), np.zeros((2, 3), np.uint8))
    with pytest.raises(DataError, match=r"mask .*all_void\.png is void everywhere: it leaves no pixel to score"):
        load_pair(MapPair("all_void", tmp_path / "map.png", mask))
    with pytest.raises(DataError, match=r"classes\.png is a palette file of colours \(3 indices used; a binary mask "
                                        r"may use only the indices 0, 1 and 255 \(void\)\)"):
        read_mask_with_void(_voc_mask(tmp_path / "classes.png", np.array([[0, 1, 2]])))
