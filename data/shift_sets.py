"""Corrupted copies of the test sets, written once under DATASET_ROOT/Test/ and reused by every later
method, seed and run.

    Test/<set>@<corruption>-<severity>/Image/<stem>.png   the photo corrupted at its own size (lossless)
    Test/<set>@<corruption>-<severity>/GT/<stem>.png      the set's mask, unchanged (a hard link, or a copy)
    Test/<set>@<corruption>-<severity>/corruption.json    what the set is: source, corruption, severity, seed rule

The network's resize comes after, as for any photo. A set is written into a hidden folder beside its
place (`.<name>.partial`) and renamed when complete, under a lock (`.<name>.lock`): a folder under its
own name is always a complete set, and two runs never write the same one at once. A set whose photos
no longer match its source's (the source gained or lost photos) is refused, naming it, rather than
scored on a mix.
"""
from __future__ import annotations

import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import numpy as np
from filelock import FileLock
from PIL import Image
from tqdm import tqdm

from common import atomic
from common.text import counted, plural
from data.corruptions import MIN_SIDE, ShiftedSet, corrupt
from data.datasets import image_size, list_images
from data.files import DataError, abbreviate, read_photo

RECORD = "corruption.json"
SEED_RULE = "numpy.random.seed(int.from_bytes(sha256('<stem>|<corruption>|<severity>')[:4], 'little'))"


def check_photo_sizes(image_dir: Path) -> None:
    """Refuse a set holding a photo with a side under MIN_SIDE px (the corruptions' least), naming them."""
    small = [(path.name, image_size(path)) for path in list_images(image_dir)]
    small = [f"{name} ({width} x {height})" for name, (width, height) in small if min(width, height) < MIN_SIDE]
    if small:
        raise DataError(f"{image_dir}: {counted(len(small), 'photo')} under {MIN_SIDE} px a side, which the "
                        f"corruptions cannot take: {abbreviate(small)}; remove {plural('it', len(small), 'them')} "
                        "or leave the set out of --corrupted_sets")


def _stale(target: Path, photos: list[Path]) -> None:
    held = sorted(path.stem for path in (target / "Image").iterdir())
    if held != sorted(path.stem for path in photos):
        raise DataError(f"{target} holds {counted(len(held), 'photo')} where its source set has {len(photos)} "
                        f"(another version of the set): delete {target} to write it again")


def _link_masks(mask_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir()
    for mask in sorted(mask_dir.iterdir()):
        if mask.is_file():
            try:
                os.link(mask, out_dir / mask.name)
            except OSError:  # another file system, or one without hard links
                shutil.copy2(mask, out_dir / mask.name)


def _write(test_root: Path, shifted: ShiftedSet, photos: list[Path], progress: tqdm) -> None:
    """Write `shifted` into its partial folder and rename it into place."""
    with atomic.folder(test_root / shifted.name) as partial:  # under the lock: nobody else is writing it
        (partial / "Image").mkdir()
        for path in photos:
            photo = np.asarray(read_photo(path))
            Image.fromarray(corrupt(photo, shifted.corruption, shifted.severity, path.stem)).save(
                partial / "Image" / f"{path.stem}.png")
            progress.update()
        source_masks = test_root / shifted.source / "GT"
        if source_masks.is_dir():
            _link_masks(source_masks, partial / "GT")
        record = {"source": shifted.source, "corruption": shifted.corruption, "family": shifted.family,
                  "severity": shifted.severity, "images": len(photos), "imagecorruptions": version("imagecorruptions"),
                  "seed": SEED_RULE, "masks": f"{shifted.source}/GT, unchanged"}
        (partial / RECORD).write_text(json.dumps(record, indent=1) + "\n")


def write_shifted_sets(test_root: Path, shifted: list[ShiftedSet]) -> list[ShiftedSet]:
    """Write every set of `shifted` that `test_root` lacks (checking its source's photo sizes first) and
    check those it holds; returns those written. One progress bar over all their photos."""
    photos = {source: list_images(test_root / source / "Image") for source in dict.fromkeys(s.source for s in shifted)}
    missing = [s for s in shifted if not (test_root / s.name).is_dir()]
    for source in dict.fromkeys(s.source for s in missing):
        check_photo_sizes(test_root / source / "Image")
    for s in shifted:
        if s not in missing:
            _stale(test_root / s.name, photos[s.source])
    total = sum(len(photos[s.source]) for s in missing)
    with tqdm(total=total, desc="Corrupting test photos", unit="photo", disable=not missing) as progress:
        for s in missing:
            progress.set_postfix_str(s.name)
            with FileLock(test_root / f".{s.name}.lock"):
                if not (test_root / s.name).is_dir():  # another run may have written it meanwhile
                    _write(test_root, s, photos[s.source], progress)
    return missing
