"""Inference: run the network over images, giving logit maps at each image's original size, and write
the maps a protocol asks for.

One generator, `predict_maps`, serves the validation pass during training, the post-hoc calibrators'
fits (`calibrators`) and the test stage, which writes the maps its protocol asks for (`protocol`) into
the run's folders (`layout`).
"""
from __future__ import annotations

from common.interrupts import command_main, exiting_on_interrupt, run_command, start_command

if __name__ == "__main__":
    start_command("interrupted")  # Ctrl-C from here on, while the modules load too: one line, status 130

import argparse  # noqa: E402  (after the handler)
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterator, Mapping  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from common.errors import OneLineParser  # noqa: E402
from common.text import counted  # noqa: E402


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _multiple_of_32(text: str) -> int:
    value = _integer(text)
    if value < 32 or value % 32:
        raise argparse.ArgumentTypeError(f"{value} is not a positive multiple of 32 (the network's stride)")
    return value


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _device(text: str) -> str:
    from common.settings import DEVICES  # light: no torch; main_ASLP.py's --device takes the same names

    if DEVICES.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not auto, cpu, cuda or cuda:N")


def command_line() -> argparse.ArgumentParser:
    """The options of `python predict.py` (the command is `cli`, at the bottom). Defined before torch
    is imported, so that --help and a mistyped option answer at once."""
    from protocol import PROTOCOLS  # light: no torch

    parser = OneLineParser(
        prog="predict.py", error_format="error: {} (python predict.py --help)",
        description="Write saliency maps of your own photographs with trained weights: the "
        "maps the test stage of main_ASLP.py writes under --protocol, into OUT/predictions/<images folder>/ "
        "(and, under paper, the probability maps round(255 p) into OUT/probabilities/<images folder>/).")
    parser.add_argument("--weights", type=Path, required=True,
                        help="a checkpoint of this project (Model_<EPOCHS>_Gen.pth, checkpoint.pth) or the "
                        "authors' Model_30_Gen.pth; its decoder width is read from it")
    parser.add_argument("--images", type=Path, required=True, help="a folder of photographs (.jpg, .png, ...)")
    parser.add_argument("--out", type=Path, required=True, help="the folder the maps go into")
    parser.add_argument("--protocol", choices=list(PROTOCOLS), default="paper",
                        help="which maps: paper (the authors' per-image stretched maps, and the probability maps "
                        "beside them) or calibrated (probability maps only); default paper")
    parser.add_argument("--size", type=_multiple_of_32, default=384,
                        help="the square size the network sees (maps are resized back to each photo); default 384")
    parser.add_argument("--device", type=_device, default="auto",
                        help="auto (CUDA if present), cpu, cuda or cuda:N; default auto")
    parser.add_argument("--batch-size", type=_positive, default=10, help="photos per forward pass; default 10")
    return parser


if __name__ == "__main__":
    command_line().parse_args()  # answers --help and refuses bad options before torch loads

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from common import atomic
from common.digests import DIGEST, file_digest
from data.datasets import check_photos, list_images
from data.loaders import inference_loader
from model import memory_format
from common.layout import MAPS_RECORD, map_folders, weights_file_problem
from protocol import PROBABILITY_MAPS, MapKind, Protocol, probability_map

