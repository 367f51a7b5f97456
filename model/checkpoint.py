"""Loading network weights: our own checkpoints and the authors' released `Model_30_Gen.pth`.

The released file also holds branches the forward pass never runs (a second copy of ResNet stages 3
and 4, and path4's skip unit); those keys are accepted and ignored. Anything else that does not fit
is an error listing the offending keys, never a silent partial load.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from data.files import abbreviate
from common.errors import UserFacingError
from common.layout import CHECKPOINT_NAME
from common.methods import network_method

UNUSED_RELEASED_PREFIXES = ("resnet.layer3_2.", "resnet.layer4_2.", "path4.resConfUnit1.")
DATA_PARALLEL_PREFIX = "module."


class CheckpointError(UserFacingError, ValueError):
    """A weights file that is missing, unreadable or does not fit the network."""


def _looks_like_torch_save(path: Path) -> bool:
    """torch.save writes a zip archive (since PyTorch 1.6) or, in the legacy format, a pickle (byte 0x80)."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    return start == b"PK\x03\x04" or start[:1] == b"\x80"


def _reason(error: Exception) -> str:
    """The informative line of torch.load's error, without its weights_only boilerplate (which advises
    filing an issue with PyTorch)."""
    text = str(error)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
    return " ".join(text.split()) or type(error).__name__


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", way_on: str = "") -> object:
    """What `path` holds (torch.load, weights only): the one reader of every checkpoint, so that a file
    that is missing, truncated (a copy cut short) or no checkpoint at all is one CheckpointError naming it,
    and `way_on` (what to do instead) when given."""
    path = Path(path)
    way_on = way_on or "pass a .pth file written by this project or the authors' Model_30_Gen.pth"
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    if not _looks_like_torch_save(path):
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (torch.save writes a zip archive or a pickle); "
                              f"{way_on}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for files that are not checkpoints
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({_reason(error)}); {way_on}") from error


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The network state dict in `path`: a plain state dict, or our training checkpoint's `model` entry."""
    content = read_checkpoint(path)
    if isinstance(content, dict) and isinstance(content.get("model"), dict):
        content = content["model"]
    if not isinstance(content, dict) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors")
    return {
        key[len(DATA_PARALLEL_PREFIX):] if key.startswith(DATA_PARALLEL_PREFIX) else key: value
        for key, value in content.items()
    }


def check_state_dict(network: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """`state` without the released-but-unused keys; raises CheckpointError naming every misfit."""
    expected = network.state_dict()
    state = {k: v for k, v in state.items() if not (k not in expected and k.startswith(UNUSED_RELEASED_PREFIXES))}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    problems = [
        f"{label} ({len(keys)}): {abbreviate(keys, 10)}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
        if keys
    ]
    if problems:
        raise CheckpointError(
            f"{source} does not fit the ASLP network (is it a checkpoint of this architecture, "
            f"with the same FEAT_CHANNEL?): " + "; ".join(problems)
        )
    return state


def load_weights(network: nn.Module, path: str | Path) -> nn.Module:
    """Load `path` into `network` strictly (see module docstring) and return the network."""
    state = check_state_dict(network, read_state_dict(path), source=str(path))
    network.load_state_dict(state)
    return network


def recorded_method(weights: str | Path) -> tuple[str, Path] | None:
    """The METHOD a network was trained as, and the file that records it: `weights` itself when it is a
    training checkpoint, else the checkpoint.pth of the run that wrote it, beside it; None for weights
    without a record (the authors' release, a copied file)."""
    weights = Path(weights)
    for source in (weights, weights.parent / CHECKPOINT_NAME):
        if not source.is_file():
            continue
        try:
            content = read_checkpoint(source)
        except CheckpointError:  # another file's fault than the one asked about: no record, then
            continue
        if isinstance(content, dict) and isinstance(content.get("run"), dict) and content["run"].get("METHOD"):
            return str(content["run"]["METHOD"]), source
    return None


def check_recorded_method(weights: str | Path, methods: tuple[str, ...]) -> None:
    """--weights trained as one method must not be filed and labelled as another (METHOD's default, say):
    stop, naming the method their record names, where `methods` (those tested) use another network."""
    recorded = recorded_method(weights)
    if recorded is None:
        return
    method, source = recorded
    wrong = [m for m in methods if network_method(m) != method]
    if wrong:
        raise CheckpointError(f"--weights={weights} was trained as {method} ({source} records it), but this run would "
                              f"file and label its maps as {', '.join(wrong)}: pass --method={method} (or a post-hoc "
                              f"method on it, e.g. --method={method}+TS)")
