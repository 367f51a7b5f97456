"""Build the out-of-distribution texture set DTD_Texture_<count> from a DTD folder.

    python Dataset/make_texture_set.py --dtd=/path/to/dtd [--out=Dataset/Test]
    python Dataset/make_texture_set.py --dtd=../shared/data/DTD/Image          # a flat folder of some of the images
    python Dataset/make_texture_set.py --dtd=/path/to/dtd --spread [--count=500 --seed=1]

DTD (Describable Textures Dataset) unpacks to `dtd/images/<category>/<category>_NNNN.jpg`, 47
categories. By default the authors' 500 images are taken, listed in `Texture_Image_Names.txt` beside
this script (16 categories, uneven: the set the paper's numbers come from), from whatever part of that
list the folder holds, laid out as DTD's `images/<category>/` or flat (the files in the folder itself);
the names and categories it lacks are said, and the set is named by its count (`DTD_Texture_205` from
205 of the 500): numbers on a part of the list are not the paper's DTD_Texture_500 numbers. `--names`
takes another list, and `--spread` a seeded selection spread evenly over all 47 categories instead.
Each image is copied to `Image/` and gets an all-zero mask in `GT/`: a texture holds no salient
object, so any predicted saliency is a false positive. The set is written into a hidden folder and
renamed when complete; a set already there is kept.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's common/, run from anywhere
from common.interrupts import command_main, run_command, start_command  # noqa: E402

if __name__ == "__main__":
    start_command("interrupted")  # Ctrl-C while the modules load: one line, status 130

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
from common import atomic  # noqa: E402
from common.text import counted, plural  # noqa: E402
from data.files import abbreviate  # noqa: E402

DEFAULT_COUNT = 500
AUTHORS_NAMES = Path(__file__).resolve().parent / "Texture_Image_Names.txt"
SET_PREFIX = "DTD_Texture_"


def category(name: str) -> str:
    return name.rsplit("_", 1)[0]


def locate(dtd: Path, name: str) -> Path | None:
    """Where `name` is in `dtd`: DTD's images/<category>/, or flat in the folder itself."""
    for path in (dtd / "images" / category(name) / name, dtd / name):
        if path.is_file():
            return path
    return None


def missing_note(missing: list[str], names: list[str], names_file: Path, dtd: Path) -> str:
    """What of the list `dtd` lacks: the categories wholly missing, those partly held, and the names."""
    wanted, lacking = Counter(map(category, names)), Counter(map(category, missing))
    whole = [f"{c} ({n})" for c, n in sorted(lacking.items()) if n == wanted[c]]
    part = [f"{c} ({n} of {wanted[c]})" for c, n in sorted(lacking.items()) if n < wanted[c]]
    groups = [f"all of {counted(len(whole), 'category', 'categories')}: {abbreviate(whole, 10)}"] if whole else []
    groups += [f"part of {counted(len(part), 'category', 'categories')}: {abbreviate(part, 10)}"] if part else []
    return (f"{len(missing)} of the {len(names)} names of {names_file.name} {plural('is', len(missing), 'are')} not "
            f"in {dtd} ({'; '.join(groups)}): {abbreviate(sorted(missing))}")


def from_names(dtd: Path, names_file: Path) -> list[Path]:
    """The images of `names_file` that `dtd` holds (saying which it lacks); SystemExit if it holds none."""
    names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    found = {name: locate(dtd, name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if len(missing) == len(names):
        raise SystemExit(f"error: none of the {len(names)} images of {names_file} is in {dtd} (looked in "
                         f"{dtd / 'images' / '<category>'} and in {dtd} itself); --dtd must be the extracted 'dtd' "
                         "folder or a folder of its images")
    if missing:
        print(f"note: {missing_note(missing, names, names_file, dtd)}")
    return [path for path in found.values() if path is not None]


def spread_selection(images: Path, count: int, seed: int) -> list[Path]:
    """`count` images, as evenly as possible over the categories, each category's share drawn with `seed`."""
    rng = np.random.default_rng(seed)
    categories = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
    if not categories:
        raise SystemExit(f"error: no category folders in {images}; --spread needs the extracted 'dtd' folder")
    shares = np.full(len(categories), count // len(categories))
    shares[rng.choice(len(categories), count % len(categories), replace=False)] += 1
    chosen = []
    for folder, share in zip(categories, shares):
        files = sorted(folder.glob("*.jpg"))
        if len(files) < share:
            raise SystemExit(f"error: {folder} has {counted(len(files), 'image')}, {share} needed")
        chosen += [files[i] for i in sorted(rng.choice(len(files), share, replace=False))]
    return chosen


def write_set(paths: list[Path], out: Path) -> None:
    """Copy `paths` to `out`/Image with empty masks in `out`/GT, through a hidden folder renamed when complete."""
    with atomic.folder(out) as partial:
        (partial / "Image").mkdir()
        (partial / "GT").mkdir()
        for path in tqdm(paths, desc=out.name, unit="image"):
            shutil.copyfile(path, partial / "Image" / path.name)
            with Image.open(path) as image:
                Image.new("L", image.size, 0).save(partial / "GT" / f"{path.stem}.png")


def build_texture_set(dtd: Path, test_root: Path, names_file: Path = AUTHORS_NAMES) -> Path:
    """The set `test_root`/DTD_Texture_<count> of the images of `names_file` that `dtd` holds, written
    unless it is there already; returns its folder."""
    paths = from_names(dtd, names_file)
    out = test_root / f"{SET_PREFIX}{len(paths)}"
    if out.is_dir():
        print(f"{out} exists: kept")
    else:
        write_set(paths, out)
        print(f"Wrote {counted(len(paths), 'texture image')} with empty masks to {out}")
    return out


def main(argv: list[str]) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtd", type=Path, required=True,
                        help="the extracted DTD folder (holds images/<category>/) or a flat folder of its images")
    parser.add_argument("--names", type=Path, default=AUTHORS_NAMES,
                        help="file names to take, one per line (default: the authors' list beside this script)")
    parser.add_argument("--spread", action="store_true",
                        help="instead of a names file, a seeded selection spread evenly over the categories")
    parser.add_argument("--out", type=Path, default=Path("Dataset/Test"),
                        help=f"the test-set folder the set {SET_PREFIX}<count> goes into")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="images taken with --spread")
    parser.add_argument("--seed", type=int, default=1, help="seed of --spread")
    args = parser.parse_args(argv)
    if not args.spread:
        return build_texture_set(args.dtd, args.out, args.names)
    paths = spread_selection(args.dtd / "images", args.count, args.seed)
    out = args.out / f"{SET_PREFIX}{len(paths)}"
    if out.exists():
        raise SystemExit(f"error: {out} exists; delete it to draw the set again")
    write_set(paths, out)
    print(f"Wrote {counted(len(paths), 'texture image')} with empty masks to {out}")
    return out


if __name__ == "__main__":
    command_main(lambda: run_command(lambda: main(sys.argv[1:]), interrupted=(
        "interrupted: the set is incomplete; run the same command again to write it whole")))
