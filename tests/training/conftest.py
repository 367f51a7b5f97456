"""Fixtures of the training tests."""
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from data.datasets import pair_split
from tests.tiny import load_or_make_split


@pytest.fixture
def soft_validation(demo_root, tmp_path) -> tuple[Path, Path]:
    """The validation images in `Image/` with their masks blurred in `GT/`: soft edges, as annotators'
    masks have, where the two protocols count pixels differently (the demo's masks are binary)."""
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    _, val_pairs = pair_split(image_dir, mask_dir, *load_or_make_split(demo_root, image_dir, 4, 1))
    images, masks = tmp_path / "set" / "Image", tmp_path / "set" / "GT"
    images.mkdir(parents=True)
    masks.mkdir()
    for stem, image, mask in val_pairs:
        shutil.copy(image, images / image.name)
        Image.open(mask).filter(ImageFilter.GaussianBlur(2)).save(masks / f"{stem}.png")
    return images, masks