# zlib level of the map PNGs (lossless at any level): 1 writes a 500 x 375 map in a quarter of the time
# of Pillow's default 6, for files about 1.5 times as large; writing maps was a third of a test stage.
MAP_COMPRESSION = 1

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
    channels_last: bool = False  # CHANNELS_LAST: the same logits, about twice as fast on a CPU at 64 px


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
    device, layout = inference.device, memory_format(inference.channels_last)
    if inference.channels_last:  # as training leaves it under CHANNELS_LAST; never undone, to leave training's alone
        network.to(memory_format=torch.channels_last)
    try:
        for batch in tqdm(loader, desc=desc, unit="batch", leave=False, disable=not show_progress):
            images = batch["image"].to(device, non_blocking=True, memory_format=layout)
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
    they came from (`origin`: the network's weights, a post-hoc calibrator), how (the size rule) and the
    digest of each map's file, so that scoring never takes one kind of map for another, nor maps changed
    since for the ones written here (evaluate/records.py)."""
    digests = {path.name: file_digest(path) for path in sorted(folder.glob("*.png"))}
    record = {
        "maps": maps.word, "description": maps.title, "protocol": protocol.name, **origin,
        "size_rule": f"each image resized to {inference.size} x {inference.size} for the network; its logits "
                     "resized back to the image's size (bilinear) before the sigmoid",
        "images": count, "written_by": "aslp predict.write_predictions", "digest": DIGEST, "digests": digests,
    }
    atomic.write_text(folder / MAPS_RECORD, json.dumps(record, indent=1, default=str) + "\n")


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
        # Whole or not at all, as every output: a map cut short by a kill would be read as a map.
        with atomic.replacing(test_dir / f"{name}.png", sync=False) as temporary:
            Image.fromarray(protocol.test_map(probability)).save(temporary, compress_level=MAP_COMPRESSION)
        if probability_dir != test_dir:
            with atomic.replacing(probability_dir / f"{name}.png", sync=False) as temporary:
                Image.fromarray(probability_map(probability)).save(temporary, compress_level=MAP_COMPRESSION)
    origin = origin or {}
    write_maps_record(test_dir, protocol.test_maps, protocol, inference, len(images), origin)
    if probability_dir != test_dir:
        write_maps_record(probability_dir, PROBABILITY_MAPS, protocol, inference, len(images), origin)
    return len(images)


def main(options: argparse.Namespace) -> int:
    """Write the maps of every photograph in `options.images` with `options.weights` (see
    `command_line`), say where, and return 0; bad input is a UserFacingError naming the option."""
    with exiting_on_interrupt("interrupted"):  # Ctrl-C in an extension's import would be an ImportError
        from common.distributed import select_device
        from data.files import require_writable_folder
        from model import build_model
        from model.checkpoint import CheckpointError, check_state_dict, read_state_dict
        from protocol import get_protocol

    # Every photo is decoded before any work: all that cannot be read are named at once, no folder is made.
    check_photos(list_images(options.images))  # a DataError names a missing folder or one without photographs
    problem = weights_file_problem(options.weights)
    if problem:
        raise CheckpointError(problem)
    state = read_state_dict(options.weights)
    # The decoder width (FEAT_CHANNEL) is the output channels of the first decoder convolution.
    first = state.get("conv1.conv2d_list.0.weight")
    network = build_model(256 if first is None else first.shape[0])
    network.load_state_dict(check_state_dict(network, state, source=str(options.weights)))
    require_writable_folder(options.out)
    inference = Inference(select_device(options.device), options.size, options.batch_size, num_workers=0)
    network.to(inference.device)
    protocol = get_protocol(options.protocol)
    # Maps are filed under the photos' folder name; a data set's Image/ folder is named after its set.
    name = options.images.resolve().name
    name = options.images.resolve().parent.name if name == "Image" else name
    count = write_predictions(network, options.images, options.out, name, protocol, inference,
                              origin={"network": str(options.weights), "calibrator": None})
    test_dir, probability_dir = (root / name for root in map_folders(options.out, protocol))
    where = f"the {protocol.name} protocol's test maps in {test_dir}"
    if probability_dir != test_dir:
        where += f" and the probability maps round(255 p) in {probability_dir}"
    print(f"Wrote {counted(count, 'map')} of the photos in {options.images}: {where}")
    return 0


def cli(argv: list[str]) -> int:
    """`main` as a command: exit 0; one `error:` line and 2 for what the user can fix; 130 on Ctrl-C."""
    options = command_line().parse_args(argv)
    return run_command(lambda: main(options), interrupted=f"interrupted: the maps written so far are in {options.out}")


if __name__ == "__main__":
    command_main(lambda: cli(sys.argv[1:]))
