"""The train/validation split of the training set: `<TRAIN_SET>-Train.txt` and `<TRAIN_SET>-Validation.txt`
in the folder of the split lists (SPLIT_DIR, by default the data root; for DUTS-TR the authors'
published lists), else a seeded split written there."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.text import counted
from data.files import DataError, file_kind, list_stems
from common import atomic


def split_list_names(train_set: str) -> tuple[str, str]:
    """File names of the training and validation lists of `train_set`, e.g. DUTS-TR-Train.txt.
    Named after the set, so that another training set never reads or overwrites the DUTS-TR lists."""
    return f"{train_set}-Train.txt", f"{train_set}-Validation.txt"


def read_stems(path: Path) -> list[str]:
    stems = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [Path(stem).stem if stem.lower().endswith(file_kind("photo").suffixes) else stem for stem in stems]


@dataclass(frozen=True)
class Split:
    """The training and validation stems, the list files they were read from or go to, and the seed a
    split drawn now was drawn with (None: read from the lists)."""

    train: list[str]
    validation: list[str]
    files: tuple[Path, Path]
    drawn_with: int | None = None


def read_or_draw_split(
    list_dir: Path, image_dir: Path, validation_size: int, seed: int, train_set: str = "DUTS-TR", report: bool = True,
) -> Split:
    """The split in `list_dir`/<train_set>-{Train,Validation}.txt when both exist (saying that
    `validation_size` and `seed` then do not apply); otherwise `validation_size` images drawn with
    `seed`, in memory only: check their pairs, then `save_split`, so that a run stopping on a bad
    mask leaves no lists behind to fix the next run's split. Every process draws the same split."""
    files = tuple(list_dir / name for name in split_list_names(train_set))
    train_file, validation_file = files
    if train_file.is_file() and validation_file.is_file():
        train, validation = read_stems(train_file), read_stems(validation_file)
        if not train:
            raise DataError(f"empty training list: {train_file}")
        if report:
            print(f"Split read from {train_file} and {validation_file} ({len(train)} training, {len(validation)} "
                  f"validation images): VALIDATION_SIZE ({validation_size}) and SEED ({seed}) do not change it; "
                  "to draw a new split, point --split_dir at another folder or delete both lists")
        return Split(train, validation, files)
    stems = list_stems(image_dir, "photo")
    if len(stems) <= validation_size:
        raise DataError(
            f"{image_dir} has {counted(len(stems), 'image')}, too few for "
            f"VALIDATION_SIZE={validation_size}"
        )
    order = np.random.default_rng(seed).permutation(len(stems))
    validation = sorted(stems[i] for i in order[:validation_size])
    train = sorted(stems[i] for i in order[validation_size:])
    return Split(train, validation, files, drawn_with=seed)


def save_split(split: Split) -> None:
    """Write a split drawn by `read_or_draw_split` to its list files and say so; one read from them
    is left as it is."""
    if split.drawn_with is None:
        return
    train_file, validation_file = split.files
    try:
        train_file.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(train_file, "\n".join(split.train) + "\n")
        atomic.write_text(validation_file, "\n".join(split.validation) + "\n")
    except OSError as error:
        raise DataError(f"no split lists in {train_file.parent}, and a new split cannot be written there "
                        f"({error.strerror}); set --split_dir to a writable folder for the lists") from error
    print(f"No split lists found: made a seeded split (SEED={split.drawn_with}) of {len(split.train)} training and "
          f"{len(split.validation)} validation images, written to {train_file} and {validation_file}")
