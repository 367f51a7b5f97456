"""16-bit maps whose levels all lie in 0..255: refused as a set, as such masks are (data/files.py); one such map
among other 16-bit maps is a model's, scored and noted."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from data.files import DataError
from evaluate import score_dataset


def _set(root: Path, highest: list[int]) -> tuple[Path, Path]:
    pred, gt = root / "pred", root / "GT"
    for folder in (pred, gt):
        folder.mkdir(parents=True)
    for index, top in enumerate(highest):
        mask = np.zeros((16, 16), np.uint8)
        mask[4:12, 4:12] = 255
        cv2.imwrite(str(gt / f"{index}.png"), mask)
        cv2.imwrite(str(pred / f"{index}.png"), (mask.astype(np.uint16) * top // 255).clip(1, None))
    return pred, gt


def test_a_set_of_16_bit_maps_within_0_255_is_refused_naming_the_folder(tmp_path: Path) -> None:
    pred, gt = _set(tmp_path, [255, 200])
    with pytest.raises(DataError, match=r"pred: its 2 16-bit maps all hold levels within 0\.\.255 only"):
        score_dataset(pred, gt, workers=1)


def test_one_low_16_bit_map_among_others_is_scored(tmp_path: Path) -> None:
    pred, gt = _set(tmp_path, [255, 65535])
    assert score_dataset(pred, gt, workers=1)["n_images"] == 2
