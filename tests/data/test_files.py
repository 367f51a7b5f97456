"""The shared file rules: which files are photos, masks and maps, how they are found, listed and read."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from data.files import (
    GREY_PALETTE_NOTE,
    LOSSY_NOTE,
    MASK_ZERO_ONE_NOTE,
    PALETTE_INDEX_NOTE,
    SIXTEEN_BIT_NOTE,
    ZERO_ONE_MAP_NOTE,
    DataError,
    abbreviate,
    find_mask,
    find_photo,
    list_files,
    list_stems,
    read_grey,
    read_photo,
    require_writable_folder,
)
from evaluate.io import zero_one_maps_error
from tests.conftest import PROJECT_ROOT



def _grey(path: Path, value: int = 200, shape: tuple[int, int] = (4, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


def test_importing_the_file_rules_loads_no_torch() -> None:
    code = "import sys, data.files; sys.exit('torch imported' if 'torch' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
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


def test_the_lossy_mask_error_names_the_conversion_command(tmp_path: Path) -> None:
    # The Weizmann horses ship only JPEG masks: "use the original PNG masks" alone leaves no way on.
    _grey(tmp_path / "GT" / "horse001.jpg")
    _grey(tmp_path / "GT" / "horse002.jpg")
    for call in (lambda: find_mask(tmp_path / "GT", "horse001"), lambda: list_files(tmp_path / "GT", "mask")):
        with pytest.raises(DataError) as caught:
            call()
        assert f"python -m data.convert_masks {tmp_path / 'GT'} NEW_FOLDER" in str(caught.value)


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


def test_a_folder_whose_files_are_in_its_subfolders_says_so(tmp_path: Path) -> None:
    # predictions/ given where predictions/ECSSD/ was meant
    for name in ("ECSSD/a.png", "ECSSD/b.png", "DUT-OMRON/a.png"):
        _grey(tmp_path / "predictions" / name)
    (tmp_path / "predictions" / "notes").mkdir()
    with pytest.raises(DataError) as caught:
        list_files(tmp_path / "predictions", "map", "prediction", nested_hint=lambda names: f" ({'+'.join(names)})")
    message = str(caught.value)
    assert "contains no .png/.bmp/.jpg/.jpeg files, but its subfolders do: DUT-OMRON (1 files), ECSSD (2 files)" in (
        message
    )
    assert f"point at the subfolder of one set (e.g. {tmp_path / 'predictions' / 'DUT-OMRON'}) (DUT-OMRON+ECSSD)" in (
        message
    )
    assert "notes" not in message


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
    for kind in ("mask", "map"):
        with pytest.raises(DataError, match=r"photo\.png is a colour image whose channels differ: it looks like a"):
            read_grey(tmp_path / "photo.png", kind)


def test_grey_stored_as_colour_keeps_its_values(tmp_path: Path) -> None:
    grey = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.merge([grey, grey, grey]))
    image, notes = read_grey(tmp_path / "grey.png", "map")
    assert np.array_equal(image, grey) and notes == ["grey stored as colour: one channel kept"]
    cv2.imwrite(str(tmp_path / "alpha.png"), np.full((3, 3, 4), 90, np.uint8))
    image, notes = read_grey(tmp_path / "alpha.png", "mask")
    assert image.tolist() == [[90] * 3] * 3
    assert notes == ["alpha channel dropped", "grey stored as colour: one channel kept"]


def test_16_bit_files_are_scaled_by_their_bit_depth_not_guessed_from_their_values(tmp_path: Path) -> None:
    # A dark 16-bit map (every value <= 255) used to be read as 8-bit levels: 257 times too bright.
    cv2.imwrite(str(tmp_path / "dark.png"), np.array([[0, 7, 128, 255, 2000]], dtype=np.uint16))
    image, notes = read_grey(tmp_path / "dark.png", "map")
    assert image.dtype == np.uint8 and image.tolist() == [[0, 0, 0, 1, 8]] and notes == [SIXTEEN_BIT_NOTE]
    cv2.imwrite(str(tmp_path / "low.png"), np.array([[0, 7, 128, 255]], dtype=np.uint16))
    assert read_grey(tmp_path / "low.png", "map")[0].tolist() == [[0, 0, 0, 1]]
    cv2.imwrite(str(tmp_path / "mask.png"), np.array([[0, 128, 256, 257, 65535]], dtype=np.uint16))
    image, notes = read_grey(tmp_path / "mask.png", "mask")
    assert image.tolist() == [[0, 0, 1, 1, 255]] and notes == [SIXTEEN_BIT_NOTE]


def test_a_16_bit_mask_within_0_255_is_refused_and_one_of_0_1_is_a_0_1_mask(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "in_8_bits.png"), np.array([[0, 255, 255]], dtype=np.uint16))
    with pytest.raises(DataError, match=r"in_8_bits\.png is a 16-bit mask whose levels all lie in 0\.\.255 "
                                        r"\(highest 255\).*save it as an 8-bit mask"):
        read_grey(tmp_path / "in_8_bits.png", "mask")
    cv2.imwrite(str(tmp_path / "zero_one.png"), np.array([[0, 1, 1]], dtype=np.uint16))
    image, notes = read_grey(tmp_path / "zero_one.png", "mask")
    assert image.dtype == np.uint8 and image.tolist() == [[0, 255, 255]] and notes == [MASK_ZERO_ONE_NOTE]
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((1, 3), dtype=np.uint16))
    assert read_grey(tmp_path / "empty.png", "mask")[0].tolist() == [[0, 0, 0]]


def test_a_mask_stored_as_0_1_is_read_as_0_255_and_said(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "m.png"), np.array([[0, 1, 1], [0, 0, 1]], np.uint8))
    image, notes = read_grey(tmp_path / "m.png", "mask")
    assert image.tolist() == [[0, 255, 255], [0, 0, 255]] and notes == [MASK_ZERO_ONE_NOTE]
    cv2.imwrite(str(tmp_path / "full.png"), np.ones((2, 2), np.uint8))  # the object everywhere
    assert read_grey(tmp_path / "full.png", "mask")[0].tolist() == [[255, 255]] * 2
    for levels in ([0, 0], [0, 2], [0, 255]):  # empty, soft, 8-bit: as they are
        cv2.imwrite(str(tmp_path / "other.png"), np.array([levels], np.uint8))
        image, notes = read_grey(tmp_path / "other.png", "mask")
        assert image.tolist() == [levels] and notes == []


def test_a_map_holding_only_0_and_1_is_read_as_it_is_and_flagged(tmp_path: Path) -> None:
    # A binary map stored as 0/1, or a probability map with p <= 1/255: the reader cannot tell, the scorer decides.
    cv2.imwrite(str(tmp_path / "m.png"), np.array([[0, 1, 1]], np.uint8))
    image, notes = read_grey(tmp_path / "m.png", "map")
    assert image.tolist() == [[0, 1, 1]] and notes == [ZERO_ONE_MAP_NOTE]
    cv2.imwrite(str(tmp_path / "two.png"), np.array([[0, 1, 2]], np.uint8))
    assert read_grey(tmp_path / "two.png", "map")[1] == []


def _palette_file(path: Path, indices: np.ndarray, palette: list[int]) -> Path:
    image = Image.fromarray(indices.astype(np.uint8), "P")
    image.putpalette(palette)
    image.save(path)
    return path


def test_palette_masks_are_read_by_index_and_colour_palettes_of_more_indices_refused(tmp_path: Path) -> None:
    indices = np.array([[0, 1, 1], [0, 0, 1]])
    # VOC-style: index 1 shown dark red; it used to be refused as a photograph.
    for suffix in (".png", ".bmp"):
        voc = _palette_file(tmp_path / f"voc{suffix}", indices, [0, 0, 0, 128, 0, 0])
        image, notes = read_grey(voc, "mask")
        assert image.tolist() == [[0, 255, 255], [0, 0, 255]] and notes == [PALETTE_INDEX_NOTE]
    # A palette of greys shows its levels; one showing 0 and 1 is a mask stored as 0/1.
    grey = _palette_file(tmp_path / "grey.png", np.array([[0, 1, 2]]), [0, 0, 0, 128, 128, 128, 255, 255, 255])
    for kind in ("mask", "map"):
        image, notes = read_grey(grey, kind)
        assert image.tolist() == [[0, 128, 255]] and notes == [GREY_PALETTE_NOTE]
    image, notes = read_grey(_palette_file(tmp_path / "zero_one.png", indices, [0, 0, 0, 1, 1, 1]), "mask")
    assert image.tolist() == [[0, 255, 255], [0, 0, 255]] and notes == [GREY_PALETTE_NOTE, MASK_ZERO_ONE_NOTE]
    colours = _palette_file(tmp_path / "colours.png", np.array([[0, 1, 2]]), [0, 0, 0, 128, 0, 0, 0, 128, 0])
    with pytest.raises(DataError, match=r"colours\.png is a palette file of colours \(3 indices used; a binary mask "
                                        r"may use only the indices 0, 1 and 255 \(void\)\): it looks like a photograph"):
        read_grey(colours, "mask")
    with pytest.raises(DataError, match=r"voc\.bmp is a palette file of colours .*a map must be grey"):
        read_grey(voc, "map")


def test_a_jpeg_map_is_read_with_a_note_that_it_is_lossy(tmp_path: Path) -> None:
    _grey(tmp_path / "map.JPG", value=128)
    image, notes = read_grey(tmp_path / "map.JPG", "map")
    assert image.shape == (4, 6) and notes == [LOSSY_NOTE]
    _, notes = read_grey(_grey(tmp_path / "map.png"), "map")
    assert notes == []


@pytest.mark.parametrize("content", [b"", b"no image here"])
def test_unreadable_map_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "broken.png").write_bytes(content)
    with pytest.raises(DataError, match=r"cannot read .*broken\.png"):
        read_grey(tmp_path / "broken.png", "map")


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


def test_maps_holding_only_0_and_1_get_both_ways_on(tmp_path: Path) -> None:
    message = str(zero_one_maps_error(tmp_path / "pred", ["a", "b"], 12))
    assert f"2 maps (of 12) in {tmp_path / 'pred'} hold only the levels 0 and 1 although their masks mark an " \
        "object: a, b;" in message
    assert "multiply them by 255" in message and "--trust-map-levels" in message
    assert "1 map (of 12) in" in str(zero_one_maps_error(tmp_path, ["a"], 12))


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
    with pytest.raises(ValueError, match="masks and maps, not 'photo'"):
        read_grey(tmp_path / "a.png", "photo")

