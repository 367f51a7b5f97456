"""The authors' saliency network: a ResNet-50 encoder, four dilated-convolution heads, a residual
fusion path from deep to shallow and a small output head giving one logit per pixel.

Module names mirror the released checkpoint (`resnet.layer3_1`, `conv1.conv2d_list.0`, `path4`,
`output_conv.4`, ...) so that `Model_30_Gen.pth` loads key for key.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from model.checkpoint import CheckpointError

DILATIONS = (3, 6, 12, 18)
STAGE_CHANNELS = (256, 512, 1024, 2048)


class ResNetEncoder(nn.Module):
    """ResNet-50 stem and stages; stages 3 and 4 carry the checkpoint's names `layer3_1`, `layer4_1`."""

    def __init__(self) -> None:
        super().__init__()
        base = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = base.conv1, base.bn1, base.relu, base.maxpool
        self.layer1, self.layer2 = base.layer1, base.layer2
        self.layer3_1, self.layer4_1 = base.layer3, base.layer4

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x1 = self.layer1(x)
        x2 = self.layer2(x1)
        x3 = self.layer3_1(x2)
        x4 = self.layer4_1(x3)
        return x1, x2, x3, x4


class DilatedHead(nn.Module):
    """Sum of parallel 3x3 convolutions with growing dilation (checkpoint name: `conv2d_list`)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, 3, padding=d, dilation=d, bias=True) for d in DILATIONS
        )
        for conv in self.conv2d_list:
            nn.init.normal_(conv.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(conv(x) for conv in self.conv2d_list)


class ResidualConvUnit(nn.Module):
    """relu -> conv3x3 -> relu -> conv3x3, plus the rectified input.

    The authors' unit applies an in-place ReLU to its input before the first convolution, which
    rectifies the tensor that the skip connection then adds back. Adding relu(x), not x, is what
    makes the released weights compute the outputs they were trained to compute.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return x + self.conv2(F.relu(self.conv1(x)))


class FusionBlock(nn.Module):
    """Adds the refined skip features to the main path, refines, then upsamples x2."""

    def __init__(self, channels: int, has_skip: bool = True) -> None:
        super().__init__()
        # path4 has no skip input; its resConfUnit1 exists in the released checkpoint but is never used.
        if has_skip:
            self.resConfUnit1 = ResidualConvUnit(channels)
        self.resConfUnit2 = ResidualConvUnit(channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class Upsample2x(nn.Module):
    """Parameter-free bilinear x2 upsampling, kept as a module so `output_conv` indices match."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class SaliencyNet(nn.Module):
    """Image (N x 3 x H x W, ImageNet-normalised) -> saliency logits (N x 1 x H x W)."""

    def __init__(self, feat_channel: int = 256) -> None:
        super().__init__()
        self.resnet = ResNetEncoder()
        self.conv1, self.conv2, self.conv3, self.conv4 = (
            DilatedHead(c, feat_channel) for c in STAGE_CHANNELS
        )
        self.path4 = FusionBlock(feat_channel, has_skip=False)
        self.path3 = FusionBlock(feat_channel)
        self.path2 = FusionBlock(feat_channel)
        self.path1 = FusionBlock(feat_channel)
        self.output_conv = nn.Sequential(
            nn.Conv2d(feat_channel, 128, 3, padding=1),
            Upsample2x(),
            nn.Conv2d(128, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 1, 1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x1, x2, x3, x4 = self.resnet(image)
        fused = self.path4(self.conv4(x4))
        fused = self.path3(fused, self.conv3(x3))
        fused = self.path2(fused, self.conv2(x2))
        fused = self.path1(fused, self.conv1(x1))
        return self.output_conv(fused)


def load_imagenet_backbone(network: SaliencyNet, weights_file: str | Path | None = None) -> None:
    """Initialise the encoder from torchvision's ResNet-50 IMAGENET1K_V1 weights (the authors' choice).

    `weights_file` may point to a local copy of those weights (`resnet50-0676ba61.pth`); otherwise
    torchvision's cache or download is tried. If neither works this stops with CheckpointError: the
    authors' backbone always starts from ImageNet, and a silent random start would train a network
    that has little to do with the paper's. A from-scratch run must be asked for (`""`).
    """
    try:
        if weights_file:
            state = torch.load(weights_file, map_location="cpu", weights_only=True)
        else:
            state = ResNet50_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except (OSError, RuntimeError, pickle.UnpicklingError) as error:  # urllib's URLError is an OSError
        source = weights_file or "torchvision's cache or download"
        raise CheckpointError(
            f"the ImageNet weights of the ResNet-50 backbone could not be loaded from {source} "
            f"({str(error).splitlines()[0]}); pass --pretrained_backbone=PATH with a local copy of "
            "resnet50-0676ba61.pth, or --pretrained_backbone=\"\" for a deliberate run from random "
            "initialisation (far from the paper's setting)"
        ) from error
    renamed = {
        key.replace("layer3.", "layer3_1.").replace("layer4.", "layer4_1."): value
        for key, value in state.items()
        if not key.startswith("fc.")
    }
    network.resnet.load_state_dict(renamed)
