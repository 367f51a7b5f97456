"""Image/mask transforms: the authors' training augmentation and the plain test-time resize.

Each training image's augmentation is drawn from its own generator, seeded from (seed, epoch, image
index) by `augmentation_generator`, so that neither the number of DataLoader workers nor DDP sharding
nor a resume changes what an image looks like in an epoch.
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


def augmentation_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of image `index`'s augmentation in `epoch` of a run seeded with `seed`."""
    # A 63-bit mix of the three numbers; distinct triples give unrelated streams.
    mixed = (seed * 1_000_003 + epoch) * 2_147_483_647 + index
    return torch.Generator().manual_seed(mixed % (2**63 - 1))


def _randint(low: int, high: int, generator: torch.Generator) -> int:
    """Uniform integer in [low, high)."""
    return int(torch.randint(low, high, (), generator=generator).item())


def image_to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """RGB image -> 3 x size x size tensor, ImageNet-normalised (what the network expects)."""
    resized = TF.resize(image, [size, size])
    return TF.normalize(TF.to_tensor(resized), IMAGENET_MEAN, IMAGENET_STD)


def mask_to_tensor(mask: Image.Image, size: int) -> torch.Tensor:
    """Grey-level mask -> 1 x size x size float tensor in [0, 1] (resizing softens its edges)."""
    return TF.to_tensor(TF.resize(mask, [size, size]))


def augment_pair(
    image: Image.Image, mask: Image.Image, generator: torch.Generator
) -> tuple[Image.Image, Image.Image]:
    """Random flip, a centred crop 1-30 px smaller on each axis, and sometimes a small rotation."""
    if torch.rand((), generator=generator) < 0.5:
        image, mask = TF.hflip(image), TF.hflip(mask)
    width, height = image.size
    crop_w = _randint(max(1, width - CROP_BORDER), width, generator)
    crop_h = _randint(max(1, height - CROP_BORDER), height, generator)
    box = ((width - crop_w) >> 1, (height - crop_h) >> 1, (width + crop_w) >> 1, (height + crop_h) >> 1)
    image, mask = image.crop(box), mask.crop(box)
    if torch.rand((), generator=generator) < ROTATION_PROBABILITY:
        angle = _randint(-MAX_ROTATION, MAX_ROTATION, generator)
        image = image.rotate(angle, Image.Resampling.BICUBIC)
        mask = mask.rotate(angle, Image.Resampling.BICUBIC)
    return image, mask


def train_transform(
    image: Image.Image, mask: Image.Image, size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training pipeline: joint augmentation, then resize to size x size and tensors."""
    image, mask = augment_pair(image, mask, generator)
    return image_to_tensor(image, size), mask_to_tensor(mask, size)
