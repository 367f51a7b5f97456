"""Tiny scored sets for the tests of the HTML report: photos, masks and soft maps written in-process."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from evaluate import run_evaluation

# Spaces, non-ASCII letters, and two names that a file-safe stem alone would make equal.
NAMES = ("plain 01", "čaj ü", "a b", "a_b", "日本", "x" * 70)


def write_set(root: Path, names: tuple[str, ...] = NAMES, seed: int = 0, photos: bool = True) -> Path:
    """Photos in root/Image, masks in root/GT, maps (a blurred, noisy mask: each image its own error) in
    root/pred; returns root."""
    rng = np.random.default_rng(seed)
    for folder in ("Image", "GT", "pred"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        height, width = 40 + 4 * index, 56
        yy, xx = np.mgrid[:height, :width]
        gt = ((((yy - height / 2) / (height / 3)) ** 2 + ((xx - 28) / 18) ** 2) < 1).astype(np.uint8) * 255
        blurred = cv2.GaussianBlur(gt, (9, 9), 1 + index).astype(float)
        pred = np.clip(blurred + rng.normal(0, 10 + 8 * index, gt.shape), 0, 255).astype(np.uint8)
        if photos:
            cv2.imwrite(str(root / "Image" / f"{name}.jpg"), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "GT" / f"{name}.png"), gt)
        cv2.imwrite(str(root / "pred" / f"{name}.png"), pred)
    return root


def score_set(root: Path, set_name: str = "tiny set", protocol: str = "calibrated", **options) -> Path:
    """Score root/pred against root/GT into root/out (one worker: in this process); returns root/out."""
    run_evaluation([(set_name, root / "pred", root / "GT")], root / "out", protocol=protocol, workers=1, **options)
    return root / "out"
