"""Scoring saliency prediction maps from disk: pixel calibration (ECE, OE, ...) and SOD metrics.

``evaluate_datasets`` scores several test sets and writes ``results.md/.csv/.json``, ``curves.json`` and
reliability diagrams; ``score_dataset`` scores one folder pair; both take a ``protocol``
(:mod:`protocol`: ``"paper"``, the default, what the authors' code computes on their per-image
stretched maps, or ``"calibrated"``, probability maps scored against masks thresholded at 128). The
calibration functions work on the (256, 2) per-level count arrays built by ``level_counts``. Run
``python -m evaluate --help`` for the command line. The package reads 8-bit maps from disk only and never
imports torch or the model code. The names below are imported when first used, so that importing the
package (as the command line does before parsing its arguments) loads no library.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    **dict.fromkeys(
        (
            "adaptive_calibration_error",
            "brier_score",
            "debiased_calibration_error",
            "expected_calibration_error",
            "negative_log_likelihood",
            "overconfidence_error",
            "pixel_accuracy",
        ),
        "metrics.calibration",
    ),
    "EvaluationInputError": "evaluate.io",
    **dict.fromkeys(("BOUNDARY_WIDTH", "boundary_band"), "metrics.boundary"),
    **dict.fromkeys(("DEFAULT_PROTOCOL", "PROTOCOLS", "Protocol", "get_protocol", "level_counts"), "protocol"),
    **dict.fromkeys(("evaluate_datasets", "run_evaluation", "score_dataset"), "evaluate.runner"),
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
