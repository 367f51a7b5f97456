"""Time training steps on the same batches and device.

    python benchmarks/bench_train.py                       # the paper's configuration (GPU)
    python benchmarks/bench_train.py --size=96 --batch=4   # a size a CPU manages
    python benchmarks/bench_train.py --against-authors --size=96 --batch=4 --steps=10

Default: plain BCE against SC-BCE + AdaptiveAlpha, both through `training.step.train_step` (the loop's own
step) with alpha updates active; prints images/s for both and the overhead of the alpha machinery
(target: at most 2%).

--against-authors: the authors' ASLP step against ours, in float32 from the same weights. Theirs is
the body of their `train_ASLP_MC` loop past START_EPOCH (alphas gathered from their per-name dict,
their `stochastic_label_perturbation`, their `Model`, BCE with logits as they call it, their
`compute_bce_individual` / `compute_entropy_individual`, and their per-image alpha update and clamp
written back to the dict), with their modules imported at run time from `--authors-code`, never
copied here. Neither side's progress-bar logging is timed. Prints images/s for each and the ratio
ours/theirs.

Both modes build their networks once, warm each side up, then alternate timed blocks of --steps
steps for --repeats rounds and keep each side's median, so that another process's load falls on
both sides alike. On a shared CPU, single-step blocks (--steps=1 --repeats=20) pair them closest.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import NamedTuple

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import main_ASLP  # noqa: E402
from loss import build_objective  # noqa: E402
from model import build_model, memory_format  # noqa: E402
from model.checkpoint import check_state_dict  # noqa: E402
from common.settings import ASLPSettings, BaselineSettings, OptimisationSettings, from_constants  # noqa: E402
from training.step import train_step  # noqa: E402

AUTHORS_CODE = PROJECT.parent / "shared" / "reference" / "authors_code"
# The paper's constants, which are also the authors' defaults.
ASLP = from_constants(ASLPSettings, main_ASLP.CONSTANTS)
LR = from_constants(OptimisationSettings, main_ASLP.CONSTANTS).lr
EPOCH = ASLP.start_epoch + 1  # the first epoch in which alpha moves
# A plausible previous-epoch validation accuracy for the alpha rule's penalty term.
VALIDATION_ACCURACY = 0.9


class Batch(NamedTuple):
    """A training batch as each loop receives it: ours indexes alpha by dataset index (on the
    device), theirs by image name (on the host)."""

    images: torch.Tensor
    gts: torch.Tensor
    index: torch.Tensor
    names: list[str]


Step = Callable[[Batch], object]


def image_name(index: int) -> str:
    return f"{index:05d}.jpg"


def make_batches(count: int, batch: int, size: int, num_images: int, device: torch.device,
                 layout: torch.memory_format = torch.contiguous_format) -> list[Batch]:
    """`count` random batches of images, binary masks and image indices, placed on `device`."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        index = torch.randint(0, num_images, (batch,), generator=generator)
        batches.append(Batch(
            torch.randn(batch, 3, size, size, generator=generator).to(device, memory_format=layout),
            (torch.rand(batch, 1, size, size, generator=generator) > 0.7).float().to(device),
            index.to(device),
            [image_name(i) for i in index.tolist()],
        ))
    return batches


