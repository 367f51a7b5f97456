"""Bad and unusual input: missing folders, unreadable files, unpaired maps, conversions, resizing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluate import EvaluationInputError, evaluate_datasets, score_dataset
from evaluate.io import SIXTEEN_BIT_AS_8_BIT_NOTE, mask_folder, pair_folders, read_map
from evaluate.runner import run_evaluation


def _maps(rng: np.random.Generator, shape: tuple[int, int] = (40, 50)) -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros(shape, np.uint8)
    gt[shape[0] // 4 : 3 * shape[0] // 4, shape[1] // 4 : 3 * shape[1] // 4] = 255
    pred = np.clip(cv2.GaussianBlur(gt, (9, 9), 3).astype(np.float64) + rng.normal(0, 30, shape), 0, 255)
    return pred.astype(np.uint8), gt


def _folders(root: Path, n: int = 4, seed: int = 0, set_name: str = "") -> tuple[Path, Path]:
    """Write n pairs into root/pred[/set_name] and root/gt[/set_name]."""
    rng = np.random.default_rng(seed)
    pred_dir, gt_dir = root / "pred" / set_name, root / "gt" / set_name
    pred_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for index in range(n):
        pred, gt = _maps(rng)
        cv2.imwrite(str(pred_dir / f"im{index}.png"), pred)
        cv2.imwrite(str(gt_dir / f"im{index}.png"), gt)
    return pred_dir, gt_dir


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    pred_dir, _ = _folders(tmp_path)
    missing = tmp_path / "no_such_masks"
    with pytest.raises(EvaluationInputError, match="no_such_masks"):
        score_dataset(pred_dir, missing, workers=1)


def test_empty_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    _, gt_dir = _folders(tmp_path)
    empty = tmp_path / "empty_preds"
    empty.mkdir()
    (empty / "readme.txt").write_text("not a map")
    with pytest.raises(EvaluationInputError, match="empty_preds.*no .png"):
        score_dataset(empty, gt_dir, workers=1)


def test_file_instead_of_folder(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    with pytest.raises(EvaluationInputError, match="not a folder"):
        score_dataset(pred_dir / "im0.png", gt_dir, workers=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_file_is_an_error_naming_it(tmp_path: Path, workers: int) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    (pred_dir / "im2.png").write_bytes(b"this is no png")
    with pytest.raises(EvaluationInputError, match="im2.png"):
        score_dataset(pred_dir, gt_dir, workers=workers)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    (gt_dir / "im1.png").write_bytes(b"")
    with pytest.raises(EvaluationInputError, match="im1.png"):
        score_dataset(pred_dir, gt_dir, workers=1)


def test_nothing_to_pair_is_an_error(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    for path in gt_dir.iterdir():
        path.rename(path.with_name("other_" + path.name))
    with pytest.raises(EvaluationInputError, match="same file stem"):
        score_dataset(pred_dir, gt_dir, workers=1)


def test_two_maps_with_one_stem_is_an_error(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    cv2.imwrite(str(pred_dir / "im0.bmp"), np.zeros((40, 50), np.uint8))
    with pytest.raises(EvaluationInputError, match="im0"):
        score_dataset(pred_dir, gt_dir, workers=1)


def test_unpaired_maps_are_counted_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred_dir, gt_dir = _folders(tmp_path, n=4, set_name="A")
    (pred_dir / "im0.png").rename(pred_dir / "extra_pred.png")
    (gt_dir / "im3.png").unlink()
    (gt_dir / "notes.txt").write_text("ignored")
    results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], tmp_path / "out", workers=1)
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
    mismatch = score_dataset(tmp_path / "mismatch", tmp_path / "gt", workers=1, protocol="calibrated")
    resized = score_dataset(tmp_path / "resized", tmp_path / "gt", workers=1, protocol="calibrated")
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
    grey = score_dataset(folders["grey"], folders["gt"], workers=1, protocol="calibrated")
    converted = score_dataset(folders["converted"], folders["gt"], workers=1, protocol="calibrated")
    assert grey["n_converted"] == 0 and converted["n_converted"] == 2
    for key in ("ECE", "NLL", "maxF", "S", "wF"):
        assert converted[key] == grey[key], key


def test_read_map_conversions(tmp_path: Path) -> None:
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    image, notes = read_map(tmp_path / "colour.png")
    assert image.shape == (4, 4) and image.dtype == np.uint8
    assert notes == ["colour converted to grey"]
    assert int(image[0, 0]) == round(0.299 * 200)

    deep = np.array([[0, 128, 257, 65535]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    image, notes = read_map(tmp_path / "deep.png")
    assert image.tolist() == [[0, 0, 1, 255]] and notes == ["16-bit scaled to 8-bit (v * 255 / 65535)"]

    rgba = np.full((3, 3, 4), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    image, notes = read_map(tmp_path / "alpha.png")
    assert image.tolist() == [[90] * 3] * 3
    assert notes == ["alpha channel dropped", "grey stored as colour: one channel kept"]


def test_jpg_and_bmp_are_paired_by_stem(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, n=3)
    rng = np.random.default_rng(3)
    pred, gt = _maps(rng)
    cv2.imwrite(str(pred_dir / "photo.JPG"), pred)
    cv2.imwrite(str(gt_dir / "photo.bmp"), gt)
    paired = pair_folders(pred_dir, gt_dir)
    assert [pair.name for pair in paired.pairs] == ["im0", "im1", "im2", "photo"]
    assert score_dataset(pred_dir, gt_dir, workers=1)["n_images"] == 4


def test_mask_folder_prefers_gt_subfolder(tmp_path: Path) -> None:
    (tmp_path / "A" / "GT").mkdir(parents=True)
    (tmp_path / "B").mkdir()
    assert mask_folder(tmp_path, "A") == tmp_path / "A" / "GT"
    assert mask_folder(tmp_path, "B") == tmp_path / "B"


@pytest.mark.parametrize("workers", [0, -1, 1.5])
def test_bad_worker_count(tmp_path: Path, workers: object) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    with pytest.raises(EvaluationInputError, match="workers"):
        score_dataset(pred_dir, gt_dir, workers=workers)  # type: ignore[arg-type]


def test_every_folder_is_checked_before_scoring(tmp_path: Path) -> None:
    _folders(tmp_path, set_name="A")
    with pytest.raises(EvaluationInputError, match="typo"):
        evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A", "typo"], tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("protocol", ["paper", "calibrated"])
def test_masks_stored_as_0_1_are_refused_with_the_fix(tmp_path: Path, protocol: str) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    for path in gt_dir.iterdir():
        cv2.imwrite(str(path), (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8))
    with pytest.raises(EvaluationInputError, match=r"masks in .*gt hold only the values 0 and 1.*multiply them by 255"):
        score_dataset(pred_dir, gt_dir, workers=1, protocol=protocol)


def test_maps_stored_as_0_1_are_refused_unless_every_mask_is_empty(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path)
    for path in pred_dir.iterdir():
        cv2.imwrite(str(path), (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) >= 128).astype(np.uint8))
    with pytest.raises(EvaluationInputError, match=r"maps in .*pred hold only the values 0 and 1.*multiply"):
        score_dataset(pred_dir, gt_dir, workers=1)
    # On a set without objects, maps of 0 and 1 are what a confident model writes: scored, with a note.
    for path in gt_dir.iterdir():
        cv2.imwrite(str(path), np.zeros((40, 50), np.uint8))
    out = tmp_path / "out"
    results = run_evaluation([("S", pred_dir, gt_dir)], out, workers=1, protocol="calibrated")
    assert results["S"]["n_images"] == 4
    assert "holds only the values 0 and 1" in (out / "results.md").read_text()


def test_16_bit_maps_are_read_by_their_values(tmp_path: Path) -> None:
    low = np.array([[0, 7, 128, 255]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "low.png"), low)
    image, notes = read_map(tmp_path / "low.png")
    assert image.tolist() == [[0, 7, 128, 255]] and notes == [SIXTEEN_BIT_AS_8_BIT_NOTE]
    cv2.imwrite(str(tmp_path / "high.png"), np.array([[0, 256, 65535]], dtype=np.uint16))
    image, notes = read_map(tmp_path / "high.png")
    assert image.tolist() == [[0, 1, 255]] and "scaled" in notes[0]


def test_subfolders_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _folders(tmp_path, set_name="A")
    (tmp_path / "pred" / "A" / "old_run").mkdir()
    results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], tmp_path / "out", workers=1)
    assert results["A"]["n_ignored_folders"] == 1
    assert "1 subfolder(s) ignored" in capsys.readouterr().out
    assert "old_run" in (tmp_path / "out" / "results.md").read_text()


def test_own_outputs_are_not_stray_predictions(tmp_path: Path) -> None:
    pred_dir, _ = _folders(tmp_path, set_name="A")
    for _ in range(2):  # the second run finds the first run's results.* and reliability_*.png
        results = evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], pred_dir, workers=1)
    assert (pred_dir / "reliability_A.png").is_file()
    assert results["A"]["n_pred_without_gt"] == 0 and results["A"]["n_ignored_files"] == 0


def test_output_folder_is_checked_before_scoring(tmp_path: Path) -> None:
    pred_dir, gt_dir = _folders(tmp_path, set_name="A")
    (pred_dir / "im1.png").write_bytes(b"unreadable: would fail only once scoring starts")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        with pytest.raises(EvaluationInputError, match=f"cannot write the results into {out}"):
            evaluate_datasets(tmp_path / "pred", tmp_path / "gt", ["A"], out, workers=1)
