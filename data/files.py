"""What a photograph, a mask and a map is on disk, and how each is read: one set of rules for training,
testing and scoring, applied to every file on its own.

- A **photo** (a network input) is a ``.jpg``, ``.jpeg``, ``.png`` or ``.bmp`` file, read as RGB.
- A **mask** must be lossless, ``.png`` or ``.bmp``: JPEG noise would turn background and edges into soft mask
  levels. A mask stored only as ``.jpg``/``.jpeg`` is refused, naming the file and the fix: the set's PNG masks,
  or, for a set that ships only JPEG masks, ``python -m data.convert_masks`` (:data:`CONVERT_COMMAND`).
- A **map** (prediction or probability map) is best lossless; a ``.jpg``/``.jpeg`` map is read with a note that
  it is lossy.

Suffixes match in any letter case. Masks and maps are read as 8-bit grey by :func:`read_grey`, which judges each
file by itself and says what it did in notes (the callers count them and say them once, with file names):

- **levels 0 and 1 only** (1 present, any bit depth): a mask is a mask stored as 0/1, read as 0/255 (it can be
  nothing else); a map is ambiguous (a binary map stored as 0/1, or a confident model's probability map with
  p <= 1/255), so it is read as it is and flagged (:data:`ZERO_ONE_MAP_NOTE`): the scorer refuses it where its
  mask marks an object, unless the maps are trusted (``evaluate.runner``; :func:`evaluate.io.zero_one_maps_error`);
- **16-bit**: scaled by its bit depth, round(v * 255 / 65535), whatever its values; a 16-bit mask whose highest
  level lies in 2..255 is refused (by its bit depth its object would vanish, read as 8-bit is a guess), and so
  is a folder of maps whose every 16-bit map is such (one such map among others is a model's, and noted);
- **palette** (``.png``/``.bmp`` with a colour table): a palette of greys is read as the greys it shows; a mask
  using only the indices 0 and 1 of a colour palette is read by index (1 = object, 255), and so is a VOC-style
  mask also using index 255 (:data:`VOID_INDEX`, "void", VOC's unlabelled border) too, its void apart for the
  scorer (:func:`read_mask_with_void`) and background for training (:func:`read_grey`; noted); any other colour
  palette, like any colour file whose channels differ, is a photograph: refused;
- alpha is dropped and grey stored as colour keeps one channel; a JPEG map is noted as lossy;
- an EXIF orientation tag is applied, to photos, masks and maps alike (:mod:`data.orientation`), and noted.

Every problem is a :class:`DataError` naming the file or folder and the fix. This module must not import torch:
the evaluator, which never loads the model, reads files through it too.
"""
from __future__ import annotations

import glob
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common import atomic
from common.errors import UserFacingError
from data.orientation import ORIENTED_NOTE, file_orientation, upright

CONVERT_COMMAND = "python -m data.convert_masks"
LOSSY_SUFFIXES = (".jpg", ".jpeg")
LOSSY_NOTE = "lossy JPEG file: compression noise shifts its levels (save maps as PNG)"
SIXTEEN_BIT_NOTE = "16-bit file scaled to 8-bit by its bit depth (round(v * 255 / 65535))"
# A 16-bit map whose levels all lie in 0..255: 8-bit values saved in a 16-bit file, or a model whose p < 1/256
# everywhere. A folder whose every 16-bit map is such is refused, as such a mask is (`evaluate.io.sixteen_bit_maps_error`).
SIXTEEN_BIT_LOW_NOTE = "16-bit file whose levels all lie in 0..255, scaled by its bit depth all the same"
MASK_ZERO_ONE_NOTE = "stored as 0/1: read as 0/255 (1 = object)"
ZERO_ONE_MAP_NOTE = "holds only the levels 0 and 1: scored as probabilities (p <= 1/255), not as a binary map"
GREY_PALETTE_NOTE = "palette file of greys: read as the greys it shows"
PALETTE_INDEX_NOTE = "palette file: read by index (0 = background, 1 = object, read as 255)"
VOID_INDEX = 255  # the VOC palette's "void" index: pixels not labelled either way
VOID_NOTE = f"palette index {VOID_INDEX} (void) pixels left out of every metric"
VOID_AS_BACKGROUND_NOTE = f"palette index {VOID_INDEX} (void) pixels read as background"


class DataError(UserFacingError, ValueError):
    """Bad or missing input data; the message names the file or folder and the fix."""

    def __init__(self, message: str) -> None:
        # Raised in a DataLoader worker, the error is rebuilt in the main process with the worker's
        # whole traceback as its message; keep the original sentence, the traceback's last line.
        if message.startswith(f"Caught {type(self).__name__} in DataLoader worker"):
            message = message.rstrip().splitlines()[-1].split(": ", 1)[-1] + " (read in a DataLoader worker)"
        super().__init__(message)


