"""The train/validation split of DUTS-TR: the authors' published lists if present, else a seeded one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data.datasets import DataError, list_stems

TRAIN_LIST = "DUTS-TR-Train.txt"
VALIDATION_LIST = "DUTS-TR-Validation.txt"


def read_stems(path: Path) -> list[str]:
    stems = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [Path(stem).stem if stem.lower().endswith((".jpg", ".png")) else stem for stem in stems]


def load_or_make_split(
    list_dir: Path, image_dir: Path, validation_size: int, seed: int
) -> tuple[list[str], list[str]]:
    """(train stems, validation stems). Uses `list_dir`/DUTS-TR-{Train,Validation}.txt when both
    exist; otherwise draws `validation_size` images with `seed`, writes both lists there and says so."""
    train_file, validation_file = list_dir / TRAIN_LIST, list_dir / VALIDATION_LIST
    if train_file.is_file() and validation_file.is_file():
        train, validation = read_stems(train_file), read_stems(validation_file)
        if not train:
            raise DataError(f"empty training list: {train_file}")
        return train, validation
    stems = list_stems(image_dir)
    if len(stems) <= validation_size:
        raise DataError(
            f"{image_dir} has {len(stems)} images, too few for VALIDATION_SIZE={validation_size}"
        )
    order = np.random.default_rng(seed).permutation(len(stems))
    validation = sorted(stems[i] for i in order[:validation_size])
    train = sorted(stems[i] for i in order[validation_size:])
    train_file.write_text("\n".join(train) + "\n")
    validation_file.write_text("\n".join(validation) + "\n")
    print(f"No split lists found: made a seeded split (SEED={seed}) of {len(train)} training and "
          f"{len(validation)} validation images, written to {train_file} and {validation_file}")
    return train, validation
