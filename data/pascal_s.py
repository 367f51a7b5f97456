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

from data.files import DataError, find_photo, list_stems, require_folder
from data.split import read_stems, split_list_names

SET_NAME = "PASCAL-S"
SPLIT_DIR = Path(__file__).resolve().parent.parent / "Dataset" / "PASCAL-S-study"
SPLIT_SIZES = {"Train": 600, "Validation": 100, "Test": 150}
SPLIT_SEED = 2023


def split_files(split_dir: Path = SPLIT_DIR) -> dict[str, Path]:
    """part ('Train', 'Validation', 'Test') -> its list file, e.g. PASCAL-S-Test.txt."""
    return {part: split_dir / f"{SET_NAME}-{part}.txt" for part in SPLIT_SIZES}


def make_split(source: Path, seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """A seeded 600 / 100 / 150 split of the 850 stems of `source`/Image, each part sorted."""
    stems = list_stems(require_folder(Path(source) / "Image"), "photo")
    if len(stems) != sum(SPLIT_SIZES.values()):
        raise DataError(f"{source}/Image holds {len(stems)} image{'s' if len(stems) != 1 else ''}; the PASCAL-S "
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
        path.write_text("\n".join(parts[part]) + "\n")


def read_split(split_dir: Path = SPLIT_DIR) -> dict[str, list[str]]:
    return {part: read_stems(path) for part, path in split_files(split_dir).items()}


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(target.resolve(), link)


def lay_out(source: Path, root: Path, split_dir: Path = SPLIT_DIR, masks: str = "GT") -> Path:
    """Make `root` a data root for main_ASLP.py from the PASCAL-S folder `source` and the committed
    split: Train/PASCAL-S holds the 700 training and validation images, Test/PASCAL-S the 150 test
    images, and the split lists sit at the root. `masks` picks GT (binary) or GT_soft (13 levels)."""
    source, root = Path(source), Path(root)
    require_folder(source / "Image", hint="the PASCAL-S folder, e.g. ../shared/data/PASCAL-S")
    require_folder(source / masks)
    parts = read_split(split_dir)
    train_names, validation_names = split_list_names(SET_NAME)
    layout = {root / "Train" / SET_NAME: parts["Train"] + parts["Validation"], root / "Test" / SET_NAME: parts["Test"]}
    for folder, stems in layout.items():
        for sub in ("Image", "GT"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            for stale in (folder / sub).iterdir():
                stale.unlink()
        for stem in stems:
            image = find_photo(source / "Image", stem)
            mask = source / masks / f"{stem}.png"
            if not mask.is_file():
                raise DataError(f"mask not found: {mask} (listed in {split_dir})")
            _link(image, folder / "Image" / image.name)
            _link(mask, folder / "GT" / mask.name)
    (root / train_names).write_text("\n".join(parts["Train"]) + "\n")
    (root / validation_names).write_text("\n".join(parts["Validation"]) + "\n")
    return root
