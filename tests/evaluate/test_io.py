"""Bad and unusual input: missing folders, unreadable files, unpaired maps, lossy masks, photographs, conversions,
resizing (and rotated maps)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from PIL import Image

from data.files import LOSSY_NOTE, DataError
from evaluate import EvaluationInputError, evaluate_datasets, score_dataset
from evaluate.io import RESIZE_NOTE, ROTATED_NOTE, MapPair, load_pair, mask_folder, pair_folders
from protocol import get_protocol
from evaluate.runner import run_evaluation
from tests.conftest import write_pairs

PAPER, CALIBRATED = get_protocol("paper"), get_protocol("calibrated")


def _maps(rng: np.random.Generator, shape: tuple[int, int] = (40, 50)) -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros(shape, np.uint8)
    gt[shape[0] // 4 : 3 * shape[0] // 4, shape[1] // 4 : 3 * shape[1] // 4] = 255
    pred = np.clip(cv2.GaussianBlur(gt, (9, 9), 3).astype(np.float64) + rng.normal(0, 30, shape), 0, 255)
    return pred.astype(np.uint8), gt


def _folders(root: Path, n: int = 4, seed: int = 0, set_name: str = "") -> tuple[Path, Path]:
    """Write n pairs into root/pred[/set_name] and root/gt[/set_name]."""
    rng = np.random.default_rng(seed)
    return write_pairs(root / "pred" / set_name, root / "gt" / set_name, [_maps(rng) for _ in range(n)], stem="im{}")


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    pred_dir, _ = _folders(tmp_path)
    missing = tmp_path / "no_such_masks"
    with pytest.raises(EvaluationInputError, match="no_such_masks"):
        score_dataset(pred_dir, missing, workers=1, protocol=PAPER)


def test_empty_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    _, gt_dir = _folders(tmp_path)
    empty = tmp_path / "empty_preds"
    empty.mkdir()
    (empty / "readme.txt").write_text("not a map")
    with pytest.raises(EvaluationInputError, match="empty_preds.*no .png"):
        score_dataset(empty, gt_dir, workers=1, protocol=PAPER)


def test_file_instead_of_folder(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    with pytest.raises(EvaluationInputError, match="not a folder"):
        score_dataset(pred_dir / "im0.png", gt_dir, workers=1, protocol=PAPER)


@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_file_is_an_error_naming_it(tmp_path: Path, workers: int) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    (pred_dir / "im2.png").write_bytes(b"this is no png")
    with pytest.raises(EvaluationInputError, match="im2.png"):
        score_dataset(pred_dir, gt_dir, workers=workers, protocol=PAPER)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    (gt_dir / "im1.png").write_bytes(b"")
    with pytest.raises(EvaluationInputError, match="im1.png"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)


def test_nothing_to_pair_is_an_error(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    for path in gt_dir.iterdir():
        path.rename(path.with_name("other_" + path.name))
    with pytest.raises(EvaluationInputError, match="same file stem"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)


def test_two_maps_with_one_stem_is_an_error(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    cv2.imwrite(str(pred_dir / "im0.bmp"), np.zeros((40, 50), np.uint8))
    with pytest.raises(EvaluationInputError, match="im0"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)


def test_unpaired_maps_are_counted_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred_dir, gt_dir = _folders(tmp_path, n=4, set_name="A")
    (pred_dir / "im0.png").rename(pred_dir / "extra_pred.png")
    (gt_dir / "im3.png").unlink()
    (gt_dir / "notes.txt").write_text("ignored")
    results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], tmp_path / "out", workers=1, protocol=PAPER)
    metrics = results["A"]
    # im0 lost its prediction (renamed) and im3 its mask: im1, im2 remain.
    assert metrics["n_images"] == 2
    assert metrics["n_pred_without_gt"] == 2  # extra_pred, im3
    assert metrics["n_gt_without_pred"] == 1  # im0
    assert metrics["n_ignored_files"] == 1
    printed = capsys.readouterr().out
    report = (tmp_path / "out" / "results.md").read_text()
    for text in (printed, report):
        assert "2 prediction(s) in" in text and "extra_pred, im3" in text
        assert "1 mask(s) in" in text and "im0" in text
        assert "notes.txt" in text


def test_size_mismatch_resizes_prediction_bilinear(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pred, gt = _maps(rng, (60, 80))
    small = cv2.resize(pred, (40, 30), interpolation=cv2.INTER_AREA)
    for name, map_ in (("mismatch", small), ("resized", cv2.resize(small, (80, 60), interpolation=cv2.INTER_LINEAR))):
        (tmp_path / name).mkdir()
        cv2.imwrite(str(tmp_path / name / "x.png"), map_)
    (tmp_path / "gt").mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "x.png"), gt)
    mismatch = score_dataset(tmp_path / "mismatch", tmp_path / "gt", workers=1, protocol=CALIBRATED)
    resized = score_dataset(tmp_path / "resized", tmp_path / "gt", workers=1, protocol=CALIBRATED)
    assert mismatch["n_resized"] == 1 and resized["n_resized"] == 0
    for key in ("ECE", "OE", "ACC", "maxF", "wF", "S", "MAE", "adpE"):
        assert mismatch[key] == resized[key], key


def test_colour_and_16_bit_maps_are_converted(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pred, gt = _maps(rng)
    folders = {name: tmp_path / name for name in ("grey", "converted", "gt")}
    for folder in folders.values():
        folder.mkdir()
    cv2.imwrite(str(folders["gt"] / "a.png"), gt)
    cv2.imwrite(str(folders["gt"] / "b.png"), gt)
    cv2.imwrite(str(folders["grey"] / "a.png"), pred)
    cv2.imwrite(str(folders["grey"] / "b.png"), pred)
    # Grey saved as 3-channel colour, and grey saved as 16 bits (v * 257 maps back to v exactly).
    cv2.imwrite(str(folders["converted"] / "a.png"), cv2.merge([pred, pred, pred]))
    cv2.imwrite(str(folders["converted"] / "b.png"), pred.astype(np.uint16) * 257)
    grey = score_dataset(folders["grey"], folders["gt"], workers=1, protocol=CALIBRATED)
    converted = score_dataset(folders["converted"], folders["gt"], workers=1, protocol=CALIBRATED)
    assert grey["n_converted"] == 0 and converted["n_converted"] == 2
    for key in ("ECE", "NLL", "maxF", "S", "wF"):
        assert converted[key] == grey[key], key


def test_a_photograph_given_as_maps_is_refused(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    photo = np.zeros((40, 50, 3), np.uint8)
    photo[..., 1] = 120  # green: channels differ, as in any photograph
    cv2.imwrite(str(pred_dir / "im1.png"), photo)
    with pytest.raises(EvaluationInputError, match=r"im1\.png is a colour image .* looks like a photograph"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)


def test_jpg_and_bmp_are_paired_by_stem(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, n=3)
    rng = np.random.default_rng(3)
    pred, gt = _maps(rng)
    cv2.imwrite(str(pred_dir / "photo.JPG"), pred)
    cv2.imwrite(str(gt_dir / "photo.bmp"), gt)
    paired = pair_folders(pred_dir, gt_dir)
    assert [pair.name for pair in paired.pairs] == ["im0", "im1", "im2", "photo"]
    # A JPEG prediction is scored, and its notes say it is lossy.
    assert load_pair(paired.pairs[-1]).notes == [f"prediction: {LOSSY_NOTE}"]
    assert score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)["n_images"] == 4


def test_lossy_masks_are_refused_before_any_image_is_scored(tmp_path: Path) -> None:
    _folders(tmp_path, n=3, set_name="A")
    gt_dir = tmp_path / "gt" / "A"
    for path in sorted(gt_dir.iterdir()):
        cv2.imwrite(str(path.with_suffix(".jpg")), cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
        path.unlink()
    (tmp_path / "pred" / "A" / "im2.png").write_bytes(b"unreadable: would fail only once scoring starts")
    with pytest.raises(EvaluationInputError) as caught:
        evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], tmp_path / "out", workers=1, protocol=PAPER)
    message = str(caught.value)
    assert str(gt_dir / "im0.jpg") in message and "im0.png" in message
    assert "masks must be lossless" in message and "original PNG masks" in message
    assert not (tmp_path / "out").exists()


def test_scoring_errors_are_data_errors(tmp_path: Path) -> None:
    # One error type for bad input whichever stage reads it: training and the CLI catch DataError.
    assert issubclass(EvaluationInputError, DataError)
    with pytest.raises(DataError, match="no_such_folder"):
        pair_folders(tmp_path / "no_such_folder", tmp_path)


@pytest.mark.parametrize(("pred_shape", "rotated"), [((50, 40), True), ((20, 25), False), ((40, 40), False)])
def test_a_map_of_the_masks_size_transposed_is_noted_as_rotated(
    tmp_path: Path, pred_shape: tuple[int, int], rotated: bool
) -> None:
    gt = np.zeros((40, 50), np.uint8)
    gt[10:30, 10:40] = 255
    cv2.imwrite(str(tmp_path / "gt.png"), gt)
    cv2.imwrite(str(tmp_path / "pred.png"), np.full(pred_shape, 100, np.uint8))
    cv2.imwrite(str(tmp_path / "probability.png"), np.full(pred_shape, 90, np.uint8))
    loaded = load_pair(MapPair("x", tmp_path / "pred.png", tmp_path / "gt.png", tmp_path / "probability.png"))
    assert loaded.pred.shape == loaded.probability.shape == (40, 50)
    assert RESIZE_NOTE in loaded.notes and "probability map resized to mask size" in loaded.notes
    assert (ROTATED_NOTE in loaded.notes) == rotated
    assert any(note.startswith("probability map looks rotated") for note in loaded.notes) == rotated


def test_mask_folder_prefers_gt_subfolder(tmp_path: Path) -> None:
    (tmp_path / "A" / "GT").mkdir(parents=True)
    (tmp_path / "B").mkdir()
    assert mask_folder(tmp_path, "A") == tmp_path / "A" / "GT"
    assert mask_folder(tmp_path, "B") == tmp_path / "B"


@pytest.mark.parametrize("workers", [0, -1, 1.5])
def test_bad_worker_count(tmp_path: Path, workers: object) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    with pytest.raises(EvaluationInputError, match="workers"):
        score_dataset(pred_dir, gt_dir, workers=workers, protocol=PAPER)  # type: ignore[arg-type]


def test_every_folder_is_checked_before_scoring(tmp_path: Path) -> None:
    _folders(tmp_path, set_name="A")
    with pytest.raises(EvaluationInputError, match="typo"):
        evaluate_datasets(
            tmp_path / "pred", tmp_path / "gt", ["A", "typo"], tmp_path / "out", workers=1, protocol=PAPER
        )
    assert not (tmp_path / "out").exists()


def _rewrite(paths: list[Path], change: Callable[[np.ndarray], np.ndarray]) -> None:
    for path in paths:
        cv2.imwrite(str(path), change(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)))


@pytest.mark.parametrize("protocol", [PAPER, CALIBRATED], ids=["paper", "calibrated"])
def test_masks_stored_as_0_1_are_read_per_file_as_0_255(tmp_path: Path, protocol: object) -> None:
    # Half the masks 0/1, the rest 0/255: a set-wide check passed them, and "2 of 4 masks are empty" was wrong.
    pred_dir, gt_dir = _folders(tmp_path, set_name="A")
    expected = score_dataset(pred_dir, gt_dir, workers=1, protocol=protocol)
    _rewrite(sorted(gt_dir.iterdir())[1::2], lambda mask: (mask > 0).astype(np.uint8))
    out = tmp_path / "out"
    results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], out, workers=1, protocol=protocol)["A"]
    assert results["n_empty_masks"] == 0 and results["n_converted"] == 2
    assert {key: value for key, value in results.items() if key != "n_converted"} == {
        key: value for key, value in expected.items() if key != "n_converted"
    }
    assert "mask: stored as 0/1: read as 0/255 (1 = object): 2 image(s): im1, im3" in (out / "results.md").read_text()


def test_maps_holding_only_0_and_1_are_judged_per_file(tmp_path: Path) -> None:
    # Half the maps binary 0/1: a set-wide check passed them (the other half reached 255), and MAE doubled.
    pred_dir, gt_dir = _folders(tmp_path)
    _rewrite(sorted(pred_dir.iterdir())[::2], lambda pred: (pred >= 128).astype(np.uint8))
    refusal = (
        rf"2 maps \(of 4\) in {re.escape(str(pred_dir))} hold only the levels 0 and 1 although their masks mark an "
        r"object: im0, im2; .*multiply them by 255.*--trust-map-levels"
    )
    with pytest.raises(EvaluationInputError, match=refusal):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)
    out = tmp_path / "out"
    results = run_evaluation([("S", pred_dir, gt_dir)], out, workers=1, protocol=CALIBRATED, trust_map_levels=True)
    assert results["S"]["n_images"] == 4 and results["S"]["n_converted"] == 0
    note = "prediction: holds only the levels 0 and 1: scored as probabilities (p <= 1/255), not as a binary map"
    assert f"{note}: 2 image(s): im0, im2" in (out / "results.md").read_text()


def test_a_map_of_0_and_1_over_an_empty_mask_is_scored_with_a_note(tmp_path: Path) -> None:
    # A confident model's map of an image without object holds only 0 and 1 legitimately, whatever the others hold.
    pred_dir, gt_dir = _folders(tmp_path)
    cv2.imwrite(str(gt_dir / "im1.png"), np.zeros((40, 50), np.uint8))
    cv2.imwrite(str(pred_dir / "im1.png"), (np.arange(2000).reshape(40, 50) % 7 == 0).astype(np.uint8))
    out = tmp_path / "out"
    results = run_evaluation([("S", pred_dir, gt_dir)], out, workers=1, protocol=CALIBRATED)
    assert results["S"]["n_images"] == 4 and results["S"]["n_empty_masks"] == 1
    note = "prediction: holds only the levels 0 and 1: scored as probabilities (p <= 1/255), not as a binary map"
    assert f"{note}: 1 image(s): im1" in (out / "results.md").read_text()


def test_a_set_of_dark_16_bit_maps_is_refused_not_scaled_to_near_black(tmp_path: Path) -> None:
    # Values all <= 255 in 16-bit files: scaled by their bit depth they are near-black, read as 8-bit a guess.
    # (One such map among brighter 16-bit maps is scored by its bit depth: tests/evaluate/test_sixteen_bit_maps.py.)
    pred_dir, gt_dir = _folders(tmp_path)
    for path in sorted(pred_dir.iterdir()):
        pred = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(path), pred.astype(np.uint16))
    with pytest.raises(DataError, match=r"16-bit maps all hold levels within 0\.\.255 only"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=CALIBRATED)


def test_a_palette_mask_is_read_by_index(tmp_path: Path) -> None:
    # A binary mask saved as a palette PNG (index 1 = object, shown dark red) used to be refused as a photograph.
    pred_dir, gt_dir = _folders(tmp_path)
    expected = score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER)
    for path in sorted(gt_dir.iterdir()):
        palette = Image.fromarray((cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8), "P")
        palette.putpalette([0, 0, 0, 128, 0, 0])
        palette.save(path)
    assert score_dataset(pred_dir, gt_dir, workers=1, protocol=PAPER) == expected | {"n_converted": 4}


def test_a_prediction_folder_whose_maps_are_in_subfolders_says_so(tmp_path: Path) -> None:
    # predictions/ given for predictions/A/: "contains no .png files" alone left the user guessing.
    _folders(tmp_path, set_name="A")
    _folders(tmp_path / "more", set_name="B")
    (tmp_path / "more" / "pred" / "B").rename(tmp_path / "pred" / "B")
    with pytest.raises(EvaluationInputError) as caught:
        score_dataset(tmp_path / "pred", tmp_path / "gt" / "A", workers=1, protocol=PAPER)
    message = str(caught.value)
    assert f"prediction folder {tmp_path / 'pred'} contains no" in message
    assert "but its subfolders do: A (4 files), B (4 files); point at the subfolder of one set (e.g. " in message
    assert f"score every set at once: --pred-root={tmp_path / 'pred'} --datasets=A,B (with --gt-root)" in message


def test_subfolders_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _folders(tmp_path, set_name="A")
    (tmp_path / "pred" / "A" / "old_run").mkdir()
    results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], tmp_path / "out", workers=1, protocol=PAPER)
    assert results["A"]["n_ignored_folders"] == 1
    assert "1 subfolder(s) ignored" in capsys.readouterr().out
    assert "old_run" in (tmp_path / "out" / "results.md").read_text()


def test_own_outputs_are_not_stray_predictions(tmp_path: Path) -> None:
    pred_dir, _ = _folders(tmp_path, set_name="A")
    for _ in range(2):  # the second run finds the first run's results.* and reliability_*.png
        results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], pred_dir, workers=1, protocol=PAPER)
    assert list(pred_dir.glob("reliability_A*.png"))
    assert results["A"]["n_pred_without_gt"] == 0 and results["A"]["n_ignored_files"] == 0


def test_output_folder_is_checked_before_scoring(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, set_name="A")
    (pred_dir / "im1.png").write_bytes(b"unreadable: would fail only once scoring starts")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        with pytest.raises(EvaluationInputError, match=re.escape(f"cannot write to the output folder {out}")):
            evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], out, workers=1, protocol=PAPER)
