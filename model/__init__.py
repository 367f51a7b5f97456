"""The ASLP saliency network and its checkpoint I/O."""
from __future__ import annotations

from pathlib import Path

import torch

from model.checkpoint import CheckpointError, load_weights, read_state_dict
from model.network import SaliencyNet, load_imagenet_backbone

__all__ = ["SaliencyNet", "CheckpointError", "build_model", "load_weights", "memory_format", "read_state_dict"]


def build_model(
    feat_channel: int = 256,
    pretrained_backbone: str | Path = "",
    device: torch.device | str = "cpu",
) -> SaliencyNet:
    """The network on `device`. `pretrained_backbone`: "imagenet" (torchvision's IMAGENET1K_V1 weights,
    from its cache or a download), the path of a local copy of those weights, or "" (random init, only
    when asked for: weights that cannot be had are a CheckpointError, never a silent random start)."""
    network = SaliencyNet(feat_channel)
    if pretrained_backbone:
        load_imagenet_backbone(network, None if pretrained_backbone == "imagenet" else pretrained_backbone)
    return network.to(device)


def memory_format(channels_last: bool) -> torch.memory_format:
    """The layout of the network's weights and input batches under CHANNELS_LAST (training and test alike)."""
    return torch.channels_last if channels_last else torch.contiguous_format
