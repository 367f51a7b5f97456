"""The datasets that feed training, validation and testing, and the pairing of images with masks.

Layout: `<root>/Image/<stem>.<photo suffix>` and `<root>/GT/<stem>.png` (what a photo and a mask may
be, and how each is read, is `data.files`' rule, shared with the evaluator). Every problem is
reported: a missing, lossy or unreadable file is an error naming it, and pairs whose image and mask
sizes differ are skipped with their count and names printed. Every mask is read once before any work
(`check_masks`), so that a mask the reader refuses stops the run at once and what it converted (masks
stored as 0/1, 16-bit or palette masks) is said once, with a count and names.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from tqdm import tqdm

from common.text import counted, plural
from data.files import (
    DataError, abbreviate, find_mask, find_photo, list_files, list_stems, read_grey, read_photo, require_folder,
)
from data.orientation import ORIENTED_NOTE, orientation, upright_size
from data.transforms import augmentation_generator, image_to_tensor, train_transform


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels, as shown upright (EXIF orientation)."""
    try:
        with Image.open(path) as image:
            return upright_size(image)
    except FileNotFoundError as error:
        raise DataError(f"file not found: {path}") from error
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"cannot read image {path}: {error}") from error


def list_images(image_dir: Path) -> list[Path]:
    """The photographs of `image_dir`, sorted by stem."""
    files = list_files(image_dir, "photo").files
    return [files[stem] for stem in sorted(files)]


def read_mask(path: Path) -> np.ndarray:
    """A mask's 8-bit levels, object at 255 (soft edges kept), as `data.files.read_grey` reads it."""
    return read_grey(path, "mask")[0]


def check_masks(masks: Sequence[Path], report: bool = True) -> None:
    """Read every mask as training and testing will: stop if the reader refuses any (naming the first's
    problem and how many more), and with `report` print each conversion once, with its count and names."""
    converted: dict[str, list[str]] = {}
    refused: list[tuple[Path, DataError]] = []
    for path in masks:
        try:
            for note in read_grey(path, "mask")[1]:
                converted.setdefault(note, []).append(path.name)
        except DataError as error:
            refused.append((path, error))
    if refused:
        others = [path.name for path, _ in refused[1:]]
        more = f"; {len(others)} more mask(s) refused: {abbreviate(others)}" if others else ""
        raise DataError(f"{refused[0][1]}{more}")
    if report:
        for note, names in converted.items():
            print(f"Masks in {masks[0].parent}: {note}: {len(names)} of {len(masks)} masks: {abbreviate(names)}")


def pair_files(
    image_dir: Path, mask_dir: Path, stems: Sequence[str], report: bool = True
) -> list[tuple[str, Path, Path]]:
    """(stem, image, mask) for each stem; pairs of unequal size are dropped and reported."""
    require_folder(image_dir)
    require_folder(mask_dir)
    pairs, mismatched = [], []
    for stem in stems:
        image_path = find_photo(image_dir, stem)
        try:
            mask_path = find_mask(mask_dir, stem)
        except DataError as error:
            raise DataError(f"{error} (for image {image_path})") from None
        if image_size(image_path) != image_size(mask_path):
            mismatched.append(stem)
        else:
            pairs.append((stem, image_path, mask_path))
    if report:
        if mismatched:
            print(f"Skipped {counted(len(mismatched), 'image/mask pair')} of different "
                  f"sizes in {image_dir.parent}: "
                  f"{abbreviate(mismatched, 10)}")
        orphans = sorted(set(list_stems(mask_dir, "mask")) - set(list_stems(image_dir, "photo")))
        if orphans:
            print(f"Ignored {counted(len(orphans), 'mask')} in {mask_dir} that "
                  f"{plural('has', len(orphans), 'have')} no image: {abbreviate(orphans, 10)}")
    if not pairs:
        raise DataError(f"no usable image/mask pairs in {image_dir} and {mask_dir}")
    check_masks([mask for _, _, mask in pairs], report)
    return pairs


