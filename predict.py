"""Inference: run the network over a folder of images, giving probability maps at original size.

One generator, `predict_maps`, serves both the validation accuracy during training and the test
stage that writes 8-bit PNG maps.
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
    """(name, logit map H x W on `device`, boolean mask H x W on `device` or None) per image.

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


def to_uint8(probability: torch.Tensor, minmax_normalize: bool) -> np.ndarray:
    """round(255 * p); with `minmax_normalize`, first stretch the map to [0, 1] as the authors' test
    script does (that destroys the probabilities' calibration, hence off by default)."""
    if minmax_normalize:
        probability = (probability - probability.min()) / (probability.max() - probability.min() + 1e-8)
    return torch.round(probability * 255.0).to(torch.uint8).cpu().numpy()


def write_predictions(
    network: nn.Module, image_dir: Path, out_dir: Path, *, size: int, device: torch.device, batch_size: int,
    num_workers: int, minmax_normalize: bool = False, amp: bool = False, temperature: float = 1.0,
    desc: str | None = None,
) -> int:
    """Write one `<stem>.png` map, sigmoid(logit / temperature), per image of `image_dir` into
    `out_dir`; returns the image count."""
    images = [find_image(image_dir, stem) for stem in list_stems(image_dir)]
    out_dir.mkdir(parents=True, exist_ok=True)
    loader = inference_loader(images, size, batch_size, num_workers, device.type == "cuda")
    for name, logit, _ in predict_maps(network, loader, device, amp, desc=desc):
        Image.fromarray(to_uint8(torch.sigmoid(logit / temperature), minmax_normalize)).save(out_dir / f"{name}.png")
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
        labels.append(mask.flatten()[chosen])
    return torch.cat(logits), torch.cat(labels)
