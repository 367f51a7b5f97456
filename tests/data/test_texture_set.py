import importlib.util

import numpy as np
import pytest
from PIL import Image

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "Dataset" / "make_texture_set.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_texture_set", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_dtd(tmp_path):
    for category in ("banded", "woven", "pitted"):
        (tmp_path / "dtd" / "images" / category).mkdir(parents=True)
        for i in range(1, 6):
            Image.new("RGB", (20 + i, 10), (i * 40, 0, 0)).save(tmp_path / "dtd" / "images" / category / f"{category}_{i:04d}.jpg")
    return tmp_path / "dtd"


def test_seeded_selection_is_spread_over_categories_with_empty_masks(script, fake_dtd, tmp_path):
    out = script.main(["--dtd", str(fake_dtd), "--out", str(tmp_path / "out"), "--count", "7", "--spread"])
    assert out == tmp_path / "out" / "DTD_Texture_7"
    names = sorted(p.name for p in (out / "Image").iterdir())
    per_category = {c: sum(n.startswith(c) for n in names) for c in ("banded", "woven", "pitted")}
    assert len(names) == 7 and sorted(per_category.values()) == [2, 2, 3]
    for name in names:
        mask = Image.open(out / "GT" / name.replace(".jpg", ".png"))
        assert mask.size == Image.open(out / "Image" / name).size and np.asarray(mask).max() == 0


def test_names_file_selects_exactly_those_images(script, fake_dtd, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("woven_0002.jpg\npitted_0005.jpg\n")
    out = script.main(["--dtd", str(fake_dtd), "--names", str(names), "--out", str(tmp_path / "o")])
    assert sorted(p.name for p in (out / "Image").iterdir()) == ["pitted_0005.jpg", "woven_0002.jpg"]


def test_no_name_of_the_list_in_the_folder_is_an_error(script, fake_dtd, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("woven_0099.jpg\n")
    with pytest.raises(SystemExit, match=r"none of the 1 images of .*names.txt is in"):
        script.main(["--dtd", str(fake_dtd), "--names", str(names), "--out", str(tmp_path / "o")])


def test_default_is_the_authors_list_of_500_images(script, fake_dtd, tmp_path):
    names = script.AUTHORS_NAMES.read_text().split()
    categories = {name.rsplit("_", 1)[0] for name in names}
    assert len(names) == len(set(names)) == 500 and len(categories) == 16
    # The default run takes exactly those of the fake DTD's images that the list names.
    out = script.main(["--dtd", str(fake_dtd), "--out", str(tmp_path / "o")])
    fake = {p.name for p in fake_dtd.glob("images/*/*.jpg")}
    assert {p.name for p in (out / "Image").iterdir()} == fake & set(names) != set()


def authors_images(count_per_category):
    """The first names of the authors' list in each category, as many as asked."""
    names = SCRIPT.with_name("Texture_Image_Names.txt").read_text().split()
    return [n for c, k in count_per_category.items() for n in [m for m in names if m.startswith(f"{c}_")][:k]]


@pytest.mark.parametrize("layout", ["flat", "images"])
def test_a_partial_folder_makes_a_set_named_by_its_count_and_says_what_is_missing(script, tmp_path, layout,
                                                                                   capsys):
    present = authors_images({"blotchy": 3, "woven": 2})
    for name in present:
        folder = tmp_path / "dtd" / ("images/" + name.rsplit("_", 1)[0] if layout == "images" else "")
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (90, 20, 0)).save(folder / name)
    out = script.main(["--dtd", str(tmp_path / "dtd"), "--out", str(tmp_path / "Test")])
    assert out == tmp_path / "Test" / "DTD_Texture_5"
    assert sorted(p.name for p in (out / "Image").iterdir()) == sorted(present)
    assert all(np.asarray(Image.open(p)).max() == 0 for p in (out / "GT").iterdir())
    said = capsys.readouterr().out
    blotchy = len([n for n in script.AUTHORS_NAMES.read_text().split() if n.startswith("blotchy_")])
    assert f"495 of the 500 names of Texture_Image_Names.txt are not in {tmp_path / 'dtd'}" in said
    assert "all of 14 categories: braided (32), bumpy (19), " in said and f"part of 2 categories: blotchy ({blotchy - 3} of {blotchy})" in said
    assert "(495 in all)" in said
    assert script.main(["--dtd", str(tmp_path / "dtd"), "--out", str(tmp_path / "Test")]) == out  # kept
    assert "exists: kept" in capsys.readouterr().out


SHARED_DTD = SCRIPT.parents[2] / "shared" / "data" / "DTD" / "Image"


@pytest.mark.skipif(not SHARED_DTD.is_dir(), reason=f"{SHARED_DTD} absent (the shared real data)")
def test_the_shared_dtd_part_is_205_images_of_six_categories(script, capsys):
    paths = script.from_names(SHARED_DTD, script.AUTHORS_NAMES)
    assert len(paths) == 205 and len({p.name.rsplit("_", 1)[0] for p in paths}) == 6
    assert "all of 10 categories: " in capsys.readouterr().out
