"""Corrupted test sets written once, the same bytes every time, with the masks unchanged."""
import json

import numpy as np
import pytest
from PIL import Image

from data.corruptions import ShiftedSet, imagecorruptions, shifted_sets
from data.files import DataError
from data.shift_sets import write_shifted_sets


def make_set(root, name="S", sizes=((40, 48), (36, 52))):
    for folder in ("Image", "GT"):
        (root / "Test" / name / folder).mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "Test" / name / "Image" / f"p{i}.jpg")
        Image.fromarray((rng.random((h, w)) > 0.5).astype(np.uint8) * 255).save(root / "Test" / name / "GT" / f"p{i}.png")
    return root / "Test"


SETS = shifted_sets(("S",), ("gaussian_noise", "contrast"), (1, 5))


def test_each_set_is_written_once_with_the_masks_unchanged(tmp_path):
    test_root = make_set(tmp_path)
    assert write_shifted_sets(test_root, SETS) == SETS
    for shifted in SETS:
        folder = test_root / shifted.name
        assert sorted(p.name for p in (folder / "Image").iterdir()) == ["p0.png", "p1.png"]
        for mask in (test_root / "S" / "GT").iterdir():
            assert (folder / "GT" / mask.name).read_bytes() == mask.read_bytes()
        record = json.loads((folder / "corruption.json").read_text())
        assert (record["source"], record["corruption"], record["severity"], record["images"]) == (
            "S", shifted.corruption, shifted.severity, 2)
    assert not list(test_root.glob(".*.partial"))
    assert write_shifted_sets(test_root, SETS) == []  # kept: a later run writes nothing


def test_a_second_run_writes_the_same_bytes_and_contrast_is_the_packages(tmp_path):
    first, second = make_set(tmp_path / "a"), make_set(tmp_path / "b")
    write_shifted_sets(first, SETS)
    write_shifted_sets(second, SETS[::-1])  # another order: each photo's seed is its own
    for shifted in SETS:
        for path in (first / shifted.name / "Image").iterdir():
            assert path.read_bytes() == (second / shifted.name / "Image" / path.name).read_bytes()
    for severity in (1, 5):
        photo = np.asarray(Image.open(first / "S" / "Image" / "p1.jpg").convert("RGB"))
        expected = imagecorruptions().corrupt(photo, corruption_name="contrast", severity=severity)
        assert np.array_equal(np.asarray(Image.open(first / f"S@contrast-{severity}" / "Image" / "p1.png")), expected)


def test_a_half_written_set_is_written_again_and_never_taken_for_a_set(tmp_path):
    test_root = make_set(tmp_path)
    shifted = ShiftedSet("S", "contrast", 1)
    partial = test_root / f".{shifted.name}.partial" / "Image"
    partial.mkdir(parents=True)
    (partial / "p0.png").write_bytes(b"half")
    assert write_shifted_sets(test_root, [shifted]) == [shifted]
    assert len(list((test_root / shifted.name / "Image").iterdir())) == 2 and not partial.exists()


def test_a_set_of_other_photos_than_its_source_is_refused(tmp_path):
    test_root = make_set(tmp_path)
    write_shifted_sets(test_root, SETS[:1])
    (test_root / SETS[0].name / "Image" / "p1.png").unlink()
    with pytest.raises(DataError, match=r"S@gaussian_noise-1 holds 1 photo where its source set has 2.*delete"):
        write_shifted_sets(test_root, SETS[:1])


def test_a_photo_under_32_px_is_refused_before_any_set_is_written(tmp_path):
    test_root = make_set(tmp_path, sizes=((40, 48), (31, 60)))
    with pytest.raises(DataError, match=r"1 photo under 32 px a side.*p1.jpg \(60 x 31\)"):
        write_shifted_sets(test_root, SETS)
    assert sorted(p.name for p in test_root.iterdir()) == ["S"]
