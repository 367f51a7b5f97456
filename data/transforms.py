"""Image/mask transforms: the authors' training augmentation and the plain test-time resize.

Randomness comes from torch's generator, which DataLoader seeds per worker, so a run is
reproducible from SEED and resumable.
"""
from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_BORDER = 30
ROTATION_PROBABILITY = 0.2
MAX_ROTATION = 15


def _randint(low: int, high: int) -> int:
    """Uniform integer in [low, high)."""
    return int(torch.randint(low, high, ()).item())


def image_to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """RGB image -> 3 x size x size tensor, ImageNet-normalised (what the network expects)."""
    resized = TF.resize(image, [size, size])
    return TF.normalize(TF.to_tensor(resized), IMAGENET_MEAN, IMAGENET_STD)


def mask_to_tensor(mask: Image.Image, size: int) -> torch.Tensor:
    """Grey-level mask -> 1 x size x size float tensor in [0, 1] (resizing softens its edges)."""
    return TF.to_tensor(TF.resize(mask, [size, size]))


def augment_pair(image: Image.Image, mask: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Random flip, a centred crop 1-30 px smaller on each axis, and sometimes a small rotation."""
    if torch.rand(()) < 0.5:
        image, mask = TF.hflip(image), TF.hflip(mask)
    width, height = image.size
    crop_w = _randint(max(1, width - CROP_BORDER), width)
    crop_h = _randint(max(1, height - CROP_BORDER), height)
    box = ((width - crop_w) >> 1, (height - crop_h) >> 1, (width + crop_w) >> 1, (height + crop_h) >> 1)
    image, mask = image.crop(box), mask.crop(box)
    if torch.rand(()) < ROTATION_PROBABILITY:
        angle = _randint(-MAX_ROTATION, MAX_ROTATION)
        image = image.rotate(angle, Image.Resampling.BICUBIC)
        mask = mask.rotate(angle, Image.Resampling.BICUBIC)
    return image, mask


def train_transform(image: Image.Image, mask: Image.Image, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training pipeline: joint augmentation, then resize to size x size and tensors."""
    image, mask = augment_pair(image, mask)
    return image_to_tensor(image, size), mask_to_tensor(mask, size)
