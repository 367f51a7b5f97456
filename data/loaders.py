"""DataLoaders for training and validation, single-process or sharded over DDP processes."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler

from data.datasets import InferenceSet, TrainingSet, collate_inference


def training_loader(
    pairs: Sequence[tuple[str, Path, Path]], size: int, batch_size: int, num_workers: int, pin_memory: bool,
    seed: int, rank: int = 0, world_size: int = 1,
) -> DataLoader:
    """Shuffled, augmented batches of (image, mask, dataset index); with world_size > 1 each process
    gets its shard through a DistributedSampler (reshuffled per epoch by `set_epoch`)."""
    dataset = TrainingSet(pairs, size)
    sampler = DistributedSampler(dataset, world_size, rank, shuffle=True, seed=seed) if world_size > 1 else None
    # Workers are not persistent: started afresh each epoch, they are seeded from the loader's
    # generator, which the training loop reseeds per epoch, so a resumed run augments exactly as an
    # uninterrupted one (persistent workers would carry their random state across epochs).
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler, num_workers=num_workers,
        pin_memory=pin_memory, generator=torch.Generator(),
    )


def inference_loader(
    images: Sequence[Path], size: int, batch_size: int, num_workers: int, pin_memory: bool,
    masks: Sequence[Path] | None = None, rank: int = 0, world_size: int = 1,
) -> DataLoader:
    """Resized images in order; with world_size > 1 this process takes every world_size-th image."""
    images, masks = list(images)[rank::world_size], (list(masks)[rank::world_size] if masks else None)
    return DataLoader(
        InferenceSet(images, size, masks), batch_size=batch_size, shuffle=False, num_workers=num_workers,
        pin_memory=pin_memory, collate_fn=collate_inference,
    )
