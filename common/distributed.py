"""Device choice and the process group for `torchrun` (DDP): one device per process, NCCL on GPUs,
gloo on CPUs. Alone (no torchrun), every helper here is a no-op, so the code paths are the same.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from common.errors import UserFacingError


class DeviceError(UserFacingError, RuntimeError):
    """A device that was asked for is not there."""


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def select_device(name: str) -> torch.device:
    """'auto' picks CUDA when present and falls back to the CPU with a warning; asking for CUDA
    where there is none is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        print("Warning: CUDA is not available, running on the CPU (slow for the full configuration).")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"DEVICE={name} but CUDA is not available here; use --device=cpu or --device=auto")
    return device


def setup(device_name: str) -> Context:
    """Join the process group when started by torchrun (WORLD_SIZE > 1), else run alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Context(0, 1, select_device(device_name))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if device_name.startswith("cuda") and not use_cuda:
        raise DeviceError(f"DEVICE={device_name} but CUDA is not available here")
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    return Context(rank, world_size, device)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    return not is_distributed() or dist.get_rank() == 0


def all_reduce(tensor: torch.Tensor, op: dist.ReduceOp = dist.ReduceOp.SUM) -> torch.Tensor:
    """In place over all processes (identity when alone)."""
    if is_distributed():
        dist.all_reduce(tensor, op)
    return tensor


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every process rank 0's buffers (BatchNorm running statistics). DDP copies them only at
    the start of each forward, so each process's last forward leaves its own; aligning them before
    validation keeps the processes' networks identical."""
    if is_distributed():
        for buffer in module.buffers():
            dist.broadcast(buffer, 0)


def gather_objects(obj: object) -> list:
    """Every process's `obj`, in rank order, on every process."""
    if not is_distributed():
        return [obj]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
