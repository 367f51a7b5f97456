"""Training objectives: label perturbation, SC-BCE, the adaptive alpha controller and baselines.

Adding a method means one file with an `Objective` subclass and one entry in `OBJECTIVES`;
`build_objective` passes each class the constructor arguments it names.
"""
from __future__ import annotations

import inspect
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
from loss.perturbation import perturb_labels, sc_bce
from loss.slp import SLPLoss
from loss.temperature import fit_temperature

OBJECTIVES: dict[str, type[Objective]] = {
    "BCE": BCELoss,
    "ASLP": ASLPLoss,
    "LS": LabelSmoothingLoss,
    "DisturbLabel": DisturbLabelLoss,
    "SLP": SLPLoss,
    "Focal": FocalLoss,
    "Brier": BrierLoss,
    "MbLS": MbLSLoss,
}

__all__ = [
    "OBJECTIVES", "AdaptiveAlpha", "Objective", "build_objective", "fit_temperature", "image_statistics",
    "perturb_labels", "sc_bce", "update_alpha",
]


def build_objective(method: str, **available: Any) -> Objective:
    """The objective `method`, built from the entries of `available` that its constructor names
    (those with a default may be left out)."""
    if method not in OBJECTIVES:
        raise ValueError(f"unknown METHOD {method!r}; choose one of {', '.join(OBJECTIVES)}")
    parameters = inspect.signature(OBJECTIVES[method]).parameters
    missing = [name for name, p in parameters.items() if p.default is p.empty and name not in available]
    if missing:
        raise TypeError(f"{method} needs {', '.join(missing)}")
    return OBJECTIVES[method](**{name: available[name] for name in parameters if name in available})
