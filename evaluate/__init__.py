"""Scoring saliency prediction maps from disk: pixel calibration (ECE, OE, ...) and SOD metrics.

``evaluate_datasets`` scores several test sets and writes ``results.md/.csv/.json``
and reliability diagrams; ``score_dataset`` scores one folder pair; both take
``protocol="paper"`` (default: what the authors' code computes, on their
per-image stretched maps) or ``"calibrated"`` (raw probability maps, masks
thresholded at 128), see :mod:`evaluate.runner`. The calibration functions work
on the (256, 2) per-level count arrays built by ``level_counts``. Run
``python -m evaluate --help`` for the command line. The package reads 8-bit
maps from disk only and never imports torch or the model code.
"""

from evaluate.calibration import (
    adaptive_calibration_error,
    brier_score,
    debiased_calibration_error,
    expected_calibration_error,
    level_counts,
    negative_log_likelihood,
    overconfidence_error,
    pixel_accuracy,
)
from evaluate.io import EvaluationInputError
from evaluate.runner import evaluate_datasets, score_dataset

__all__ = [
    "EvaluationInputError",
    "adaptive_calibration_error",
    "brier_score",
    "debiased_calibration_error",
    "evaluate_datasets",
    "expected_calibration_error",
    "level_counts",
    "negative_log_likelihood",
    "overconfidence_error",
    "pixel_accuracy",
    "score_dataset",
]
