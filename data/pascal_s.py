"""The real-image study's data: PASCAL-S split once into 600 training, 100 validation and 150 test
images (lists committed in `Dataset/PASCAL-S-study/`), laid out as a data root that `main_ASLP.py`
reads like any other (`Train/PASCAL-S`, `Test/PASCAL-S`, `PASCAL-S-{Train,Validation}.txt`).

The images are linked, not copied: the set stays where it is (read-only), and the root costs a few
kilobytes. The binary benchmark masks (`GT/`) are used for training and testing, as in the SOD
literature; `GT_soft/` (13 levels) is left for those who want to train on annotator agreement.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.text import counted
from data.files import DataError, abbreviate, find_mask, find_photo, list_files, list_stems, require_folder
from data.split import read_stems, split_list_names
from common import atomic

SET_NAME = "PASCAL-S"
SPLIT_DIR = Path(__file__).resolve().parent.parent / "Dataset" / "PASCAL-S-study"
SPLIT_SIZES = {"Train": 600, "Validation": 100, "Test": 150}
SPLIT_SEED = 2023
# What a source folder must be, for messages: PASCAL-S's own release, whose files are named 1 to 850.
SOURCE_LAYOUT = "PASCAL-S's own folder, with Image/<n>.jpg and GT/<n>.png for n = 1 to 850"


def split_files(split_dir: Path = SPLIT_DIR) -> dict[str, Path]:
    """part ('Train', 'Validation', 'Test') -> its list file, e.g. PASCAL-S-Test.txt."""
    return {part: split_dir / f"{SET_NAME}-{part}.txt" for part in SPLIT_SIZES}


def make_split(source: Path, seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """A seeded 600 / 100 / 150 split of the 850 stems of `source`/Image, each part sorted."""
    stems = list_stems(require_folder(Path(source) / "Image"), "photo")
    if len(stems) != sum(SPLIT_SIZES.values()):
        raise DataError(f"{source}/Image holds {counted(len(stems), 'image')}; the PASCAL-S "
                        "split needs "
                        f"{sum(SPLIT_SIZES.values())}")
    order = np.random.default_rng(seed).permutation(len(stems))
    parts, start = {}, 0
    for part, size in SPLIT_SIZES.items():
        parts[part] = sorted((stems[i] for i in order[start:start + size]), key=lambda s: (len(s), s))
        start += size
    return parts


def write_split(parts: dict[str, list[str]], split_dir: Path = SPLIT_DIR) -> None:
    split_dir.mkdir(parents=True, exist_ok=True)
    for part, path in split_files(split_dir).items():
        atomic.write_text(path, "\n".join(parts[part]) + "\n")


def read_split(split_dir: Path = SPLIT_DIR) -> dict[str, list[str]]:
    return {part: read_stems(path) for part, path in split_files(split_dir).items()}


def _stems(folder: Path, kind: str) -> set[str]:
    """The stems of the `kind` files in `folder`; its errors (no folder, no such file, a lossy mask)
    also say what the source must be."""
    try:
        return set(list_files(folder, kind).files)
    except DataError as error:
        raise DataError(f"{error}; --source must be {SOURCE_LAYOUT}") from None


def check_source(source: Path, parts: dict[str, list[str]], split_dir: Path = SPLIT_DIR, masks: str = "GT") -> None:
    """Every image of the split `parts` (read from `split_dir`) has its photograph in `source`/Image
    and its PNG mask in `source`/`masks`; otherwise a DataError says which are missing and what the
    source must hold."""
    wanted = sorted({stem for stems in parts.values() for stem in stems}, key=lambda s: (len(s), s))
    missing = []
    for folder, kind, what in ((source / "Image", "photo", "photographs"), (source / masks, "mask", "masks")):
        found = _stems(folder, kind)
        lacking = [stem for stem in wanted if stem not in found]
        if lacking:
            missing.append(f"{len(lacking)} of the {len(wanted)} {what} in {folder} ({abbreviate(lacking)})")
    if missing:
        raise DataError(f"{source} does not hold the images the PASCAL-S study's split names "
                        f"({split_dir}/{SET_NAME}-{{Train,Validation,Test}}.txt): missing {' and '.join(missing)}; "
                        f"--source must be {SOURCE_LAYOUT}")


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(target.resolve(), link)


def lay_out(source: Path, root: Path, split_dir: Path = SPLIT_DIR, masks: str = "GT") -> Path:
    """Make `root` a data root for main_ASLP.py from the PASCAL-S folder `source` and the committed
    split: Train/PASCAL-S holds the 700 training and validation images, Test/PASCAL-S the 150 test
    images, and the split lists sit at the root. `masks` picks GT (binary) or GT_soft (13 levels)."""
    source, root = Path(source), Path(root)
    parts = read_split(split_dir)
    check_source(source, parts, split_dir, masks)  # before anything is created: no half-made root
    train_names, validation_names = split_list_names(SET_NAME)
    layout = {root / "Train" / SET_NAME: parts["Train"] + parts["Validation"], root / "Test" / SET_NAME: parts["Test"]}
    for folder, stems in layout.items():
        for sub in ("Image", "GT"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            for stale in (folder / sub).iterdir():
                stale.unlink()
        for stem in stems:
            image, mask = find_photo(source / "Image", stem), find_mask(source / masks, stem)
            _link(image, folder / "Image" / image.name)
            _link(mask, folder / "GT" / mask.name)
    atomic.write_text(root / train_names, "\n".join(parts["Train"]) + "\n")
    atomic.write_text(root / validation_names, "\n".join(parts["Validation"]) + "\n")
    return root


def link_test_set(source: Path, folder: Path) -> Path:
    """`folder`/Image and `folder`/GT as links to the photos and masks of `source` (a test set kept
    elsewhere, e.g. SOD beside PASCAL-S), each photo with its mask; returns `folder`."""
    for sub, kind in (("Image", "photo"), ("GT", "mask")):
        files = list_files(source / sub, kind).files
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for path in files.values():
            _link(path, folder / sub / path.name)
    return folder