@dataclass(frozen=True)
class FileKind:
    """The suffixes one kind of file may have, preferred first, and those refused with a reason."""

    name: str
    suffixes: tuple[str, ...]
    refused_suffixes: tuple[str, ...] = ()
    refusal: str = ""

    def suffix_list(self) -> str:
        return "/".join(self.suffixes)


FILE_KINDS = {
    kind.name: kind
    for kind in (
        FileKind("photo", (".jpg", ".jpeg", ".png", ".bmp")),
        FileKind(
            "mask",
            (".png", ".bmp"),
            refused_suffixes=LOSSY_SUFFIXES,
            refusal="masks must be lossless; JPEG compression noise turns background and edges into soft mask "
            "levels that the paper protocol counts as errors; use the set's original PNG masks",
        ),
        FileKind("map", (".png", ".bmp", *LOSSY_SUFFIXES)),
    )
}


def file_kind(name: str) -> FileKind:
    """The rules of the kind ``name``: "photo", "mask" or "map"."""
    if name not in FILE_KINDS:
        raise ValueError(f"unknown kind of file {name!r}; choose one of {', '.join(FILE_KINDS)}")
    return FILE_KINDS[name]


def abbreviate(names: Sequence[str], shown: int = 5, total: int | None = None) -> str:
    """The first ``shown`` names, and how many there are when that is more: "a, b, c, ... (12 in all)".

    ``total``: the number in all, when ``names`` holds only the first of them."""
    total = len(names) if total is None else total
    listed = list(names[:shown])
    return ", ".join(listed) + (f", ... ({total} in all)" if total > len(listed) else "")


def require_folder(path: Path, role: str = "", hint: str = "") -> Path:
    """``path``, if it is a folder; else a DataError naming it (``role``: e.g. "mask" in "mask folder")."""
    described = f"{role} folder" if role else "folder"
    hint = f" ({hint})" if hint else ""
    if not path.exists():
        raise DataError(f"{described} not found: {path}{hint}")
    if not path.is_dir():
        raise DataError(f"{described} {path} is not a folder{hint}")
    return path


