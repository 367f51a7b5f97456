"""A small synthetic saliency dataset for the demo and the tests (no downloads needed).

Each image is a textured background with one or two salient shapes of contrasting colour; the
contrast varies, so some images are ambiguous. A texture-only set with empty masks plays the part of
DTD_Texture_500. The data are synthetic and say nothing about the paper's numbers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEMO_TRAIN = "DUTS-TR"
COMPLETE_MARKER = ".complete"


def _texture(rng: np.random.Generator, height: int, width: int, saturation: float = 1.0) -> np.ndarray:
    """H x W x 3 float image in [0, 1]: a smooth colour field, stripes and pixel noise."""
    base = rng.uniform(0.0, 1.0, 3)
    base = base.mean() + saturation * (base - base.mean())
    coarse = rng.normal(0.0, 0.15, (4, 4, 3))
    field = np.asarray(Image.fromarray(((coarse + 0.5).clip(0, 1) * 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC), dtype=np.float64) / 255.0 - 0.5
    yy, xx = np.mgrid[0:height, 0:width]
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
    stripes = 0.1 * rng.uniform(0, 1) * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    noise = rng.normal(0.0, 0.04, (height, width, 3))
    return (base + field + stripes[..., None] + noise).clip(0.0, 1.0)


def _shape_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Boolean mask of one or two random ellipses / polygons covering roughly 5-40% of the image."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(1, 3)):
        cx, cy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
        rx, ry = rng.uniform(0.1, 0.3) * width, rng.uniform(0.1, 0.3) * height
        if rng.uniform() < 0.5:
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 8)))
            radii = rng.uniform(0.6, 1.0, angles.size)
            draw.polygon([(cx + rx * r * np.cos(a), cy + ry * r * np.sin(a)) for a, r in zip(angles, radii)], fill=255)
    return np.asarray(canvas) >= 128


def _salient_sample(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    height, width = int(rng.integers(88, 136)), int(rng.integers(88, 136))
    # Salient objects are vivid, backgrounds muted: a cue a randomly initialised network learns fast.
    background, foreground = _texture(rng, height, width, 0.3), _texture(rng, height, width, 2.0)
    # Mostly clear objects, one in five faint: the faint ones are the ambiguous images ASLP should find.
    contrast = rng.uniform(0.15, 0.4) if rng.uniform() < 0.2 else rng.uniform(0.7, 1.0)
    foreground = background + contrast * (foreground - background)
    mask = _shape_mask(rng, height, width)
    soft = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(1.0))) / 255.0
    pixels = background * (1 - soft[..., None]) + foreground * soft[..., None]
    image = Image.fromarray((pixels * 255).round().astype(np.uint8))
    return image, Image.fromarray(mask.astype(np.uint8) * 255)


def _texture_sample(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    height, width = int(rng.integers(88, 136)), int(rng.integers(88, 136))
    image = Image.fromarray((_texture(rng, height, width, rng.uniform(0.3, 2.0)) * 255).round().astype(np.uint8))
    return image, Image.new("L", (width, height), 0)


def _write_set(root: Path, samples: list[tuple[Image.Image, Image.Image]], prefix: str) -> None:
    (root / "Image").mkdir(parents=True, exist_ok=True)
    (root / "GT").mkdir(parents=True, exist_ok=True)
    for number, (image, mask) in enumerate(samples):
        image.save(root / "Image" / f"{prefix}_{number:04d}.jpg", quality=92)
        mask.save(root / "GT" / f"{prefix}_{number:04d}.png")


def make_demo_dataset(
    root: Path, seed: int = 0, n_train: int = 120, n_test: int = 30, n_texture: int = 20
) -> Path:
    """Write the demo data under `root` once (`Train/DUTS-TR`, `Test/DEMO-SOD`, `Test/DEMO-Texture`)."""
    if (root / COMPLETE_MARKER).is_file():
        return root
    rng = np.random.default_rng(seed)
    _write_set(root / "Train" / DEMO_TRAIN, [_salient_sample(rng) for _ in range(n_train)], "train")
    _write_set(root / "Test" / "DEMO-SOD", [_salient_sample(rng) for _ in range(n_test)], "sod")
    _write_set(root / "Test" / "DEMO-Texture", [_texture_sample(rng) for _ in range(n_texture)], "texture")
    (root / COMPLETE_MARKER).write_text(f"seed={seed}\n")
    print(f"Generated the synthetic demo dataset in {root} ({n_train} training, {n_test} test and "
          f"{n_texture} texture images).")
    return root
