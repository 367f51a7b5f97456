"""Build the out-of-distribution set DTD_Texture_500 from an extracted DTD download.

    python Dataset/make_texture_set.py --dtd=/path/to/dtd [--out=Dataset/Test/DTD_Texture_500]
    python Dataset/make_texture_set.py --dtd=/path/to/dtd --spread [--count=500 --seed=1]

DTD (Describable Textures Dataset) unpacks to `dtd/images/<category>/<category>_NNNN.jpg`, 47
categories. By default exactly the authors' 500 images are taken, listed in
`Texture_Image_Names.txt` beside this script (16 categories, uneven: the set the paper's numbers
come from); `--names` takes another list, and `--spread` a seeded selection spread evenly over all
47 categories instead. Each image is copied to `Image/` and gets an all-zero mask in `GT/`: a texture holds no
salient object, so any predicted saliency is a false positive.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's common/, run from anywhere
from common.interrupts import command_main, run_command, start_command  # noqa: E402

if __name__ == "__main__":
    start_command("interrupted")  # Ctrl-C while the modules load: one line, status 130

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

DEFAULT_COUNT = 500
AUTHORS_NAMES = Path(__file__).resolve().parent / "Texture_Image_Names.txt"


def images_dir(dtd: Path) -> Path:
    candidate = dtd / "images"
    if not candidate.is_dir():
        raise SystemExit(f"error: {candidate} not found; --dtd must be the extracted 'dtd' folder")
    return candidate


def from_names(images: Path, names_file: Path) -> list[Path]:
    names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    paths = [images / name.rsplit("_", 1)[0] / name for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"error: {len(missing)} image{'s' if len(missing) != 1 else ''} of {names_file} "
                         f"{'is' if len(missing) == 1 else 'are'} not in {images}: {', '.join(missing[:5])}")
    return paths


def spread_selection(images: Path, count: int, seed: int) -> list[Path]:
    """`count` images, as evenly as possible over the categories, each category's share drawn with `seed`."""
    rng = np.random.default_rng(seed)
    categories = sorted(p for p in images.iterdir() if p.is_dir())
    if not categories:
        raise SystemExit(f"error: no category folders in {images}")
    shares = np.full(len(categories), count // len(categories))
    shares[rng.choice(len(categories), count % len(categories), replace=False)] += 1
    chosen = []
    for category, share in zip(categories, shares):
        files = sorted(category.glob("*.jpg"))
        if len(files) < share:
            raise SystemExit(f"error: {category} has {len(files)} image{'s' if len(files) != 1 else ''}, "
                             f"{share} needed")
        chosen += [files[i] for i in sorted(rng.choice(len(files), share, replace=False))]
    return chosen


def write_set(paths: list[Path], out: Path) -> None:
    (out / "Image").mkdir(parents=True, exist_ok=True)
    (out / "GT").mkdir(parents=True, exist_ok=True)
    for path in tqdm(paths, desc="DTD_Texture_500", unit="image"):
        shutil.copyfile(path, out / "Image" / path.name)
        with Image.open(path) as image:
            Image.new("L", image.size, 0).save(out / "GT" / f"{path.stem}.png")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtd", type=Path, required=True, help="extracted DTD folder (holds images/)")
    parser.add_argument("--names", type=Path, default=AUTHORS_NAMES,
                        help="file names to take, one per line (default: the authors' list beside this script)")
    parser.add_argument("--spread", action="store_true",
                        help="instead of a names file, a seeded selection spread evenly over the categories")
    parser.add_argument("--out", type=Path, default=Path("Dataset/Test/DTD_Texture_500"))
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="images taken with --spread")
    parser.add_argument("--seed", type=int, default=1, help="seed of --spread")
    args = parser.parse_args(argv)
    images = images_dir(args.dtd)
    paths = spread_selection(images, args.count, args.seed) if args.spread else from_names(images, args.names)
    write_set(paths, args.out)
    print(f"Wrote {len(paths)} texture image{'s' if len(paths) != 1 else ''} with empty masks to {args.out}")


if __name__ == "__main__":
    command_main(lambda: run_command(lambda: main(sys.argv[1:]), interrupted=(
        "interrupted: the set is incomplete; run the same command again to write it whole")))
