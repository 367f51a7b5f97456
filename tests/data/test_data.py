import numpy as np
import pytest
import torch
from PIL import Image

from data.datasets import DataError, InferenceSet, TrainingSet, check_test_set, pair_files, pair_split
from data.files import list_stems
from data.loaders import training_loader, usable_workers
from tests.tiny import load_or_make_split
from data.transforms import augment_pair, augmentation_generator, mask_to_tensor, train_transform


def write_pair(root, stem, size=(40, 30), mask_size=None, suffix=".jpg", mode="RGB"):
    (root / "Image").mkdir(parents=True, exist_ok=True)
    (root / "GT").mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, 128).save(root / "Image" / f"{stem}{suffix}")
    Image.new("L", mask_size or size, 255).save(root / "GT" / f"{stem}.png")


def test_augmentation_moves_image_and_mask_together():
    pattern = np.zeros((60, 80), np.uint8)
    pattern[10:35, 20:70] = 255
    generator = torch.Generator().manual_seed(0)
    for _ in range(30):
        image, mask = augment_pair(Image.fromarray(pattern).convert("RGB"), Image.fromarray(pattern), generator)
        assert image.size == mask.size
        assert np.array_equal(np.asarray(image)[..., 0], np.asarray(mask))


def test_crop_shrinks_each_side_by_1_to_30_pixels():
    generator = torch.Generator().manual_seed(1)
    sizes = {augment_pair(Image.new("RGB", (100, 90)), Image.new("L", (100, 90)), generator)[0].size
             for _ in range(300)}
    widths, heights = {w for w, _ in sizes}, {h for _, h in sizes}
    assert min(widths) >= 70 - 1 and max(widths) <= 99 and min(heights) >= 60 - 1 and max(heights) <= 89
    assert len(widths) > 15


def test_train_transform_gives_normalised_image_and_unit_mask():
    image, mask = train_transform(Image.new("RGB", (50, 40), (255, 255, 255)), Image.new("L", (50, 40), 255), 32,
                                  torch.Generator().manual_seed(2))
    assert image.shape == (3, 32, 32) and mask.shape == (1, 32, 32)
    assert image.max() > 2.0  # white after ImageNet normalisation
    assert 0.0 <= mask.min() and mask.max() <= 1.0


def test_pairs_of_different_size_are_skipped_and_reported_by_name(tmp_path, capsys):
    write_pair(tmp_path, "good")
    write_pair(tmp_path, "odd_one", mask_size=(41, 30))
    pairs = pair_files(tmp_path / "Image", tmp_path / "GT", ["good", "odd_one"])
    assert [stem for stem, _, _ in pairs] == ["good"]
    out = capsys.readouterr().out
    assert "Skipped 1" in out and "odd_one" in out


def test_missing_mask_and_missing_image_are_errors_naming_the_file(tmp_path):
    write_pair(tmp_path, "a")
    (tmp_path / "GT" / "a.png").unlink()
    with pytest.raises(DataError, match="a.png"):
        pair_files(tmp_path / "Image", tmp_path / "GT", ["a"])
    with pytest.raises(DataError, match="zzz"):
        pair_files(tmp_path / "Image", tmp_path / "GT", ["zzz"])


def test_corrupt_image_is_an_error_naming_it(tmp_path):
    write_pair(tmp_path, "a")
    (tmp_path / "Image" / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="a.jpg"):
        pair_files(tmp_path / "Image", tmp_path / "GT", ["a"])


def test_grey_and_rgba_images_are_converted(tmp_path):
    write_pair(tmp_path, "grey", suffix=".png", mode="L")
    write_pair(tmp_path, "rgba", suffix=".png", mode="RGBA")
    pairs = pair_files(tmp_path / "Image", tmp_path / "GT", ["grey", "rgba"])
    images = [TrainingSet(pairs, 16, seed=1)[i][0] for i in range(2)]
    assert all(image.shape == (3, 16, 16) for image in images)


def test_inference_set_keeps_name_size_and_8_bit_mask(tmp_path):
    write_pair(tmp_path, "a", size=(40, 30))
    item = InferenceSet([tmp_path / "Image" / "a.jpg"], 16, [tmp_path / "GT" / "a.png"])[0]
    assert item["name"] == "a" and item["size"] == (30, 40)
    assert item["mask"].dtype == torch.uint8 and item["mask"].shape == (30, 40) and (item["mask"] == 255).all()


def test_split_is_seeded_written_and_then_reused(tmp_path, capsys):
    for i in range(12):
        write_pair(tmp_path / "DUTS-TR", f"img{i:02d}")
    image_dir = tmp_path / "DUTS-TR" / "Image"
    train, val = load_or_make_split(tmp_path, image_dir, validation_size=3, seed=1)
    assert len(val) == 3 and len(train) == 9 and not set(train) & set(val)
    assert "seeded split" in capsys.readouterr().out
    assert (tmp_path / "DUTS-TR-Validation.txt").read_text().split() == val
    (tmp_path / "DUTS-TR-Validation.txt").write_text("img00\nimg01\n")
    train2, val2 = load_or_make_split(tmp_path, image_dir, validation_size=3, seed=99)
    assert val2 == ["img00", "img01"] and train2 == train


