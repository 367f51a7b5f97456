"""The real-image study's split and one tiny end-to-end run on real PASCAL-S files.

PASCAL-S lives in ../shared/data beside the project (present in CI, absent on a user's machine,
where these tests skip)."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from data.files import DataError
from data.pascal_s import SPLIT_SIZES, lay_out, make_split, read_split, split_files, write_split
from tests.conftest import SHARED, run_cli

SOURCE = SHARED / "data" / "PASCAL-S"
needs_pascal_s = pytest.mark.skipif(not (SOURCE / "Image").is_dir(), reason=f"PASCAL-S not present at {SOURCE}")


def test_committed_split_is_600_100_150_disjoint():
    parts = read_split()
    assert {part: len(stems) for part, stems in parts.items()} == SPLIT_SIZES
    everything = [stem for stems in parts.values() for stem in stems]
    assert len(set(everything)) == 850 and set(everything) == {str(i) for i in range(1, 851)}


@needs_pascal_s
def test_split_builder_reproduces_the_committed_lists(tmp_path):
    write_split(make_split(SOURCE), tmp_path)
    for part, committed in split_files().items():
        assert (tmp_path / committed.name).read_text() == committed.read_text(), part


@needs_pascal_s
def test_layout_links_train_and_validation_apart_from_test(tmp_path):
    root = lay_out(SOURCE, tmp_path / "root")
    parts = read_split()
    train_images = sorted(p.stem for p in (root / "Train" / "PASCAL-S" / "Image").iterdir())
    test_masks = sorted(p.stem for p in (root / "Test" / "PASCAL-S" / "GT").iterdir())
    assert sorted(train_images) == sorted(parts["Train"] + parts["Validation"])
    assert test_masks == sorted(parts["Test"])
    assert (root / "PASCAL-S-Validation.txt").read_text().split() == parts["Validation"]
    assert (root / "Test" / "PASCAL-S" / "Image" / f"{parts['Test'][0]}.jpg").resolve().parent == (SOURCE / "Image").resolve()


# Portrait images (7, 14), empty masks (359, 408), soft 13-level masks throughout.
TINY_SPLIT = {"Train": ["1", "3", "4", "7", "14", "359"], "Validation": ["6", "18"], "Test": ["2", "9", "408"]}


@needs_pascal_s
def test_tiny_real_run_trains_tests_and_scores_with_finite_metrics(tmp_path):
    split_dir = tmp_path / "split"
    write_split(TINY_SPLIT, split_dir)
    root = lay_out(SOURCE, tmp_path / "root", split_dir, masks="GT_soft")
    assert len(np.unique(np.asarray(Image.open(root / "Train" / "PASCAL-S" / "GT" / "1.png")))) > 2
    result = run_cli(tmp_path, f"--dataset_root={root}", "--train_set=PASCAL-S", "--test_datasets=PASCAL-S",
                     "--pretrained_backbone=", "--epochs=1", "--start_epoch=0", "--train_size=64", "--test_size=64",
                     "--feat_channel=8", "--batch_size=3", "--num_workers=0", "--eval_workers=1", "--experiment=tiny")
    assert result.code == 0, result.err[-3000:]
    assert ", 1 epoch at 64px" in result.out and "Wrote 3 maps of PASCAL-S" in result.out
    out = tmp_path / "experiments" / "tiny"
    metrics = json.loads((out / "results.json").read_text())["PASCAL-S"]
    assert metrics["protocol"] == "paper" and metrics["n_images"] == 3
    for key in ("ECE", "OE", "ACC", "MAE", "maxF", "AP", "AUC", "probabilities_ECE", "probabilities_OE", "probabilities_ACC"):
        assert math.isfinite(metrics[key]), key
    for folder in ("predictions", "probabilities"):
        written = Image.open(out / folder / "PASCAL-S" / "9.png")
        assert written.size == Image.open(SOURCE / "Image" / "9.jpg").size


def test_a_source_missing_files_of_the_split_is_refused_before_anything_is_laid_out(tmp_path):
    # Small fake layout, no PASCAL-S needed: a split of 4 images, a source lacking one photograph and two masks.
    split_dir = tmp_path / "split"
    write_split({"Train": ["1", "2"], "Validation": ["3"], "Test": ["10"]}, split_dir)
    source = tmp_path / "source"
    for sub, stems in (("Image", ["1", "2", "3"]), ("GT", ["1", "2"])):
        (source / sub).mkdir(parents=True)
        for stem in stems:
            suffix, mode = (".jpg", "RGB") if sub == "Image" else (".png", "L")
            Image.new(mode, (4, 4)).save(source / sub / f"{stem}{suffix}")
    with pytest.raises(DataError) as refused:
        lay_out(source, tmp_path / "root", split_dir)
    message = str(refused.value)
    assert f"missing 1 of the 4 photographs in {source / 'Image'} (10)" in message
    assert f"2 of the 4 masks in {source / 'GT'} (3, 10)" in message and str(split_dir) in message
    assert "--source must be PASCAL-S's own folder" in message
    assert not (tmp_path / "root").exists()
    Image.new("RGB", (4, 4)).save(source / "Image" / "10.jpg")
    for stem in ("3", "10"):
        Image.new("L", (4, 4)).save(source / "GT" / f"{stem}.png")
    root = lay_out(source, tmp_path / "root", split_dir)
    assert sorted(p.name for p in (root / "Test" / "PASCAL-S" / "GT").iterdir()) == ["10.png"]