class OurStep:
    """Our training step with objective `method`, as `training.loop.train` takes it in epoch EPOCH.

    The one place this script calls the project's training API: `loss.build_objective` and
    `training.step.train_step`.
    """

    def __init__(self, method: str, network: nn.Module, num_images: int, device: torch.device,
                 amp: bool = False) -> None:
        self.network, self.amp = network, amp
        self.objective = build_objective(
            method, ASLP, from_constants(BaselineSettings, main_ASLP.CONSTANTS), num_images=num_images,
            generator=torch.Generator(device).manual_seed(0), device=device,
        )
        self.optimizer = torch.optim.Adam(network.parameters(), LR)
        self.accuracy = torch.tensor(VALIDATION_ACCURACY, device=device)

    def __call__(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        """The loss and the per-image BCE and entropy, as the authors' step gives them."""
        record = train_step(self.network, self.objective, self.optimizer, batch.images, batch.gts, batch.index,
                            EPOCH, self.accuracy, self.amp)
        return record.loss, record.bce, record.entropy


def import_authors_code(folder: Path) -> SimpleNamespace:
    """The authors' `model.ResNet_models`, `perturbance` and `utils`, imported from `folder`.

    Their package `model` has the name of ours (and `utils` is a common name), so during the import
    every module of a clashing name is set aside from sys.modules, and every search path holding one
    from sys.path; both are put back after. Theirs stay reachable through the returned namespace only.
    """
    if not (folder / "model" / "ResNet_models.py").is_file():
        raise FileNotFoundError(f"the authors' code is not in {folder} (no model/ResNet_models.py); pass "
                                "--authors-code=PATH to the folder holding their main_ASLP.py and model/")
    clashing = {path.stem for path in folder.iterdir() if path.suffix == ".py" or path.is_dir()}

    def clashes(name: str) -> bool:
        return name.split(".")[0] in clashing

    def holds_clashing(entry: str) -> bool:
        base = Path(entry or ".")
        return any((base / name).is_dir() or (base / f"{name}.py").is_file() for name in clashing)

    search_path = list(sys.path)
    set_aside = {name: sys.modules.pop(name) for name in list(sys.modules) if clashes(name)}
    sys.path[:] = [str(folder), *(entry for entry in search_path if not holds_clashing(entry))]
    try:
        return SimpleNamespace(**{name.split(".")[-1]: importlib.import_module(name)
                                  for name in ("model.ResNet_models", "perturbance", "utils")})
    finally:
        sys.path[:] = search_path
        for name in [name for name in sys.modules if clashes(name)]:
            del sys.modules[name]
        sys.modules.update(set_aside)


def build_authors_model(authors: SimpleNamespace, feat_channel: int, device: torch.device) -> nn.Module:
    """Their `Model`, constructed as they do, except that the ImageNet ResNet-50 their constructor
    downloads is a randomly initialised one (no network here); their key mapping still runs."""
    module: ModuleType = authors.ResNet_models
    torchvision_models = module.models
    module.models = SimpleNamespace(resnet50=lambda pretrained: torchvision.models.resnet50(weights=None))
    try:
        network = module.Model(channel=feat_channel)
    finally:
        module.models = torchvision_models
    return network.to(device)


def matching_networks(authors: SimpleNamespace, feat_channel: int, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """Their network and ours, ours loaded with their weights (as their released checkpoint loads)."""
    torch.manual_seed(0)
    theirs = build_authors_model(authors, feat_channel, device).train()
    ours = build_model(feat_channel, device=device).train()
    ours.load_state_dict(check_state_dict(ours, theirs.state_dict(), source="the authors' Model"))
    return theirs, ours


@contextlib.contextmanager
def cuda_calls_to(device: torch.device) -> Iterator[None]:
    """Their perturbation places its tensors with `.cuda()`; off CUDA those calls go to `device`."""
    if device.type == "cuda":
        yield
        return
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor.to(device)
    try:
        yield
    finally:
        torch.Tensor.cuda = cuda


class AuthorsStep:
    """One iteration of their training loop, logging aside, built from their imported functions."""

    def __init__(self, authors: SimpleNamespace, network: nn.Module, num_images: int, device: torch.device) -> None:
        self.authors, self.network, self.device = authors, network, device
        self.optimizer = torch.optim.Adam(network.parameters(), LR)
        self.alpha = {image_name(i): torch.tensor(0.0) for i in range(num_images)}
        self.accuracy = torch.tensor(VALIDATION_ACCURACY)

    def __call__(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        self.optimizer.zero_grad()
        n = batch.images.shape[0]
        # Their alpha lives in a dict on the host, gathered and written back one image at a time.
        alpha = torch.zeros(n).to(self.device)
        for i in range(n):
            alpha[i] = self.alpha[batch.names[i]]
        with cuda_calls_to(self.device):
            targets = self.authors.perturbance.stochastic_label_perturbation(
                gt=batch.gts, alpha=alpha, beta=ASLP.beta, noise=ASLP.perturb_noise)
        logits = self.network(batch.images)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            # Their call: the legacy `reduce` flag is truthy, so this is the mean BCE.
            loss = F.binary_cross_entropy_with_logits(logits, targets, reduce="none")
        bce = self.authors.utils.compute_bce_individual(logits.detach(), batch.gts.detach())
        entropy = self.authors.utils.compute_entropy_individual(logits.detach())
        loss.backward()
        self.optimizer.step()
        beta = ASLP.beta
        alpha = alpha + ASLP.eta * ((-2 * bce + entropy) / beta
                                    + ASLP.lambda_ * torch.minimum((1.0 - self.accuracy) - beta * alpha,
                                                                   torch.zeros_like(alpha)))
        for i in range(n):
            if alpha[i] < 0:
                self.alpha[batch.names[i]] = torch.tensor(0.0)
            elif alpha[i] >= 1 / (2 * beta):
                self.alpha[batch.names[i]] = torch.tensor(1 / (2 * beta) - 0.01)
            else:
                self.alpha[batch.names[i]] = alpha[i].cpu()
        return loss.detach(), bce, entropy


def images_per_second(step: Step, batches: list[Batch], steps: int, device: torch.device) -> float:
    """Images per second over `steps` steps cycling through `batches`, run back to back as the
    training loop runs them (no device sync between steps)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps * batches[0].images.shape[0] / (time.perf_counter() - start)


def median_rates(steps: dict[str, Step], batches: list[Batch], args: argparse.Namespace,
                 device: torch.device) -> dict[str, float]:
    """Median images/s of each step over `args.repeats` rounds; in each round every step times a
    block of `args.steps` steps in turn (the order reversed every other round), so that a changing
    machine load falls on all of them alike. `args.warmup` untimed steps each come first."""
    for step in steps.values():
        for i in range(args.warmup):
            step(batches[i % len(batches)])
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(args.repeats):
        for name in list(steps) if round_ % 2 == 0 else reversed(list(steps)):
            rates[name].append(images_per_second(steps[name], batches, args.steps, device))
    return {name: statistics.median(values) for name, values in rates.items()}


def compare_objectives(args: argparse.Namespace, device: torch.device) -> None:
    layout = memory_format(args.channels_last)
    batches = make_batches(4, args.batch, args.size, args.images, device, layout)

    def step(method: str) -> Step:
        torch.manual_seed(0)
        network = build_model(args.feat_channel, device=device).train().to(memory_format=layout)
        return OurStep(method, network, args.images, device, args.amp)

    rates = median_rates({"BCE": step("BCE"), "ASLP": step("ASLP")}, batches, args, device)
    print(f"device {device}, {args.size}px, batch {args.batch}, amp {args.amp}, channels_last {args.channels_last}")
    print(f"plain BCE          : {rates['BCE']:8.2f} images/s")
    print(f"SC-BCE + alpha     : {rates['ASLP']:8.2f} images/s")
    print(f"overhead of ASLP   : {100 * (rates['BCE'] / rates['ASLP'] - 1):+.2f}% per step (target <= 2%)")


def compare_with_authors(authors: SimpleNamespace, args: argparse.Namespace, device: torch.device) -> None:
    batches = make_batches(4, args.batch, args.size, args.images, device)
    their_network, our_network = matching_networks(authors, args.feat_channel, device)
    steps = {"theirs": AuthorsStep(authors, their_network, args.images, device),
             "ours": OurStep("ASLP", our_network, args.images, device)}
    rates = median_rates(steps, batches, args, device)
    print(f"device {device}, {args.size}px, batch {args.batch}, float32, ASLP (MC) with alpha updates")
    print(f"authors' step      : {rates['theirs']:8.2f} images/s")
    print(f"our step           : {rates['ours']:8.2f} images/s")
    print(f"ours / theirs      : {rates['ours'] / rates['theirs']:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--feat-channel", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30, help="steps per timed block")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of alternating timed blocks; median kept")
    parser.add_argument("--images", type=int, default=10553, help="size of the alpha table (DUTS-TR)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--against-authors", action="store_true",
                        help="time the authors' training step against ours (float32)")
    parser.add_argument("--authors-code", type=Path, default=AUTHORS_CODE,
                        help="folder of the authors' main_ASLP.py and model/ (default: %(default)s)")
    args = parser.parse_args()
    if args.against_authors and (args.amp or args.channels_last):
        parser.error("--against-authors compares the float32, contiguous steps the authors ran; "
                     "drop --amp and --channels-last")
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # their `.cuda()` calls go to the current device
        torch.backends.cudnn.benchmark = True
    if args.against_authors:
        try:
            authors = import_authors_code(args.authors_code)
        except FileNotFoundError as error:
            parser.error(str(error))
        compare_with_authors(authors, args, device)
    else:
        compare_objectives(args, device)


if __name__ == "__main__":
    main()
