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
    out = tmp_path / "out"
    script.main(["--dtd", str(fake_dtd), "--out", str(out), "--count", "7", "--spread"])
    names = sorted(p.name for p in (out / "Image").iterdir())
    per_category = {c: sum(n.startswith(c) for n in names) for c in ("banded", "woven", "pitted")}
    assert len(names) == 7 and sorted(per_category.values()) == [2, 2, 3]
    for name in names:
        mask = Image.open(out / "GT" / name.replace(".jpg", ".png"))
        assert mask.size == Image.open(out / "Image" / name).size and np.asarray(mask).max() == 0


def test_names_file_selects_exactly_those_images(script, fake_dtd, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("woven_0002.jpg\npitted_0005.jpg\n")
    script.main(["--dtd", str(fake_dtd), "--names", str(names), "--out", str(tmp_path / "o")])
    assert sorted(p.name for p in (tmp_path / "o" / "Image").iterdir()) == ["pitted_0005.jpg", "woven_0002.jpg"]


def test_names_missing_from_dtd_are_an_error(script, fake_dtd, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("woven_0099.jpg\n")
    with pytest.raises(SystemExit, match="woven_0099"):
        script.main(["--dtd", str(fake_dtd), "--names", str(names), "--out", str(tmp_path / "o")])


def test_default_is_the_authors_list_of_500_images(script, fake_dtd, tmp_path):
    names = script.AUTHORS_NAMES.read_text().split()
    categories = {name.rsplit("_", 1)[0] for name in names}
    assert len(names) == len(set(names)) == 500 and len(categories) == 16
    # The fake DTD lacks those images: the default run asks for them by name, proving it used the list.
    with pytest.raises(SystemExit, match=r"\d+ images of .*Texture_Image_Names.txt are not in"):
        script.main(["--dtd", str(fake_dtd), "--out", str(tmp_path / "o")])
