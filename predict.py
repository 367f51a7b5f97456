"""Inference: run the network over images, giving logit maps at each image's original size, and write
the maps a protocol asks for.

One generator, `predict_maps`, serves the validation pass during training, the post-hoc calibrators'
fits (`calibrators`) and the test stage, which writes the maps its protocol asks for (`protocol`) into
the run's folders (`layout`).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from data.datasets import list_images
from data.loaders import inference_loader
from layout import MAPS_RECORD, map_folders
from protocol import PROBABILITY_MAPS, MapKind, Protocol, probability_map

# A post-hoc calibration: (logits, images) at network resolution -> a positive temperature, one value
# or one per pixel. Applied as logit / T after both are resized to the image, so that T > 0 never
# changes a decision (dividing first and interpolating after could).
Temperature = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | float]


@dataclass(frozen=True)
class Inference:
    """How the network is run over a set of images."""

    device: torch.device
    size: int
    batch_size: int
    num_workers: int
    amp: bool = False


def _resized(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(maps[None], size=size, mode="bilinear", align_corners=False)[0, 0]


@torch.no_grad()
def predict_maps(
    network: nn.Module, loader: DataLoader, inference: Inference, desc: str | None = None,
    show_progress: bool = True, temperature: Temperature | None = None,
) -> Iterator[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """(name, logit map H x W on the device, uint8 mask H x W on the device or None) per image.

    Logits, not probabilities, are resized back to the image's size (bilinear), as the authors do;
    with `temperature`, the logit map is divided by the temperature resized alike. The network is
    in eval mode throughout (BatchNorm's running statistics, as at test time) and restored after.
    """
    was_training = network.training
    network.eval()
    device = inference.device
    try:
        for batch in tqdm(loader, desc=desc, unit="batch", leave=False, disable=not show_progress):
            images = batch["image"].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=inference.amp):
                logits = network(images).float()
            scale = temperature(logits, images) if temperature is not None else None
            masks = batch.get("mask") or [None] * len(batch["name"])
            for i, (name, size, mask) in enumerate(zip(batch["name"], batch["size"], masks)):
                logit = _resized(logits[i], size)
                if isinstance(scale, torch.Tensor) and scale.dim() == 4:
                    logit = logit / _resized(scale[i], size)
                elif scale is not None:
                    logit = logit / scale
                yield name, logit, None if mask is None else mask.to(device, non_blocking=True)
    finally:
        network.train(was_training)


def write_maps_record(
    folder: Path, maps: MapKind, protocol: Protocol, inference: Inference, count: int, origin: Mapping[str, object],
) -> None:
    """`folder`/maps.json: what the maps in `folder` are (their kind, the protocol that wrote them), where
    they came from (`origin`: the network's weights, a post-hoc calibrator) and how (the size rule), so
    that scoring never takes one kind of map for another."""
    record = {
        "maps": maps.word, "description": maps.title, "protocol": protocol.name, **origin,
        "size_rule": f"each image resized to {inference.size} x {inference.size} for the network; its logits "
                     "resized back to the image's size (bilinear) before the sigmoid",
        "images": count, "written_by": "aslp predict.write_predictions",
    }
    (folder / MAPS_RECORD).write_text(json.dumps(record, indent=1, default=str) + "\n")


def write_predictions(
    network: nn.Module, image_dir: Path, run_dir: Path, set_name: str, protocol: Protocol, inference: Inference,
    temperature: Temperature | None = None, origin: Mapping[str, object] | None = None,
) -> int:
    """One `<stem>.png` per image of `image_dir`: the protocol's test map of p = sigmoid(logit / T) in
    `run_dir/predictions/<set_name>/`, and, where the protocol asks for them, the probability maps
    round(255 p) in `run_dir/probabilities/<set_name>/`, from the same forward pass; each folder gets its
    `maps.json` (`write_maps_record`, with `origin`). Returns the count."""
    images = list_images(image_dir)
    test_dir, probability_dir = (root / set_name for root in map_folders(run_dir, protocol))
    for folder in {test_dir, probability_dir}:
        folder.mkdir(parents=True, exist_ok=True)
        # A record from an earlier run must not vouch for maps this run is about to replace.
        (folder / MAPS_RECORD).unlink(missing_ok=True)
    loader = inference_loader(images, inference.size, inference.batch_size, inference.num_workers,
                              inference.device.type == "cuda")
    for name, logit, _ in predict_maps(network, loader, inference, desc=f"Testing {set_name}",
                                       temperature=temperature):
        probability = torch.sigmoid(logit).cpu().numpy()
        Image.fromarray(protocol.test_map(probability)).save(test_dir / f"{name}.png")
        if probability_dir != test_dir:
            Image.fromarray(probability_map(probability)).save(probability_dir / f"{name}.png")
    origin = origin or {}
    write_maps_record(test_dir, protocol.test_maps, protocol, inference, len(images), origin)
    if probability_dir != test_dir:
        write_maps_record(probability_dir, PROBABILITY_MAPS, protocol, inference, len(images), origin)
    return len(images)
