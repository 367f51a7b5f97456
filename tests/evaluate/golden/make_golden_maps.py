"""The fixed set of maps whose scores tests/evaluate/test_golden.py pins (values recorded before the
evaluator was restructured, so that any change of a number shows).

    python tests/evaluate/golden/make_golden_maps.py OUT_DIR   # writes OUT_DIR/{pred,prob,gt,texture_*}

Everything is drawn from one seeded generator: soft masks with 13 annotator levels, maps of another
size, a map whose level range is narrow, empty masks, and probability maps beside stretched ones.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

SEED = 20261201


def _soft_object(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:height, :width]
    distance = np.hypot((yy - height * rng.uniform(0.3, 0.7)) / (height / 4), (xx - width * rng.uniform(0.3, 0.7)) / (width / 3))
    gt = (np.clip(1.5 - distance, 0, 1) * 12).round() * (255 / 12)  # 13 annotator levels, as PASCAL-S
    logit = (1 - distance) * rng.uniform(2, 10) + rng.normal(0, 0.8, distance.shape)
    probability = 1 / (1 + np.exp(-logit))
    return gt.round().astype(np.uint8), probability.astype(np.float32)


def _stretched(probability: np.ndarray) -> np.ndarray:
    stretched = 255 * (probability - probability.min()) / (probability.max() - probability.min() + np.float32(1e-8))
    return np.clip(np.rint(stretched), 0, 255).astype(np.uint8)


def write_golden_maps(out: Path) -> None:
    rng = np.random.default_rng(SEED)
    for sub in ("pred", "prob", "gt", "texture_pred", "texture_prob", "texture_gt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for index in range(12):
        height, width = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        gt, probability = _soft_object(rng, height, width)
        if index == 3:
            probability = 0.4 + 0.1 * probability  # a narrow range: stretching changes decisions
        prob = np.rint(probability * 255).astype(np.uint8)
        pred = _stretched(probability)
        if index == 7:  # a prediction of another size: resized, left out of the paper ECE
            pred = cv2.resize(pred, (width + 5, height - 3), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(out / "pred" / f"{index:03d}.png"), pred)
        cv2.imwrite(str(out / "prob" / f"{index:03d}.png"), prob)
        cv2.imwrite(str(out / "gt" / f"{index:03d}.png"), gt)
    for index in range(5):
        height, width = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        probability = np.clip(rng.beta(0.6, 6.0, (height, width)), 0, 1).astype(np.float32)
        cv2.imwrite(str(out / "texture_pred" / f"t{index}.png"), _stretched(probability))
        cv2.imwrite(str(out / "texture_prob" / f"t{index}.png"), np.rint(probability * 255).astype(np.uint8))
        cv2.imwrite(str(out / "texture_gt" / f"t{index}.png"), np.zeros((height, width), np.uint8))


if __name__ == "__main__":
    write_golden_maps(Path(sys.argv[1]))
