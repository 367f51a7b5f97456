"""What the post-hoc calibrators are fitted on: the frozen network's logits of the validation images.

Two forms: a seeded sample of pixels per image at the image's own size (a global temperature needs no
more), and every image at network resolution with its input and resized mask (a calibrator that looks
at neighbourhoods or the image). Both run the network through `predict`, in eval mode.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from predict import Inference, predict_maps


@torch.no_grad()
def validation_pixels(
    network: nn.Module, loader: DataLoader, inference: Inference, pixels_per_image: int, seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels): a seeded sample of `pixels_per_image` pixels from each image of `loader`,
    at the images' original size, for fitting a temperature without holding every pixel."""
    generator = torch.Generator().manual_seed(seed)
    logits, labels = [], []
    for _, logit, mask in predict_maps(network, loader, inference, desc="Validation pixels"):
        chosen = torch.randint(0, logit.numel(), (min(pixels_per_image, logit.numel()),), generator=generator)
        chosen = chosen.to(logit.device)
        logits.append(logit.flatten()[chosen])
        labels.append(mask.flatten()[chosen] >= 128)
    return torch.cat(logits), torch.cat(labels)


@torch.no_grad()
def validation_batch(
    network: nn.Module, loader: DataLoader, inference: Inference
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, images, labels) of every validation image at network resolution, on the CPU: what a
    local temperature is fitted on. Labels are the masks resized to that resolution, >= 0.5."""
    was_training = network.training
    network.eval()
    logits, images, labels = [], [], []
    try:
        for batch in tqdm(loader, desc="Validation maps", unit="batch", leave=False):
            batch_images = batch["image"].to(inference.device, non_blocking=True)
            with torch.autocast(inference.device.type, dtype=torch.bfloat16, enabled=inference.amp):
                logits.append(network(batch_images).float().cpu())
            images.append(batch["image"])
            size = batch["image"].shape[-2:]
            labels += [F.interpolate(mask[None, None].float() / 255, size=size, mode="bilinear",
                                     align_corners=False)[0] >= 0.5 for mask in batch["mask"]]
    finally:
        network.train(was_training)
    return torch.cat(logits), torch.cat(images), torch.stack(labels)
