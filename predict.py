"""Inference: run the network over a folder of images, giving probability maps at original size.

One generator, `predict_maps`, serves both the validation accuracy during training and the test
stage that writes 8-bit PNG maps: the authors' per-image stretched maps (paper protocol) and/or
the raw round(255 p) probabilities (calibrated protocol).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from data import inference_loader, list_stems
from data.datasets import find_image


@torch.no_grad()
def predict_maps(
    network: nn.Module, loader: DataLoader, device: torch.device, amp: bool = False, desc: str | None = None,
    show_progress: bool = True,
) -> Iterator[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """(name, logit map H x W on `device`, uint8 mask H x W on `device` or None) per image.

    Logits, not probabilities, are resized back to the image's size (bilinear), as the authors do.
    """
    was_training = network.training
    network.eval()
    try:
        for batch in tqdm(loader, desc=desc, unit="batch", leave=False, disable=not show_progress):
            images = batch["image"].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = network(images).float()
            masks = batch.get("mask") or [None] * len(batch["name"])
            for logit, name, size, mask in zip(logits, batch["name"], batch["size"], masks):
                resized = F.interpolate(logit[None], size=size, mode="bilinear", align_corners=False)[0, 0]
                yield name, resized, None if mask is None else mask.to(device, non_blocking=True)
    finally:
        network.train(was_training)


def probability_map(probability: torch.Tensor) -> np.ndarray:
    """round(255 * p) as uint8: the model's probabilities, 8-bit (the calibrated protocol's maps)."""
    return torch.round(probability * 255.0).to(torch.uint8).cpu().numpy()


def stretched_map(probability: torch.Tensor) -> np.ndarray:
    """The authors' test map: 255 * (p - min) / (max - min + 1e-8) in float32, rounded as OpenCV
    writes a float image (to nearest, ties to even, saturated). Each map is stretched on its own, so
    its levels are no longer probabilities (the paper protocol's maps)."""
    p = probability.float().cpu().numpy()
    stretched = 255 * (p - p.min()) / (p.max() - p.min() + np.float32(1e-8))
    return np.clip(np.rint(stretched), 0, 255).astype(np.uint8)


def pixel_correct(probability: torch.Tensor, mask: torch.Tensor, protocol: str) -> torch.Tensor:
    """Which pixels' decision (round(255 p) >= 128, i.e. p >= 0.5) is right against an 8-bit mask.

    "paper" (the authors' validation accuracy): the binarised map, 0 or 255, must equal the raw mask
    value, so every soft mask pixel (neither 0 nor 255) counts as wrong. "calibrated": the mask is
    thresholded at 128 first.
    """
    decision = probability >= 0.5
    if protocol == "paper":
        return torch.where(decision, mask == 255, mask == 0)
    return decision == (mask >= 128)


def write_predictions(
    network: nn.Module, image_dir: Path, out_dir: Path, *, size: int, device: torch.device, batch_size: int,
    num_workers: int, stretched: bool = True, probability_dir: Path | None = None, amp: bool = False,
    temperature: float = 1.0, desc: str | None = None,
) -> int:
    """One `<stem>.png` map of p = sigmoid(logit / temperature) per image of `image_dir` into `out_dir`:
    the authors' stretched map if `stretched`, else round(255 p). With `probability_dir`, the
    round(255 p) maps also go there, from the same forward pass. Returns the image count."""
    images = [find_image(image_dir, stem) for stem in list_stems(image_dir)]
    for folder in (out_dir, probability_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    loader = inference_loader(images, size, batch_size, num_workers, device.type == "cuda")
    for name, logit, _ in predict_maps(network, loader, device, amp, desc=desc):
        probability = torch.sigmoid(logit / temperature)
        main_map = stretched_map(probability) if stretched else probability_map(probability)
        Image.fromarray(main_map).save(out_dir / f"{name}.png")
        if probability_dir is not None:
            Image.fromarray(probability_map(probability)).save(probability_dir / f"{name}.png")
    return len(images)


@torch.no_grad()
def validation_pixels(
    network: nn.Module, loader: DataLoader, device: torch.device, pixels_per_image: int, seed: int, amp: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels): a seeded sample of `pixels_per_image` pixels from each image of `loader`,
    at the images' original size, for fitting a temperature without holding every pixel."""
    generator = torch.Generator().manual_seed(seed)
    logits, labels = [], []
    for _, logit, mask in predict_maps(network, loader, device, amp, desc="Validation pixels"):
        chosen = torch.randint(0, logit.numel(), (min(pixels_per_image, logit.numel()),), generator=generator)
        chosen = chosen.to(device)
        logits.append(logit.flatten()[chosen])
        labels.append(mask.flatten()[chosen] >= 128)
    return torch.cat(logits), torch.cat(labels)
