"""Split lists: named after the training set, and the authors' DUTS-TR split committed as the default."""
from pathlib import Path

from PIL import Image

from data.split import load_or_make_split
from data.split import split_list_names

DATASET = Path(__file__).resolve().parents[2] / "Dataset"


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
