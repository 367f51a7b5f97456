"""Void pixels in masks (VOC palette index 255): read apart, left out of every metric, counted and said."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from data.files import VOID_NOTE
from evaluate import score_dataset
from evaluate.__main__ import main
from evaluate.accumulate import DatasetAccumulator
from evaluate.io import pair_folders
from evaluate.notes import dataset_notes
from evaluate.runner import scoring_of

VOC_PALETTE = [0, 0, 0, 128, 0, 0] + [0, 0, 0] * 253 + [224, 224, 192]  # index 255: VOC's void colour
GREY_VOID = 128  # the void level of the grey masks scored with --void
VOID_COLUMNS = 4  # the void lies in the last columns: cropping them off leaves the same valid pixels
# The values that need the image's layout: void pixels are background there, not absent.
LAYOUT_KEYS = {"S", "wF"}
# Counts that say how the files were read, not what was scored.
READING_KEYS = {"n_converted", "n_void_pixels", "n_void_masks"}


def _palette_mask(path: Path, indices: np.ndarray) -> None:
    image = Image.fromarray(indices.astype(np.uint8), "P")
    image.putpalette(VOC_PALETTE)
    image.save(path)


def _write_sets(root: Path, seed: int) -> dict[str, tuple[Path, Path]]:
    """Three pairs, two with a void border in their last columns, written three ways: with the void (VOC
    palette), cropped without it, and with void as background and map level 0 (what S and wF see)."""
    rng = np.random.default_rng(seed)
    folders = {kind: (root / kind / "pred", root / kind / "gt") for kind in ("void", "cropped", "background", "grey")}
    for pred_dir, gt_dir in folders.values():
        pred_dir.mkdir(parents=True), gt_dir.mkdir(parents=True)
    for index, has_void in enumerate((True, False, True)):
        rows, columns = 24, 30 + VOID_COLUMNS * has_void
        indices = np.zeros((rows, columns), np.uint8)
        indices[6:18, 5 + index : 17 + index] = 1  # the object, farther than the band's width from the void
        blurred = cv2.GaussianBlur(indices * 255, (7, 7), 2).astype(np.float64)
        pred = np.clip(blurred + rng.normal(0, 40, indices.shape), 0, 255).astype(np.uint8)
        pred[0, 0], pred[-1, 0] = 0, 255  # the map spans 0..255 in the valid pixels: stretching changes nothing
        kept = slice(None, columns - VOID_COLUMNS) if has_void else slice(None)
        if has_void:
            indices[:, -VOID_COLUMNS:] = 255
        name = f"im{index}.png"
        _palette_mask(folders["void"][1] / name, indices)
        cv2.imwrite(str(folders["void"][0] / name), pred)
        cv2.imwrite(str(folders["cropped"][1] / name), (indices[:, kept] == 1).astype(np.uint8) * 255)
        cv2.imwrite(str(folders["cropped"][0] / name), pred[:, kept])
        void = indices == 255
        cv2.imwrite(str(folders["background"][1] / name), (indices == 1).astype(np.uint8) * 255)
        cv2.imwrite(str(folders["background"][0] / name), np.where(void, 0, pred).astype(np.uint8))
        cv2.imwrite(str(folders["grey"][1] / name), np.select([void, indices == 1], [GREY_VOID, 255], 0).astype(np.uint8))
        cv2.imwrite(str(folders["grey"][0] / name), pred)
    return folders


@pytest.mark.parametrize("protocol", ["paper", "calibrated"])
def test_void_pixels_change_no_metric_and_are_counted(tmp_path: Path, protocol: str) -> None:
    folders = _write_sets(tmp_path, seed=3)
    scored = {kind: score_dataset(*dirs, workers=1, protocol=protocol)
              for kind, dirs in folders.items() if kind != "grey"}
    void = scored["void"]
    assert void["n_void_pixels"] == 2 * 24 * VOID_COLUMNS and void["n_void_masks"] == 2
    assert scored["cropped"]["n_void_pixels"] == 0 and scored["cropped"]["n_void_masks"] == 0
    assert void["n_pixels"] == scored["cropped"]["n_pixels"] == 3 * 24 * 30
    compared = 0
    for key, value in void.items():
        if key in READING_KEYS:
            continue
        # Every value of the valid pixels alone is the cropped set's; S and wF are of the image with void as
        # right background.
        expected = scored["background" if key in LAYOUT_KEYS else "cropped"][key]
        if isinstance(value, float):
            assert value == pytest.approx(expected, abs=1e-12), key
            compared += 1
        else:
            assert value == expected, key
    assert compared > 10
    # The void really is left out: scored as background, the values differ.
    assert void["ECE"] != pytest.approx(scored["background"]["ECE"], abs=1e-9)


def test_void_is_noted_per_image_and_counted_for_the_set(tmp_path: Path) -> None:
    pred_dir, gt_dir = _write_sets(tmp_path, seed=4)["void"]
    paired = pair_folders(pred_dir, gt_dir)
    accumulator = DatasetAccumulator(scoring_of(workers=1, protocol="calibrated"))
    for pair in paired.pairs:
        accumulator.add(pair)
    notes = dataset_notes(paired, accumulator)
    assert f"mask: {VOID_NOTE}: 2 image(s): im0, im2" in notes
    assert any(note.startswith("192 void pixels (palette index 255) in 2 of 3 masks left out of every metric")
               for note in notes), notes
    assert VOID_NOTE not in " ".join(row_note for row in accumulator.images[1:2] for row_note in row.notes)
    assert f"mask: {VOID_NOTE}" in accumulator.images[0].notes


def test_the_void_option_leaves_a_grey_mask_level_out_as_palette_void_is(tmp_path: Path) -> None:
    folders = _write_sets(tmp_path, seed=5)
    palette = score_dataset(*folders["void"], workers=1, protocol="calibrated")
    pred_dir, gt_dir = folders["grey"]
    assert main([f"--pred={pred_dir}", f"--gt={gt_dir}", f"--void={GREY_VOID}", "--protocol=calibrated",
                 "--workers=1", f"--out={tmp_path / 'out'}"]) == 0
    grey = json.loads((tmp_path / "out" / "results.json").read_text())["pred"]
    assert grey["n_void_pixels"] == 2 * 24 * VOID_COLUMNS and grey["n_void_masks"] == 2
    assert {k: v for k, v in grey.items() if k != "n_converted"} == pytest.approx(
        {k: v for k, v in palette.items() if k != "n_converted"}, abs=1e-12)
    report = (tmp_path / "out" / "results.md").read_text()
    assert f"level {GREY_VOID} (void, --void) pixels left out of every metric: 2 image(s)" in report
    assert "(palette index 255 or level 128) in 2 of 3 masks left out of every metric" in report


@pytest.mark.parametrize("level", ["0", "255"])
def test_a_void_level_of_background_or_object_is_refused(tmp_path: Path, level: str,
                                                          capsys: pytest.CaptureFixture) -> None:
    pred_dir, gt_dir = _write_sets(tmp_path, seed=6)["grey"]
    assert main([f"--pred={pred_dir}", f"--gt={gt_dir}", f"--void={level}", f"--out={tmp_path / 'out'}"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"evaluate: error: the void level must be a mask level from 1 to 254 (0 is background and 255 "
                     f"the object), got {level}")
