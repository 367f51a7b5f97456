"""The train/validation split of the training set: `<TRAIN_SET>-Train.txt` and `<TRAIN_SET>-Validation.txt`
in the data root (for DUTS-TR the authors' published lists), else a seeded split written there."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data.datasets import DataError, list_stems



def split_list_names(train_set: str) -> tuple[str, str]:
    """File names of the training and validation lists of `train_set`, e.g. DUTS-TR-Train.txt.
    Named after the set, so that another training set never reads or overwrites the DUTS-TR lists."""
    return f"{train_set}-Train.txt", f"{train_set}-Validation.txt"


def read_stems(path: Path) -> list[str]:
    stems = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [Path(stem).stem if stem.lower().endswith((".jpg", ".png")) else stem for stem in stems]


def load_or_make_split(
    list_dir: Path, image_dir: Path, validation_size: int, seed: int, train_set: str = "DUTS-TR"
) -> tuple[list[str], list[str]]:
    """(train stems, validation stems). Uses `list_dir`/<train_set>-{Train,Validation}.txt when both
    exist; otherwise draws `validation_size` images with `seed`, writes both lists there and says so."""
    train_file, validation_file = (list_dir / name for name in split_list_names(train_set))
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
