"""Convert a set's lossy (JPEG) masks into lossless PNG masks, once:

    python -m data.convert_masks SRC_FOLDER DST_FOLDER

Masks must be lossless (:mod:`data.files`), but some sets ship only JPEG masks (the Weizmann horses do).
Each ``.jpg``/``.jpeg`` mask of SRC_FOLDER is read by the one reader (:func:`data.files.read_grey`) and
thresholded at 128: levels >= 128 become 255 (the object), the rest 0, which removes the compression noise
around 0 and 255 (and any soft edge) and writes ``DST_FOLDER/<stem>.png``. Nothing is overwritten: if any of
those PNG files exists, nothing is written. A JPEG mask with a lossless twin beside it is left alone (use the
twin), as is every other file. The command prints what it converted, left alone, and which converted masks
came out empty (check those). Bad input prints ``convert_masks: error: ...`` and exits with status 2. Torch is
not imported.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from common.interrupts import command_main, run_command, start_command

if __name__ == "__main__":
    start_command("convert_masks: interrupted")  # Ctrl-C while the modules load: one line, status 130

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from common import atomic  # noqa: E402
from data.files import (  # noqa: E402
    LOSSY_SUFFIXES, DataError, abbreviate, file_kind, read_grey, require_folder, require_writable_folder,
)

THRESHOLD = 128  # the level from which a mask pixel is the object, as the scoring protocols count it


@dataclass
class Conversion:
    """What one conversion did, file names by outcome."""

    converted: list[str] = field(default_factory=list)
    with_twin: list[str] = field(default_factory=list)  # JPEG masks beside their lossless twin: left alone
    other_files: list[str] = field(default_factory=list)  # not JPEG files (and subfolders): left alone
    empty: list[str] = field(default_factory=list)  # converted masks without any level >= THRESHOLD


def convert_masks(src: Path, dst: Path) -> Conversion:
    """Write the JPEG masks of ``src`` into ``dst`` as PNG masks thresholded at :data:`THRESHOLD`."""
    src, dst = Path(src), Path(dst)
    require_folder(src, "source mask")
    lossless = file_kind("mask").suffixes
    result = Conversion()
    lossy: dict[str, Path] = {}
    stems_lossless = {path.stem for path in src.iterdir() if path.suffix.lower() in lossless and path.is_file()}
    for path in sorted(src.iterdir()):
        if not (path.is_file() and path.suffix.lower() in LOSSY_SUFFIXES):
            result.other_files.append(path.name)
        elif path.stem in stems_lossless:
            result.with_twin.append(path.name)
        elif path.stem in lossy:
            raise DataError(f"{src} holds two JPEG masks with the stem {path.stem!r}: {lossy[path.stem].name} and "
                            f"{path.name}; keep one")
        else:
            lossy[path.stem] = path
    if not lossy:
        raise DataError(f"{src} holds no JPEG mask (.jpg/.jpeg) without a lossless twin: nothing to convert")
    existing = [f"{stem}.png" for stem in lossy if (dst / f"{stem}.png").exists()]
    if existing:
        raise DataError(f"{len(existing)} of the PNG masks to write exist already in {dst}: {abbreviate(existing)}; "
                        "refusing to overwrite them: choose a new folder, or delete them")
    require_writable_folder(dst)
    # Every mask is read and encoded before the first is written: a file the reader refuses (a photograph
    # in the mask folder) leaves nothing half done.
    encoded: dict[str, bytes] = {}
    for stem, path in lossy.items():
        levels = read_grey(path, "mask")[0]
        binary = (levels >= THRESHOLD).astype(np.uint8) * 255
        if not binary.any():
            result.empty.append(path.name)
        encoded[stem] = cv2.imencode(".png", binary)[1].tobytes()
    for stem, data in encoded.items():
        atomic.write_bytes(dst / f"{stem}.png", data, sync=False)
        result.converted.append(lossy[stem].name)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m data.convert_masks",
        description="Convert the JPEG masks of a set that ships no lossless masks into PNG masks: each mask is "
        f"thresholded at {THRESHOLD} (levels >= {THRESHOLD} become 255, the object; the rest 0). Existing files are "
        "never overwritten.",
    )
    parser.add_argument("src", type=Path, metavar="SRC_FOLDER", help="folder of the .jpg/.jpeg masks")
    parser.add_argument("dst", type=Path, metavar="DST_FOLDER", help="folder to write the .png masks into (created)")
    args = parser.parse_args(argv)
    return run_command(lambda: _convert(args), prefix="convert_masks: ",
                       interrupted=f"convert_masks: interrupted; the masks written so far are in {args.dst} (delete "
                                   "them before running again: existing masks are never overwritten)")


def _convert(args: argparse.Namespace) -> int:
    result = convert_masks(args.src, args.dst)
    print(f"Converted {len(result.converted)} JPEG masks of {args.src} into PNG masks in {args.dst} (levels >= "
          f"{THRESHOLD} -> 255, the rest -> 0)")
    if result.with_twin:
        print(f"Left alone {len(result.with_twin)} JPEG masks that have a lossless twin in {args.src} (use those): "
              f"{abbreviate(result.with_twin)}")
    if result.other_files:
        print(f"Left alone {len(result.other_files)} other entries of {args.src}: {abbreviate(result.other_files)}")
    if result.empty:
        print(f"Warning: {len(result.empty)} converted masks have no object (no level >= {THRESHOLD}); check them: "
              f"{abbreviate(result.empty)}")
    return 0


if __name__ == "__main__":
    command_main(main)
