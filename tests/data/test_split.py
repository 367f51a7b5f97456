"""Split lists: named after the training set, and the authors' DUTS-TR split committed as the default."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import pipeline
from data.files import DataError
from data.split import read_or_draw_split, save_split, split_list_names
from tests.conftest import PROJECT_ROOT
from tests.tiny import load_or_make_split

DATASET = PROJECT_ROOT / "Dataset"


def test_lists_are_named_after_the_training_set_and_leave_duts_tr_alone(tmp_path):
    (tmp_path / "OTHER" / "Image").mkdir(parents=True)
    for i in range(6):
        Image.new("RGB", (8, 8)).save(tmp_path / "OTHER" / "Image" / f"o{i}.jpg")
    (tmp_path / "DUTS-TR-Train.txt").write_text("duts_a\n")
    (tmp_path / "DUTS-TR-Validation.txt").write_text("duts_b\n")
    train, validation = load_or_make_split(tmp_path, tmp_path / "OTHER" / "Image", 2, seed=1, train_set="OTHER")
    assert sorted(train + validation) == [f"o{i}" for i in range(6)] and len(validation) == 2
    assert (tmp_path / "OTHER-Validation.txt").read_text().split() == validation
    assert (tmp_path / "DUTS-TR-Train.txt").read_text() == "duts_a\n"  # neither read nor overwritten
    assert split_list_names("DUTS-TR") == ("DUTS-TR-Train.txt", "DUTS-TR-Validation.txt")


def test_the_authors_split_is_committed_and_read_by_default():
    train, validation = load_or_make_split(DATASET, DATASET / "Train" / "DUTS-TR" / "Image", 1000, seed=1)
    assert len(train) == 9553 and len(validation) == 1000 and not set(train) & set(validation)
    assert validation[0] == (DATASET / "DUTS-TR-Validation.txt").read_text().split()[0]


def training_set(root: Path, sixteen_bit: bool = False) -> Path:
    """root/Train/SET with 8 image/mask pairs; `sixteen_bit`: 8-bit masks saved as 16 bits, which the reader
    refuses (by their bit depth their objects would vanish)."""
    for sub in ("Image", "GT"):
        (root / "Train" / "SET" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(8):
        Image.new("RGB", (16, 16)).save(root / "Train" / "SET" / "Image" / f"s{i}.jpg")
        mask = np.zeros((16, 16), np.uint16 if sixteen_bit else np.uint8)
        mask[4:12, 4:12] = 255
        Image.fromarray(mask).save(root / "Train" / "SET" / "GT" / f"s{i}.png")
    return root / "Train" / "SET"


def split_run(root: Path) -> SimpleNamespace:
    """What the pipeline's `_split` reads of a run: the data settings, the seed and the process."""
    data = SimpleNamespace(split_dir="", dataset_root=str(root), validation_size=2, train_set="SET", test_size=32,
                           test_batch_size=2)
    context = SimpleNamespace(is_main=True, device=torch.device("cpu"), rank=0, world_size=1)
    return SimpleNamespace(settings=SimpleNamespace(data=data, run=SimpleNamespace(seeds=(1,))), context=context,
                           workers=0)


def test_a_drawn_split_is_written_only_after_its_masks_pass_the_checks(tmp_path, capsys):
    # A run that stopped on bad masks used to leave lists behind, which then fixed the next run's split.
    folder = training_set(tmp_path, sixteen_bit=True)
    lists = [tmp_path / name for name in split_list_names("SET")]
    with pytest.raises(DataError, match="16-bit mask whose levels all lie in 0..255"):
        pipeline._split(split_run(tmp_path), folder / "Image", folder / "GT")
    assert not any(path.exists() for path in lists)
    assert "split" not in capsys.readouterr().out.lower()  # nothing claims lists were written
    training_set(tmp_path)  # the masks fixed
    run = split_run(tmp_path)
    pipeline._split(run, folder / "Image", folder / "GT")
    assert "made a seeded split (SEED=1) of 6 training and 2 validation images" in capsys.readouterr().out
    assert lists[0].read_text().split() == [stem for stem, _, _ in run.train_pairs]
    assert lists[1].read_text().split() == [stem for stem, _, _ in run.val_pairs]


def test_a_drawn_split_is_the_one_its_lists_then_give(tmp_path):
    folder = training_set(tmp_path)
    drawn = read_or_draw_split(tmp_path, folder / "Image", 2, seed=3, train_set="SET")
    assert drawn.drawn_with == 3 and not (tmp_path / "SET-Train.txt").exists()
    save_split(drawn)
    read = read_or_draw_split(tmp_path, folder / "Image", 2, seed=4, train_set="SET", report=False)
    assert (read.train, read.validation, read.drawn_with) == (drawn.train, drawn.validation, None)
    save_split(read)  # a split read from lists is not rewritten
    assert (tmp_path / "SET-Train.txt").read_text().split() == drawn.train
