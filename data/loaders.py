"""DataLoaders for training and validation, single-process or sharded over DDP processes."""
from __future__ import annotations

import os
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
    gets its shard through a DistributedSampler (reshuffled per epoch by `set_epoch`). Each image's
    augmentation depends only on (seed, epoch, index): call `dataset.set_epoch` before each epoch."""
    dataset = TrainingSet(pairs, size, seed)
    sampler = DistributedSampler(dataset, world_size, rank, shuffle=True, seed=seed) if world_size > 1 else None
    # Workers are not persistent: started afresh each epoch, they receive the dataset with the epoch
    # just set (persistent workers would keep the epoch of their start).
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


def usable_workers(requested: int) -> int:
    """`requested` DataLoader processes, but never more than the cores this process may use: on a
    2-core machine 8 workers ran at 1.62 s/batch against 0.84 s with none."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(requested, cores)