def test_split_needs_more_images_than_the_validation_size(tmp_path):
    write_pair(tmp_path / "DUTS-TR", "only")
    with pytest.raises(DataError, match="too few"):
        load_or_make_split(tmp_path, tmp_path / "DUTS-TR" / "Image", validation_size=5, seed=1)


def test_empty_training_list_is_an_error(tmp_path):
    (tmp_path / "DUTS-TR-Train.txt").write_text("\n")
    (tmp_path / "DUTS-TR-Validation.txt").write_text("a\n")
    with pytest.raises(DataError, match="empty training list"):
        load_or_make_split(tmp_path, tmp_path, validation_size=1, seed=1)


def test_demo_data_has_the_dataset_layout(demo_root):
    assert len(list((demo_root / "Train" / "DUTS-TR" / "Image").glob("*.jpg"))) == 24
    texture_masks = list((demo_root / "Test" / "DEMO-Texture" / "GT").glob("*.png"))
    assert texture_masks and all(np.asarray(Image.open(p)).max() == 0 for p in texture_masks)
    sod_masks = list((demo_root / "Test" / "DEMO-SOD" / "GT").glob("*.png"))
    assert all(set(np.unique(np.asarray(Image.open(p)))) == {0, 255} for p in sod_masks)


def test_masks_without_an_image_are_reported_by_name(tmp_path, capsys):
    write_pair(tmp_path, "a")
    Image.new("L", (40, 30), 255).save(tmp_path / "GT" / "stray_mask.png")
    pair_files(tmp_path / "Image", tmp_path / "GT", ["a"])
    out = capsys.readouterr().out
    assert "Ignored 1 mask in" in out and "stray_mask" in out


def test_masks_stored_as_0_1_are_read_per_file_and_said_once(tmp_path, capsys):
    # Half the masks 0/1, half 0/255: a set-wide check let the 0/1 half train as near-empty targets, silently.
    stems = [f"m{i}" for i in range(6)]
    for index, stem in enumerate(stems):
        write_pair(tmp_path, stem, size=(8, 8))
        if index % 2:  # the object everywhere, so that any augmentation keeps it
            Image.fromarray(np.ones((8, 8), np.uint8)).save(tmp_path / "GT" / f"{stem}.png")
    pairs = pair_files(tmp_path / "Image", tmp_path / "GT", stems)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert f"Masks in {tmp_path / 'GT'}: stored as 0/1: read as 0/255 (1 = object): 3 of 6 masks: m1.png, m3.png, " \
        "m5.png" in out
    masks = [pair[2] for pair in pairs]
    assert all((InferenceSet([pair[1] for pair in pairs], 8, masks)[i]["mask"] == 255).all() for i in range(6))
    assert all((TrainingSet(pairs, 32, seed=1)[i][1] == 1).all() for i in range(6))
    pair_files(tmp_path / "Image", tmp_path / "GT", stems, report=False)
    assert capsys.readouterr().out == ""


def test_soft_mask_edges_are_kept(tmp_path):
    write_pair(tmp_path, "m", size=(40, 40))
    soft = np.zeros((40, 40), np.uint8)
    soft[10:20, 10:20], soft[9, 10:20] = 255, 128
    Image.fromarray(soft).save(tmp_path / "GT" / "m.png")
    assert len(pair_files(tmp_path / "Image", tmp_path / "GT", ["m"])) == 1
    mask = mask_to_tensor(Image.open(tmp_path / "GT" / "m.png"), 40)
    assert mask[0, 9, 12].item() == pytest.approx(128 / 255) and mask[0, 12, 12].item() == 1.0


def test_every_test_mask_is_read_before_training(tmp_path, capsys):
    for stem in ("a", "b", "c", "d"):
        write_pair(tmp_path, stem, size=(6, 4))
    palette = Image.fromarray(np.eye(4, 6, dtype=np.uint8), "P")
    palette.putpalette([0, 0, 0, 128, 0, 0])  # index 1 shown dark red: a binary mask all the same
    palette.save(tmp_path / "GT" / "a.png")
    check_test_set(tmp_path, needs_images=True, needs_masks=True)
    assert "palette file: read by index (0 = background, 1 = object, read as 255): 1 of 4 masks: a.png" in (
        capsys.readouterr().out
    )
    # 8-bit masks saved as 16 bits: by their bit depth the objects vanish; all of them are named, before training.
    for stem in ("c", "d"):
        Image.fromarray(np.full((4, 6), 255, np.uint16)).save(tmp_path / "GT" / f"{stem}.png")
    with pytest.raises(DataError, match=r"c\.png is a 16-bit mask whose levels all lie in 0\.\.255.*; 1 more mask\(s\) "
                                        r"refused: d\.png$"):
        check_test_set(tmp_path, needs_images=True, needs_masks=True)


def test_upper_case_suffixes_are_found(tmp_path):
    write_pair(tmp_path, "shout", suffix=".JPG")
    (stem, image, _), = pair_files(tmp_path / "Image", tmp_path / "GT", list_stems(tmp_path / "Image", "photo"))
    assert stem == "shout" and image.name == "shout.JPG"


