"""The shared file rules: which files are photos, masks and maps, how they are found, listed and read."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from data.files import (
    LOSSY_NOTE,
    SIXTEEN_BIT_AS_8_BIT_NOTE,
    SIXTEEN_BIT_SCALED_NOTE,
    DataError,
    abbreviate,
    check_levels,
    find_mask,
    find_photo,
    list_files,
    list_stems,
    read_grey,
    read_photo,
    require_writable_folder,
)

REPO = Path(__file__).resolve().parents[2]


def _grey(path: Path, value: int = 200, shape: tuple[int, int] = (4, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


def test_importing_the_file_rules_loads_no_torch() -> None:
    code = "import sys, data.files; sys.exit('torch imported' if 'torch' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lossy_mask_is_refused_naming_the_jpg_beside_the_missing_png(tmp_path: Path) -> None:
    jpg = _grey(tmp_path / "GT" / "106.jpg")
    with pytest.raises(DataError) as caught:
        find_mask(tmp_path / "GT", "106")
    message = str(caught.value)
    assert str(jpg) in message and "106.png" in message
    assert "masks must be lossless" in message and "use the set's original PNG masks" in message
    with pytest.raises(DataError, match=r"106\.jpg.*masks must be lossless"):
        list_files(tmp_path / "GT", "mask")


def test_lossless_masks_are_found_in_any_letter_case(tmp_path: Path) -> None:
    for name in ("a.png", "b.PNG", "c.Png", "d.bmp"):
        _grey(tmp_path / name)
    for stem, name in (("a", "a.png"), ("b", "b.PNG"), ("c", "c.Png"), ("d", "d.bmp")):
        assert find_mask(tmp_path, stem) == tmp_path / name
    assert list_stems(tmp_path, "mask") == ["a", "b", "c", "d"]


def test_a_lossy_twin_of_a_png_mask_is_listed_as_ignored_not_refused(tmp_path: Path) -> None:
    _grey(tmp_path / "a.png")
    _grey(tmp_path / "a.jpg")
    listing = list_files(tmp_path, "mask")
    assert list(listing.files) == ["a"] and listing.ignored_files == [str(tmp_path / "a.jpg")]
    assert find_mask(tmp_path, "a") == tmp_path / "a.png"


def test_missing_mask_names_the_folder_the_stem_and_the_suffixes_tried(tmp_path: Path) -> None:
    _grey(tmp_path / "GT" / "other.png")
    with pytest.raises(DataError, match=r"mask not found: .*GT/106\.png.*\.png, \.bmp"):
        find_mask(tmp_path / "GT", "106")


def test_photos_take_every_common_suffix_jpg_first(tmp_path: Path) -> None:
    for name in ("a.jpeg", "b.BMP", "c.png", "c.jpg"):
        _grey(tmp_path / name)
    assert find_photo(tmp_path, "a") == tmp_path / "a.jpeg"
    assert find_photo(tmp_path, "b") == tmp_path / "b.BMP"
    assert find_photo(tmp_path, "c") == tmp_path / "c.jpg"
    # Listed, the two files of stem c are ambiguous: which one is the image?
    with pytest.raises(DataError, match=r"two files with the stem 'c'"):
        list_stems(tmp_path, "photo")


def test_listing_returns_what_it_does_not_use(tmp_path: Path) -> None:
    _grey(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "old").mkdir()
    listing = list_files(tmp_path, "map", skip=lambda name: name == "results.json")
    assert list(listing.files) == ["a"]
    assert listing.ignored_files == [str(tmp_path / "notes.txt")]
    assert listing.ignored_folders == [str(tmp_path / "old")]


def test_listing_an_empty_or_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"prediction folder .* contains no \.png/\.bmp/\.jpg/\.jpeg files"):
        list_files(tmp_path, "map", role="prediction")
    with pytest.raises(DataError, match=r"mask folder not found: .*nowhere"):
        list_files(tmp_path / "nowhere", "mask")
    with pytest.raises(DataError, match="is not a folder"):
        list_files(tmp_path / "notes.txt", "mask")


def test_a_photograph_is_not_a_map(tmp_path: Path) -> None:
    photo = np.zeros((4, 4, 3), np.uint8)
    photo[..., 2] = 200  # red
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    with pytest.raises(DataError, match=r"photo\.png is a colour image whose channels differ: it looks like a photo"):
        read_grey(tmp_path / "photo.png")


def test_grey_stored_as_colour_keeps_its_values(tmp_path: Path) -> None:
    grey = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.merge([grey, grey, grey]))
    image, notes = read_grey(tmp_path / "grey.png")
    assert np.array_equal(image, grey) and notes == ["grey stored as colour: one channel kept"]
    cv2.imwrite(str(tmp_path / "alpha.png"), np.full((3, 3, 4), 90, np.uint8))
    image, notes = read_grey(tmp_path / "alpha.png")
    assert image.tolist() == [[90] * 3] * 3
    assert notes == ["alpha channel dropped", "grey stored as colour: one channel kept"]


def test_16_bit_maps_are_read_by_their_values(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "low.png"), np.array([[0, 7, 128, 255]], dtype=np.uint16))
    image, notes = read_grey(tmp_path / "low.png")
    assert image.dtype == np.uint8 and image.tolist() == [[0, 7, 128, 255]] and notes == [SIXTEEN_BIT_AS_8_BIT_NOTE]
    cv2.imwrite(str(tmp_path / "high.png"), np.array([[0, 128, 256, 257, 65535]], dtype=np.uint16))
    image, notes = read_grey(tmp_path / "high.png")
    assert image.tolist() == [[0, 0, 1, 1, 255]] and notes == [SIXTEEN_BIT_SCALED_NOTE]


def test_a_jpeg_map_is_read_with_a_note_that_it_is_lossy(tmp_path: Path) -> None:
    _grey(tmp_path / "map.JPG", value=128)
    image, notes = read_grey(tmp_path / "map.JPG")
    assert image.shape == (4, 6) and notes == [LOSSY_NOTE]
    _, notes = read_grey(_grey(tmp_path / "map.png"))
    assert notes == []


@pytest.mark.parametrize("content", [b"", b"no image here"])
def test_unreadable_map_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.png").write_bytes(content)
    with pytest.raises(DataError, match=r"cannot read .*broken\.png"):
        read_grey(tmp_path / "broken.png")


def test_read_photo_is_pil_rgb_and_names_a_bad_file(tmp_path: Path) -> None:
    rgba = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    photo = read_photo(tmp_path / "a.png")
    assert photo.mode == "RGB" and np.array_equal(np.asarray(photo), rgba[..., :3])
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"cannot read image .*bad\.jpg"):
        read_photo(tmp_path / "bad.jpg")
    with pytest.raises(DataError, match=r"file not found: .*gone\.jpg"):
        read_photo(tmp_path / "gone.jpg")


def test_masks_stored_as_0_1_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"masks in .*GT hold only the levels 0 and 1.*multiply them by 255"):
        check_levels(1, tmp_path / "GT", "mask")
    for level in (0, 2, 255):
        check_levels(level, tmp_path / "GT", "mask")


def test_maps_holding_only_0_and_1_get_both_ways_on(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        check_levels(1, tmp_path / "pred", "map", count=12)
    message = str(caught.value)
    assert f"the 12 maps read from {tmp_path / 'pred'}" in message and "hold only the levels 0 and 1" in message
    assert "multiply them by 255" in message and "--trust-map-levels" in message


def test_write_probe_on_a_path_that_is_or_is_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        with pytest.raises(DataError, match=rf"cannot write to the output folder {out}: {blocker} is a file"):
            require_writable_folder(out)
    require_writable_folder(tmp_path / "new" / "nested")
    assert (tmp_path / "new" / "nested").is_dir() and not any((tmp_path / "new" / "nested").iterdir())


def test_write_probe_on_a_read_only_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        try:  # root writes whatever the permissions say: then there is nothing to test
            (locked / "probe").write_text("")
        except PermissionError:
            pass
        else:
            pytest.skip("permissions are not enforced for this user (root)")
        with pytest.raises(DataError, match=r"cannot write to the output folder .*locked .*choose another folder"):
            require_writable_folder(locked)
        with pytest.raises(DataError, match=r"cannot write to the output folder .*locked/below"):
            require_writable_folder(locked / "below")
    finally:
        locked.chmod(0o755)


def test_write_probe_reports_why_it_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the user (root ignores permissions), a refused write must become the one clear error.
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("data.files.tempfile.TemporaryFile", refused)
    with pytest.raises(DataError, match=r"output folder .*out \(Permission denied\); choose another folder"):
        require_writable_folder(tmp_path / "out")


def test_abbreviate() -> None:
    assert abbreviate([]) == ""
    assert abbreviate(["a", "b"]) == "a, b"
    assert abbreviate([str(i) for i in range(12)], shown=3) == "0, 1, 2, ... (12 in all)"
    # Only the first names kept, the count known: the list still says how many there are.
    assert abbreviate(["a", "b"], total=9) == "a, b, ... (9 in all)"


def test_data_error_from_a_dataloader_worker_keeps_its_sentence() -> None:
    rebuilt = "Caught DataError in DataLoader worker process 0.\nTraceback (most recent call last):\n  ...\n"
    rebuilt += "data.files.DataError: cannot read image x.jpg: broken\n"
    assert str(DataError(rebuilt)) == "cannot read image x.jpg: broken (read in a DataLoader worker)"


def test_unknown_kind_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="photo, mask, map"):
        list_files(tmp_path, "picture")

