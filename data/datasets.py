"""Finding image/mask pairs on disk and the datasets that feed training, validation and testing.

Layout: `<root>/Image/<stem>.jpg|.png` and `<root>/GT/<stem>.png`, suffixes in either case. Every
problem is reported: a missing or unreadable file is an error naming it, and pairs whose image and
mask sizes differ are skipped with their count and names printed.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from data.transforms import image_to_tensor, train_transform

IMAGE_SUFFIXES = (".jpg", ".png")
MASK_SUFFIX = ".png"


class DataError(ValueError):
    """Bad or missing input data; the message names the file or folder and the fix."""

    def __init__(self, message: str) -> None:
        # Raised in a DataLoader worker, the error is rebuilt in the main process with the worker's
        # whole traceback as its message; keep the original sentence, the traceback's last line.
        if message.startswith(f"Caught {type(self).__name__} in DataLoader worker"):
            message = message.rstrip().splitlines()[-1].split(": ", 1)[-1] + " (read in a DataLoader worker)"
        super().__init__(message)


def require_dir(path: Path, hint: str = "") -> Path:
    if not path.is_dir():
        raise DataError(f"folder not found: {path}" + (f" ({hint})" if hint else ""))
    return path


def open_image(path: Path, mode: str) -> Image.Image:
    """Open `path` converted to `mode` ('RGB' or 'L'); grey, RGBA or palette files are converted."""
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except FileNotFoundError as error:
        raise DataError(f"file not found: {path}") from error
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"cannot read image {path}: {error}") from error


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError as error:
        raise DataError(f"file not found: {path}") from error
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"cannot read image {path}: {error}") from error


def find_image(image_dir: Path, stem: str) -> Path:
    for suffix in (*IMAGE_SUFFIXES, *(s.upper() for s in IMAGE_SUFFIXES)):
        candidate = image_dir / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DataError(f"image not found: {image_dir / stem}.jpg (nor .png)")


def find_mask(mask_dir: Path, stem: str) -> Path:
    """`<stem>.png`, or `<stem>.PNG` as some tools write it."""
    for suffix in (MASK_SUFFIX, MASK_SUFFIX.upper()):
        candidate = mask_dir / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DataError(f"mask not found: {mask_dir / stem}{MASK_SUFFIX}")


def list_stems(image_dir: Path) -> list[str]:
    """Sorted stems of the images in `image_dir`."""
    require_dir(image_dir)
    return sorted(p.stem for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def pair_files(
    image_dir: Path, mask_dir: Path, stems: Sequence[str], report: bool = True
) -> list[tuple[str, Path, Path]]:
    """(stem, image, mask) for each stem; pairs of unequal size are dropped and reported."""
    require_dir(image_dir)
    require_dir(mask_dir)
    pairs, mismatched = [], []
    for stem in stems:
        image_path = find_image(image_dir, stem)
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
            print(f"Skipped {len(mismatched)} image/mask pairs of different sizes in {image_dir.parent}: "
                  f"{_names(mismatched)}")
        masks = {p.stem for p in mask_dir.iterdir() if p.suffix.lower() == MASK_SUFFIX}
        orphans = sorted(masks - set(list_stems(image_dir)))
        if orphans:
            print(f"Ignored {len(orphans)} masks in {mask_dir} that have no image: {_names(orphans)}")
    if not pairs:
        raise DataError(f"no usable image/mask pairs in {image_dir} and {mask_dir}")
    check_mask_levels([mask for _, _, mask in pairs])
    return pairs


def pair_split(
    image_dir: Path, mask_dir: Path, train_stems: Sequence[str], val_stems: Sequence[str], report: bool = True,
    lists: tuple[Path, Path] | None = None,
) -> tuple[list[tuple[str, Path, Path]], list[tuple[str, Path, Path]]]:
    """(training pairs, validation pairs), checked and reported in one pass over both lists.

    `lists`: the training and validation list files the stems were read from; an image they name
    that is gone is then reported with the list that names it."""
    if lists:
        present = set(list_stems(image_dir))
        for stems, listed_in in zip((train_stems, val_stems), lists):
            missing = [stem for stem in stems if stem not in present]
            if missing:
                raise DataError(f"{len(missing)} image(s) named in {listed_in} are not in {image_dir}: "
                                f"{_names(missing)}; restore them, or delete {lists[0]} and {lists[1]} "
                                "to draw a new split")
    validation = set(val_stems)
    pairs = pair_files(image_dir, mask_dir, [*train_stems, *val_stems], report)
    train_pairs = [pair for pair in pairs if pair[0] not in validation]
    val_pairs = [pair for pair in pairs if pair[0] in validation]
    for name, subset in (("training", train_pairs), ("validation", val_pairs)):
        if not subset:
            raise DataError(f"no usable {name} image/mask pairs in {image_dir} and {mask_dir}")
    return train_pairs, val_pairs


def _names(stems: Sequence[str], shown: int = 10) -> str:
    return ", ".join(stems[:shown]) + (" ..." if len(stems) > shown else "")


def check_mask_levels(masks: Sequence[Path], sample: int = 20) -> None:
    """Masks are 8-bit with the object at 255 (values between are soft edges, used as such).
    Masks saved as 0/1 would silently train on near-empty labels, so a sample of them is checked."""
    step = max(1, len(masks) // sample)
    if all(np.asarray(open_image(path, "L")).max() <= 1 for path in masks[::step]):
        raise DataError(f"the masks in {masks[0].parent} hold only the values 0 and 1; they must mark the "
                        "object with 255 (multiply them by 255)")


class TrainingSet(Dataset):
    """Augmented (image, mask, index) triples; `index` keys the per-image alpha table."""

    def __init__(self, pairs: Sequence[tuple[str, Path, Path]], size: int) -> None:
        self.pairs, self.size = list(pairs), size
        self.names = [stem for stem, _, _ in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        _, image_path, mask_path = self.pairs[index]
        image, mask = train_transform(open_image(image_path, "RGB"), open_image(mask_path, "L"), self.size)
        return image, mask, index


class InferenceSet(Dataset):
    """Images resized for the network, with name, original size and (if given) the mask at that size."""

    def __init__(self, images: Sequence[Path], size: int, masks: Sequence[Path] | None = None) -> None:
        self.images, self.masks, self.size = list(images), (list(masks) if masks else None), size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        image = open_image(self.images[index], "RGB")
        item = {"image": image_to_tensor(image, self.size), "name": self.images[index].stem,
                "size": (image.height, image.width)}
        if self.masks is not None:
            item["mask"] = torch.from_numpy(np.array(open_image(self.masks[index], "L")))  # raw 8-bit levels
        return item


def collate_inference(items: list[dict]) -> dict:
    """Stack the resized images; keep names, sizes and masks (of varying size) as lists."""
    batch = {key: [item[key] for item in items] for key in items[0]}
    batch["image"] = torch.stack(batch["image"])
    return batch
