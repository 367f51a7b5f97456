"""Training objectives: label perturbation, SC-BCE, the adaptive alpha controller and baselines.

Adding a method means one file with an `Objective` subclass and one entry in `OBJECTIVES`;
`build_objective` passes each class the constructor arguments it names: fields of the settings
groups (`ls_epsilon`, `beta`, ...), the whole ASLP group as `aslp`, and `num_images`, `generator`,
`device`. The constants a class is built from are what its checkpoints record.
"""
from __future__ import annotations

import inspect
from dataclasses import asdict
from typing import Any

from loss.adaptive_alpha import AdaptiveAlpha, image_statistics, update_alpha
from loss.aslp import ASLPLoss
from loss.base import Objective
from loss.bce import BCELoss
from loss.brier import BrierLoss
from loss.disturb_label import DisturbLabelLoss
from loss.focal import FocalLoss
from loss.label_smoothing import LabelSmoothingLoss
from loss.mbls import MbLSLoss
from loss.nacl import NACLLoss
from loss.perturbation import perturb_labels, sc_bce
from loss.slp import SLPLoss
from loss.svls import SVLSLoss
from common.settings import ASLPSettings, BaselineSettings, constant_name

OBJECTIVES: dict[str, type[Objective]] = {
    "BCE": BCELoss,
    "ASLP": ASLPLoss,
    "LS": LabelSmoothingLoss,
    "DisturbLabel": DisturbLabelLoss,
    "SLP": SLPLoss,
    "Focal": FocalLoss,
    "Brier": BrierLoss,
    "MbLS": MbLSLoss,
    "SVLS": SVLSLoss,
    "NACL": NACLLoss,
}

__all__ = [
    "OBJECTIVES", "AdaptiveAlpha", "Objective", "build_objective", "image_statistics", "inert_reason",
    "objective_constants", "training_note", "perturb_labels", "sc_bce", "update_alpha",
]


def _settings(aslp: ASLPSettings, baselines: BaselineSettings) -> dict[str, Any]:
    return {**asdict(aslp), **asdict(baselines), "aslp": aslp}


def _objective(method: str) -> type[Objective]:
    if method not in OBJECTIVES:
        raise ValueError(f"unknown METHOD {method!r}; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[method]


def build_objective(
    method: str, aslp: ASLPSettings, baselines: BaselineSettings, **runtime: Any
) -> Objective:
    """The objective `method`, given the constructor arguments it names from the settings groups and
    `runtime` (num_images, generator, device; those with a default may be left out)."""
    available = {**_settings(aslp, baselines), **runtime}
    parameters = inspect.signature(_objective(method)).parameters
    missing = [name for name, p in parameters.items() if p.default is p.empty and name not in available]
    if missing:
        raise TypeError(f"{method} needs {', '.join(missing)}")
    return OBJECTIVES[method](**{name: available[name] for name in parameters if name in available})


def objective_constants(method: str) -> tuple[str, ...]:
    """The UPPER_CASE constants `method`'s objective is built from (all of ASLP's for the group)."""
    names: list[str] = []
    for name in inspect.signature(_objective(method)).parameters:
        if name == "aslp":
            names += [constant_name(field) for field in ASLPSettings.__dataclass_fields__]
        elif name in BaselineSettings.__dataclass_fields__ or name in ASLPSettings.__dataclass_fields__:
            names.append(constant_name(name))
    return tuple(names)


def inert_reason(method: str, aslp: ASLPSettings, baselines: BaselineSettings, epochs: int) -> str | None:
    """Why training `method` with these settings would be plain BCE, or None (see `Objective.inert_reason`)."""
    return _objective(method).inert_reason(**_settings(aslp, baselines), epochs=epochs)


def training_note(method: str, aslp: ASLPSettings, baselines: BaselineSettings, epochs: int) -> str | None:
    """What to know before training `method` with these settings, or None (see `Objective.training_note`)."""
    return _objective(method).training_note(**_settings(aslp, baselines), epochs=epochs)