def test_split_pairs_are_checked_once_and_kept_apart(tmp_path, capsys):
    for stem in ("t1", "t2", "v1"):
        write_pair(tmp_path, stem)
    Image.new("L", (40, 30), 255).save(tmp_path / "GT" / "stray.png")
    train, val = pair_split(tmp_path / "Image", tmp_path / "GT", ["t1", "t2"], ["v1"])
    assert [s for s, _, _ in train] == ["t1", "t2"] and [s for s, _, _ in val] == ["v1"]
    assert capsys.readouterr().out.count("Ignored 1 mask in") == 1
    write_pair(tmp_path, "v1", mask_size=(10, 10))
    with pytest.raises(DataError, match="no usable validation"):
        pair_split(tmp_path / "Image", tmp_path / "GT", ["t1", "t2"], ["v1"])


def test_upper_case_png_masks_are_found_and_counted(tmp_path, capsys):
    write_pair(tmp_path, "a")
    (tmp_path / "GT" / "a.png").rename(tmp_path / "GT" / "a.PNG")
    Image.new("L", (40, 30), 255).save(tmp_path / "GT" / "stray.PNG")
    (stem, _, mask), = pair_files(tmp_path / "Image", tmp_path / "GT", ["a"])
    assert stem == "a" and mask.name == "a.PNG"
    assert "Ignored 1 mask in" in capsys.readouterr().out


def test_image_named_in_a_split_list_but_gone_names_the_list_and_the_fix(tmp_path):
    for stem in ("t1", "t2", "v1"):
        write_pair(tmp_path, stem)
    (tmp_path / "Image" / "t2.jpg").unlink()
    lists = (tmp_path / "X-Train.txt", tmp_path / "X-Validation.txt")
    with pytest.raises(DataError) as error:
        pair_split(tmp_path / "Image", tmp_path / "GT", ["t1", "t2"], ["v1"], lists=lists)
    assert "t2" in str(error.value) and f"named in {lists[0]}" in str(error.value)
    assert f"delete {lists[0]} and {lists[1]}" in str(error.value)


def test_corrupt_image_read_in_a_loader_worker_is_one_line_naming_it(tmp_path):
    write_pair(tmp_path, "a", size=(64, 64))
    image = tmp_path / "Image" / "a.jpg"
    Image.effect_noise((64, 64), 50).convert("RGB").save(image)
    image.write_bytes(image.read_bytes()[:400])  # the header is intact, the pixels are cut off
    loader = torch.utils.data.DataLoader(TrainingSet([("a", image, tmp_path / "GT" / "a.png")], 32, seed=1), num_workers=1)
    with pytest.raises(DataError) as error:
        next(iter(loader))
    message = str(error.value)
    assert "\n" not in message and str(image) in message and "Traceback" not in message


def test_augmentation_depends_on_seed_epoch_and_image_only(demo_root):
    """Worker count, DDP sharding or a resume cannot change what an image looks like in an epoch."""
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    pairs = pair_files(image_dir, mask_dir, list_stems(image_dir, "photo")[:6], report=False)

    def epoch_batches(num_workers, epoch):
        loader = training_loader(pairs, 32, 3, num_workers, False, seed=5)
        loader.generator.manual_seed(5 + epoch)
        loader.dataset.set_epoch(epoch)
        return [(images, masks, index) for images, masks, index in loader]

    alone, with_workers = epoch_batches(0, 2), epoch_batches(2, 2)
    for (images, masks, index), (images2, masks2, index2) in zip(alone, with_workers, strict=True):
        assert torch.equal(index, index2) and torch.equal(images, images2) and torch.equal(masks, masks2)
    seen = {int(i): image for images, _, index in alone for i, image in zip(index, images)}
    dataset = TrainingSet(pairs, 32, seed=5)
    dataset.set_epoch(2)
    assert all(torch.equal(dataset[i][0], seen[i]) for i in range(len(pairs)))  # in the main process, one by one
    dataset.set_epoch(3)
    assert not all(torch.equal(dataset[i][0], seen[i]) for i in range(len(pairs)))  # another epoch, another view
    assert torch.equal(augmentation_generator(5, 3, 0).get_state(), augmentation_generator(5, 3, 0).get_state())


def test_never_more_workers_than_cores():
    assert usable_workers(0) == 0 and 1 <= usable_workers(10_000) <= 10_000
    assert usable_workers(10_000) == usable_workers(100_000)


def test_split_read_from_lists_says_validation_size_and_seed_do_not_apply(tmp_path, capsys):
    for i in range(6):
        write_pair(tmp_path / "DUTS-TR", f"im{i}")
    load_or_make_split(tmp_path, tmp_path / "DUTS-TR" / "Image", validation_size=2, seed=1)
    capsys.readouterr()
    load_or_make_split(tmp_path, tmp_path / "DUTS-TR" / "Image", validation_size=3, seed=7)
    out = capsys.readouterr().out
    assert "VALIDATION_SIZE (3) and SEED (7) do not change it" in out and "--split_dir" in out
