"""The configuration in small typed groups, built once from main_ASLP.py's UPPER_CASE constants.

Each group is a frozen dataclass whose fields are the lower-case names of its constants (`lambda_`
for LAMBDA, a Python keyword), so adding a constant means: the constants block, one field here (with
its range, if numeric) and its use. A field's `limit` (a rule of `configurator.RULES`) is checked on
the command line, before torch is imported. `RunSettings` says what the run does (stages, methods,
seeds) and is parsed from its constants; `Settings` holds every group, and is the one way the
pipeline reads a setting (`settings.optimisation.epochs`). Building it refuses a command line that
cannot work, naming the option and the fix. Standard library only (with the name tables of
`methods` and `protocol`, which import nothing heavy).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from common.configurator import ConfigError, check_limits
from common.layout import weights_file_problem
from common.methods import choices, known_method
from data.corruptions import ShiftedSet, corruption_names, severity_levels, shifted_sets
from protocol import PROTOCOLS


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
    svls_kernel: int = _limit("an odd number of at least 3")
    svls_sigma: float = _limit("positive")
    nacl_kernel: int = _limit("an odd number of at least 1")
    nacl_weight: float = _limit("at least 0")


@dataclass(frozen=True)
class PostHocSettings:
    """Calibration fitted on the validation split after training (calibrators.CALIBRATORS)."""

    ts_pixels_per_image: int = _limit("at least 1")
    lts_epochs: int = _limit("at least 1")
    lts_lr: float = _limit("positive")
    sel_context: int = _limit("an odd number of at least 1")


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
    n_bins: int = _limit("from 1 to 256")
    boundary_width: int = _limit("at least 1")


@dataclass(frozen=True)
class ShiftSettings:
    """The corrupted copies of the test sets that are scored beside them (data.corruptions)."""

    corruptions: str  # names, families or "all"; "" for none
    severities: str
    corrupted_sets: str  # test sets to corrupt; "" for every one

    @property
    def names(self) -> tuple[str, ...]:
        return corruption_names(self.corruptions)

    def sets(self, test_datasets: tuple[str, ...]) -> list[ShiftedSet]:
        """Every corrupted set to test and score: each chosen test set x corruption x severity."""
        if not self.names:
            return []
        sources = tuple(item.strip() for item in self.corrupted_sets.split(",") if item.strip()) or test_datasets
        return shifted_sets(sources, self.names, severity_levels(self.severities))

    def check(self, test_datasets: tuple[str, ...]) -> None:
        """One line for a corruption, severity or set that cannot be: ConfigError."""
        for option, parse in (("--corruptions", corruption_names), ("--severities", severity_levels)):
            try:
                parse(getattr(self, option[2:]))
            except ValueError as error:
                raise ConfigError(f"{option}: {error}") from None
        if self.corruptions.strip() and not self.names:
            raise ConfigError(f"--corruptions={self.corruptions} names no corruption")
        outside = [name for name in self.corrupted_sets.split(",") if name.strip() and name.strip() not in test_datasets]
        if outside:
            raise ConfigError(f"--corrupted_sets names {', '.join(outside)}, which --test_datasets does not: corrupt "
                              f"some of {', '.join(test_datasets)}")


# The groups by the name `Settings` holds each under.
GROUP_FIELDS = {"data": DataSettings, "model": ModelSettings, "optimisation": OptimisationSettings,
                "aslp": ASLPSettings, "baselines": BaselineSettings, "post_hoc": PostHocSettings,
                "speed": SpeedSettings, "evaluation": EvaluationSettings, "shift": ShiftSettings}
GROUPS = tuple(GROUP_FIELDS.values())
Group = TypeVar("Group")
STAGES = ("train", "test", "eval")
DEVICES = re.compile(r"auto|cpu|cuda(:[0-9]+)?")  # the devices --device may name (as predict.py)


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


def _names(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class RunSettings:
    """What the run does: its stages, methods and seeds, where it writes, and on which device."""

    experiment: str
    stages: tuple[str, ...]  # of STAGES, in that order
    weights: str  # test these weights instead of training ("" to train)
    resume: bool
    methods: tuple[str, ...]  # COMPARE's methods, or METHOD alone
    demo: bool
    seeds: tuple[int, ...]  # SEEDS, or SEED alone
    device: str

    # The constants this group is parsed from (two pairs become one field each).
    CONSTANTS = ("EXPERIMENT", "STAGES", "WEIGHTS", "RESUME", "COMPARE", "METHOD", "DEMO", "SEED", "SEEDS", "DEVICE")

    @property
    def comparing(self) -> bool:
        """Several runs, tabulated side by side (several methods, or several seeds)."""
        return len(self.methods) > 1 or len(self.seeds) > 1

    @classmethod
    def from_constants(cls, constants: Mapping[str, Any]) -> RunSettings:
        stages = _names(constants["STAGES"])
        unknown = sorted(set(stages) - set(STAGES))
        if unknown or not stages:
            what = f"unknown stage(s) {', '.join(unknown)}" if unknown else "no stage given"
            raise ConfigError(f"--stages: {what}; use some of {','.join(STAGES)}")
        methods = _names(constants["COMPARE"]) or (constants["METHOD"],)
        unknown = [method for method in methods if not known_method(method)]
        if unknown:
            raise ConfigError(f"unknown method(s) {', '.join(unknown)}; choose from {choices()}")
        if len(set(methods)) != len(methods):
            raise ConfigError(f"--compare lists a method twice: {constants['COMPARE']}")
        try:
            seeds = tuple(int(item) for item in _names(constants["SEEDS"])) or (constants["SEED"],)
        except ValueError:
            raise ConfigError(f"--seeds expects comma-separated integers such as 1,2,3, got {constants['SEEDS']!r}") from None
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"--seeds lists a seed twice: {constants['SEEDS']}")
        if not DEVICES.fullmatch(constants["DEVICE"]):  # torch would refuse it only once imported, with a traceback
            raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N (N: a GPU's index), got "
                              f"{constants['DEVICE']!r}")
        return cls(constants["EXPERIMENT"], tuple(s for s in STAGES if s in stages), constants["WEIGHTS"],
                   constants["RESUME"], methods, constants["DEMO"], seeds, constants["DEVICE"])


@dataclass(frozen=True)
class Settings:
    """Every group of the configuration: the one object the pipeline reads its settings from."""

    run: RunSettings
    data: DataSettings
    model: ModelSettings
    optimisation: OptimisationSettings
    aslp: ASLPSettings
    baselines: BaselineSettings
    post_hoc: PostHocSettings
    speed: SpeedSettings
    evaluation: EvaluationSettings
    shift: ShiftSettings

    @classmethod
    def from_constants(cls, constants: Mapping[str, Any]) -> Settings:
        """The groups of `constants` (main_ASLP.py's, with the command line applied), checked: a
        ConfigError names the first option that cannot work and the fix."""
        check_limits(constants, LIMITS)
        groups = {name: from_constants(group, constants) for name, group in GROUP_FIELDS.items()}
        settings = cls(run=RunSettings.from_constants(constants), **groups)
        settings.check()
        return settings

    def constants(self) -> dict[str, Any]:
        """{CONSTANT: value} of every group but the run's, e.g. what a checkpoint records."""
        return {name: value for group in GROUP_FIELDS for name, value in as_constants(getattr(self, group)).items()}

    def check(self) -> None:
        """Refuse settings that cannot work together, before anything is imported, read or written."""
        run, data = self.run, self.data
        if self.evaluation.protocol not in PROTOCOLS:
            raise ConfigError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {self.evaluation.protocol!r}")
        if {"test", "eval"} & set(run.stages):
            if not data.test_datasets:
                raise ConfigError("--test_datasets is empty: name at least one set under DATASET_ROOT/Test/, or run "
                                  "--stages=train")
            twice = sorted({name for name in data.test_datasets if data.test_datasets.count(name) > 1})
            if twice:
                raise ConfigError(f"--test_datasets names {', '.join(twice)} twice: each set is tested and scored once")
        self.shift.check(data.test_datasets)
        if run.weights:
            problem = weights_file_problem(run.weights)
            if problem:
                raise ConfigError(problem)
            if run.stages == ("train",):
                raise ConfigError(f"--weights skips training, so --stages=train would do nothing; drop "
                                  f"--weights={run.weights} to train, or test those weights with --stages=test,eval")
            if run.resume:
                raise ConfigError(f"--weights skips training, so --resume has nothing to continue; drop one of "
                                  f"--weights={run.weights} and --resume")