def pair_split(
    image_dir: Path, mask_dir: Path, train_stems: Sequence[str], val_stems: Sequence[str], report: bool = True,
    lists: tuple[Path, Path] | None = None,
) -> tuple[list[tuple[str, Path, Path]], list[tuple[str, Path, Path]]]:
    """(training pairs, validation pairs), checked and reported in one pass over both lists.

    `lists`: the training and validation list files the stems were read from; an image they name
    that is gone is then reported with the list that names it."""
    if lists:
        present = set(list_stems(image_dir, "photo"))
        for stems, listed_in in zip((train_stems, val_stems), lists):
            missing = [stem for stem in stems if stem not in present]
            if missing:
                raise DataError(f"{len(missing)} image(s) named in {listed_in} are not in {image_dir}: "
                                f"{abbreviate(missing, 10)}; restore them, or delete {lists[0]} and {lists[1]} "
                                "to draw a new split")
    validation = set(val_stems)
    pairs = pair_files(image_dir, mask_dir, [*train_stems, *val_stems], report)
    train_pairs = [pair for pair in pairs if pair[0] not in validation]
    val_pairs = [pair for pair in pairs if pair[0] in validation]
    for name, subset in (("training", train_pairs), ("validation", val_pairs)):
        if not subset:
            raise DataError(f"no usable {name} image/mask pairs in {image_dir} and {mask_dir}")
    return train_pairs, val_pairs


def check_photos(photos: Sequence[Path], report: bool = True) -> None:
    """Decode every photo before any work: stop naming all that cannot be read (not one after minutes of
    work), and with `report` say how many are turned upright by their EXIF orientation."""
    refused, turned = [], []
    # A bar only where the check takes a while.
    for path in tqdm(photos, desc="Checking photos", unit="photo", leave=False, disable=not report or len(photos) < 200):
        try:
            with Image.open(path) as image:
                image.load()
                if orientation(image) != 1:
                    turned.append(path.name)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            refused.append(f"{path.name} ({' '.join(str(error).split()) or type(error).__name__})")
    if refused:
        raise DataError(f"{counted(len(refused), 'photo')} of {photos[0].parent} cannot be read: "
                        f"{abbreviate(refused, 10)}; replace or remove {plural('it', len(refused), 'them')}")
    if turned and report:
        print(f"Note: {counted(len(turned), 'photo')} {ORIENTED_NOTE} (as a viewer shows "
              f"{plural('it', len(turned), 'them')}; the maps are upright too): {abbreviate(turned)}")


def check_test_set(set_dir: Path, needs_images: bool, needs_masks: bool, hint: str = "") -> None:
    """Before any training: the test set's folders exist, every image has a lossless mask, and every
    mask can be read (`check_masks`), so that nothing is found wrong only after hours of training."""
    image_dir, mask_dir = set_dir / "Image", set_dir / "GT"
    if needs_images:
        require_folder(image_dir, "test image", hint)
        check_photos(list_images(image_dir))
    if not needs_masks:
        return
    masks = list_files(require_folder(mask_dir, "test mask", hint), "mask").files
    if needs_images:
        unmasked = sorted(set(list_stems(image_dir, "photo")) - set(masks))
        if unmasked:  # a JPEG mask without its PNG was already refused by list_files, naming the file
            raise DataError(f"{len(unmasked)} image(s) in {image_dir} have no mask in {mask_dir}: "
                            f"{abbreviate(unmasked)}; add their masks, or remove the images from the test set")
    check_masks([masks[stem] for stem in sorted(masks)])


class TrainingSet(Dataset):
    """Augmented (image, mask, index) triples; `index` keys the per-image alpha table."""

    def __init__(self, pairs: Sequence[tuple[str, Path, Path]], size: int, seed: int) -> None:
        self.pairs, self.size, self.seed, self.epoch = list(pairs), size, seed, 0
        self.names = [stem for stem, _, _ in self.pairs]

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose augmentation the next iteration draws (see `augmentation_generator`)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        _, image_path, mask_path = self.pairs[index]
        generator = augmentation_generator(self.seed, self.epoch, index)
        image, mask = train_transform(read_photo(image_path), Image.fromarray(read_mask(mask_path)), self.size, generator)
        return image, mask, index


class InferenceSet(Dataset):
    """Images resized for the network, with name, original size and (if given) the mask at that size."""

    def __init__(self, images: Sequence[Path], size: int, masks: Sequence[Path] | None = None) -> None:
        self.images, self.masks, self.size = list(images), (list(masks) if masks else None), size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        image = read_photo(self.images[index])
        item = {"image": image_to_tensor(image, self.size), "name": self.images[index].stem,
                "size": (image.height, image.width)}
        if self.masks is not None:
            item["mask"] = torch.from_numpy(read_mask(self.masks[index]))  # mask levels, soft edges kept
        return item


def collate_inference(items: list[dict]) -> dict:
    """Stack the resized images; keep names, sizes and masks (of varying size) as lists."""
    batch = {key: [item[key] for item in items] for key in items[0]}
    batch["image"] = torch.stack(batch["image"])
    return batch
