"""The configuration in small typed groups, built once from main_ASLP.py's UPPER_CASE constants.

Each group is a frozen dataclass whose fields are the lower-case names of its constants (`lambda_`
for LAMBDA, a Python keyword), so adding a constant means: the constants block, one field here (with
its range, if numeric) and its use. A field's `limit` (a rule of `configurator.RULES`) is checked on
the command line, before torch is imported. Standard library only.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar


def _limit(rule: str) -> Any:
    return field(metadata={"limit": rule})


@dataclass(frozen=True)
class DataSettings:
    """Where the data are and how they are fed to the network."""

    dataset_root: str
    train_set: str
    test_datasets: tuple[str, ...]
    split_dir: str
    validation_size: int = _limit("at least 1")
    train_size: int = _limit("a positive multiple of 32")
    test_size: int = _limit("a positive multiple of 32")
    test_batch_size: int = _limit("at least 1")
    num_workers: int = _limit("at least 0")


@dataclass(frozen=True)
class ModelSettings:
    """The network."""

    pretrained_backbone: str
    feat_channel: int = _limit("at least 1")


@dataclass(frozen=True)
class OptimisationSettings:
    """The optimiser and its schedule."""

    epochs: int = _limit("at least 1")
    lr: float = _limit("positive")
    batch_size: int = _limit("at least 1")
    decay_rate: float = _limit("positive")
    decay_epoch: int = _limit("at least 1")


@dataclass(frozen=True)
class ASLPSettings:
    """The label perturbation and the alpha controller (ASLP; SLP shares BETA and PERTURB_NOISE)."""

    aslp_mode: str
    perturb_noise: bool
    beta: float = _limit("positive")
    eta: float = _limit("at least 0")
    lambda_: float = _limit("at least 0")
    start_epoch: int = _limit("at least 0")


@dataclass(frozen=True)
class BaselineSettings:
    """The constants of the comparison objectives."""

    ls_epsilon: float = _limit("between 0 and 1")
    dl_alpha: float = _limit("between 0 and 1")
    slp_alpha: float = _limit("between 0 and 1")
    focal_gamma: float = _limit("at least 0")
    mbls_margin: float = _limit("at least 0")
    mbls_lambda: float = _limit("at least 0")


@dataclass(frozen=True)
class PostHocSettings:
    """Calibration fitted on the validation split after training (TS, LTS)."""

    ts_pixels_per_image: int = _limit("at least 1")
    lts_epochs: int = _limit("at least 1")
    lts_lr: float = _limit("positive")


@dataclass(frozen=True)
class SpeedSettings:
    """How fast, not what: none of these changes a result (AMP aside, which changes rounding)."""

    amp: bool
    channels_last: bool
    log_every: int = _limit("at least 1")
    eval_workers: int = _limit("at least 0")


@dataclass(frozen=True)
class EvaluationSettings:
    """How maps are scored."""

    protocol: str
    n_bins: int = _limit("at least 1")
    boundary_width: int = _limit("at least 1")


GROUPS = (DataSettings, ModelSettings, OptimisationSettings, ASLPSettings, BaselineSettings, PostHocSettings, SpeedSettings,
          EvaluationSettings)
Group = TypeVar("Group")


def constant_name(field_name: str) -> str:
    """The UPPER_CASE constant a field holds: `lambda_` -> LAMBDA."""
    return field_name.rstrip("_").upper()


def from_constants(group: type[Group], constants: Mapping[str, Any]) -> Group:
    """The group `group` with each field taken from its constant in `constants`."""
    return group(**{item.name: constants[constant_name(item.name)] for item in fields(group)})


def as_constants(settings: Any) -> dict[str, Any]:
    """{CONSTANT: value} of a group, e.g. what a checkpoint records."""
    return {constant_name(item.name): getattr(settings, item.name) for item in fields(settings)}


LIMITS: dict[str, str] = {
    constant_name(item.name): item.metadata["limit"]
    for group in GROUPS for item in fields(group) if "limit" in item.metadata
}