def require_writable_folder(path: Path) -> None:
    """Create ``path`` and prove a file can be written in it, before hours of work would fail on it."""
    path = Path(path)
    # os.path (unlike Path) answers False rather than raising for a folder it may not look into.
    blocker = next((p for p in (path, *path.parents) if os.path.exists(p) and not os.path.isdir(p)), None)
    if blocker is not None:
        raise DataError(f"cannot write to the output folder {path}: {blocker} is a file; choose another folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as error:
        raise DataError(
            f"cannot write to the output folder {path} ({error.strerror or error}); choose another folder or make "
            "it writable"
        ) from error


@dataclass(frozen=True)
class Listing:
    """The files of one kind in a folder by stem, and what else the folder holds (as path strings)."""

    files: dict[str, Path]
    ignored_files: list[str]
    ignored_folders: list[str]


def _lossy_mask_error(spec: FileKind, refused: Sequence[Path]) -> DataError:
    first = refused[0]
    twins = " or ".join(f"{first.stem}{suffix}" for suffix in spec.suffixes)
    more = f"; {len(refused)} such files in {first.parent}: {abbreviate([p.name for p in refused])}"
    return DataError(
        f"{spec.name} {first} is a lossy file and no {twins} is beside it: {spec.refusal}"
        + (more if len(refused) > 1 else "")
        + f"; a set that ships only JPEG masks can be converted once into PNG masks (threshold at 128): "
        f"{CONVERT_COMMAND} {first.parent} NEW_FOLDER, then use NEW_FOLDER"
    )


def _nested_files(folders: Sequence[str], spec: FileKind) -> dict[str, int]:
    """How many files of ``spec`` each of ``folders`` holds (those that hold some), by folder name."""
    counts = {}
    for folder in map(Path, folders):
        try:
            count = sum(1 for path in folder.iterdir() if path.suffix.lower() in spec.suffixes and path.is_file())
        except OSError:  # a subfolder it may not look into holds nothing it can use
            continue
        if count:
            counts[folder.name] = count
    return counts


def list_files(
    folder: Path,
    kind: str,
    role: str = "",
    skip: Callable[[str], bool] | None = None,
    nested_hint: Callable[[list[str]], str] | None = None,
) -> Listing:
    """The files of ``kind`` in ``folder``, by stem; other files and subfolders are returned, never dropped.

    ``role`` names the folder in messages (default: the kind); ``skip(file_name)`` True leaves a file out
    unlisted (e.g. the evaluator's own outputs). Two files of one stem, a file of a refused suffix without an
    accepted twin, or no file at all is a DataError; when the files are one folder down (the folder of several
    sets given for one set's), the error names those subfolders, and ``nested_hint(their names)`` adds a fix."""
    spec = file_kind(kind)
    role = role or spec.name
    require_folder(folder, role)
    files: dict[str, Path] = {}
    refused: dict[str, Path] = {}
    ignored_files: list[str] = []
    ignored_folders: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            ignored_folders.append(str(path))
        elif skip is not None and skip(path.name):
            continue
        elif atomic.is_temporary(path.name):  # half a file, left by a process killed while writing it
            ignored_files.append(str(path))
        elif path.is_file() and path.suffix.lower() in spec.suffixes:
            if path.stem in files:
                raise DataError(
                    f"{role} folder {folder} holds two files with the stem {path.stem!r}: {files[path.stem].name} "
                    f"and {path.name}; keep one"
                )
            files[path.stem] = path
        elif path.is_file() and path.suffix.lower() in spec.refused_suffixes:
            refused[path.stem] = path
        else:
            ignored_files.append(str(path))
    without_twin = [path for stem, path in refused.items() if stem not in files]
    if without_twin:
        raise _lossy_mask_error(spec, without_twin)
    ignored_files += [str(path) for stem, path in refused.items() if stem in files]
    if not files:
        nested = _nested_files(ignored_folders, spec)
        if nested:
            names = list(nested)
            raise DataError(
                f"{role} folder {folder} contains no {spec.suffix_list()} files, but its subfolders do: "
                f"{abbreviate([f'{name} ({count} files)' for name, count in nested.items()])}; point at the "
                f"subfolder of one set (e.g. {folder / names[0]})" + (nested_hint(names) if nested_hint else "")
            )
        raise DataError(f"{role} folder {folder} contains no {spec.suffix_list()} files")
    return Listing(files, sorted(ignored_files), ignored_folders)


def list_stems(folder: Path, kind: str) -> list[str]:
    """Sorted stems of the files of ``kind`` in ``folder`` (see :func:`list_files`)."""
    return sorted(list_files(folder, kind).files)


def find_file(folder: Path, stem: str, kind: str) -> Path:
    """The file of ``kind`` named ``stem`` in ``folder``, the first accepted suffix first (any letter case)."""
    spec = file_kind(kind)
    for suffix in spec.suffixes:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    # Only when the usual names are missing: mixed-case suffixes, and a refused file to name in the error.
    require_folder(folder, spec.name)
    present = sorted(p for p in folder.glob(f"{glob.escape(stem)}.*") if p.stem == stem and p.is_file())
    accepted = [p for p in present if p.suffix.lower() in spec.suffixes]
    if accepted:
        return accepted[0]
    refused = [p for p in present if p.suffix.lower() in spec.refused_suffixes]
    if refused:
        raise _lossy_mask_error(spec, refused)
    raise DataError(
        f"{spec.name} not found: {folder / stem}{spec.suffixes[0]} (looked for {stem} with the suffixes "
        f"{', '.join(spec.suffixes)} in any letter case in {folder})"
    )


def find_mask(mask_dir: Path, stem: str) -> Path:
    """The lossless mask of ``stem``; a lossy ``stem.jpg`` alone is refused, naming it and the fix."""
    return find_file(mask_dir, stem, "mask")


def find_photo(image_dir: Path, stem: str) -> Path:
    """The photograph of ``stem`` (``.jpg`` preferred, as the training sets store them)."""
    return find_file(image_dir, stem, "photo")


def read_photo(path: Path, at_least: int | None = None) -> Image.Image:
    """``path`` as an RGB image (grey, RGBA and palette files converted), turned upright by its EXIF
    orientation (:mod:`data.orientation`), as the network reads it; with ``at_least`` (a thumbnail's side), a
    JPEG is decoded at the smallest of its reduced scales (1/2, 1/4, 1/8) whose sides stay at least that large,
    in a fraction of the time."""
    try:
        with Image.open(path) as image:
            if at_least is not None:
                image.draft("RGB", (at_least, at_least))
            return ImageOps.exif_transpose(image).convert("RGB")
    except FileNotFoundError as error:
        raise DataError(f"file not found: {path}") from error
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"cannot read image {path}: {error}") from error


def _photograph_error(path: Path, what: str) -> DataError:
    return DataError(f"{path} is {what}: it looks like a photograph, not a grey map or mask; point at the folder of "
                     "maps or masks, not at the folder of images")


@dataclass(frozen=True)
class Levels:
    """A file's 8-bit grey levels, its void pixels (a mask's, else None) and the notes on how it was read."""

    image: np.ndarray
    void: np.ndarray | None
    notes: list[str]


def _palette_levels(buffer: np.ndarray, path: Path, kind: str) -> Levels | None:
    """A palette file's levels, void and notes (module docstring); None for a file without a colour table."""
    try:
        with Image.open(io.BytesIO(buffer.tobytes())) as image:
            if image.mode != "P":
                return None
            indices = np.asarray(image)
            palette = np.asarray(image.getpalette("RGB") or [], np.uint8).reshape(-1, 3)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None  # OpenCV then reads it, or says it cannot
    used = np.unique(indices)
    if used[-1] < len(palette) and (palette[used] == palette[used, :1]).all():
        return Levels(palette[indices, 0], None, [GREY_PALETTE_NOTE])
    if kind == "mask" and np.isin(used, (0, 1, VOID_INDEX)).all():
        # Index 1 is the object whatever colour shows it (a VOC-style palette shows it dark red).
        void = indices == VOID_INDEX if used[-1] == VOID_INDEX else None
        return Levels(((indices == 1) * 255).astype(np.uint8), void, [PALETTE_INDEX_NOTE])
    reason = "a binary mask may use only the indices 0, 1 and 255 (void)" if kind == "mask" else "a map must be grey"
    raise _photograph_error(path, f"a palette file of colours ({used.size} indices used; {reason})")


def _decoded_levels(buffer: np.ndarray, path: Path) -> Levels:
    """The stored levels of a file without a colour table (8- or 16-bit), as one channel, with notes."""
    # imdecode (unlike imread) reports undecodable data the same way for every path.
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if image is None:
        raise DataError(f"cannot read {path}: not a decodable image")
    notes: list[str] = []
    if image.ndim == 3:
        channels = image.shape[2]
        if channels in (2, 4):
            notes.append("alpha channel dropped")
            image = image[:, :, : channels - 1]
        if image.shape[2] == 1:
            image = image[:, :, 0]
        elif (image == image[:, :, :1]).all():
            notes.append("grey stored as colour: one channel kept")
            image = image[:, :, 0]
        else:
            raise _photograph_error(path, "a colour image whose channels differ")
    if image.dtype not in (np.uint8, np.uint16):
        raise DataError(f"cannot read {path}: unsupported pixel type {image.dtype}; save it as 8-bit grey")
    return Levels(image, None, notes)


def read_grey(path: Path, kind: str) -> tuple[np.ndarray, list[str]]:
    """A mask or map (``kind``) as a 2-D uint8 array, and the notes on what was done to get it; a mask's void
    pixels (:data:`VOID_INDEX`) are read as background, and noted (training has no way to leave them out)."""
    levels = read_levels(path, kind)
    return levels.image, levels.notes + [VOID_AS_BACKGROUND_NOTE] * (levels.void is not None)


def read_mask_with_void(path: Path) -> Levels:
    """A mask's levels, its void pixels apart (None where it has none) and the notes, :data:`VOID_NOTE` among
    them where it has void: what the scorer reads."""
    levels = read_levels(path, "mask")
    return levels if levels.void is None else Levels(levels.image, levels.void, [*levels.notes, VOID_NOTE])


def read_levels(path: Path, kind: str) -> Levels:
    """A mask or map (``kind``) as a 2-D uint8 array, its void pixels (None: none) and the notes on what was done,
    the file judged by itself (module docstring): a palette file by its colour table, then the stored levels (0/1
    only, 16-bit); a file that cannot be read without guessing is a DataError naming it."""
    if kind not in ("mask", "map"):
        raise ValueError(f"read_grey reads masks and maps, not {kind!r}")
    path = Path(path)
    try:
        buffer = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError(f"cannot read {path}: {error}") from error
    levels = _palette_levels(buffer, path, kind) or _decoded_levels(buffer, path)
    image, void, notes = levels.image, levels.void, levels.notes
    if (turn := file_orientation(buffer)) != 1:
        image, notes = upright(image, turn), [*notes, ORIENTED_NOTE]
        void = None if void is None else upright(void, turn)
    highest = int(image.max())
    if highest == 1 and kind == "mask":
        image, notes = (image * 255).astype(np.uint8), [*notes, MASK_ZERO_ONE_NOTE]
    elif highest == 1:
        notes.append(ZERO_ONE_MAP_NOTE)
    if image.dtype == np.uint16:
        if kind == "mask" and 2 <= highest <= 255:
            raise DataError(
                f"{path} is a 16-bit mask whose levels all lie in 0..255 (highest {highest}): read by its bit depth "
                f"(v * 255 / 65535) its object would vanish, and reading it as 8-bit would be a guess; save it as "
                "an 8-bit mask with the object at 255"
            )
        notes.append(SIXTEEN_BIT_LOW_NOTE if kind == "map" and 2 <= highest <= 255 else SIXTEEN_BIT_NOTE)
        image = ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if path.suffix.lower() in LOSSY_SUFFIXES:
        notes.append(LOSSY_NOTE)
    return Levels(np.ascontiguousarray(image), void, notes)
