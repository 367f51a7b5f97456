"""What a training run says and writes about its epochs: the epoch line, log.csv and alpha_log.csv, and
its closing words (the perturbed labels, the alpha table).
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common import atomic
from common.text import counted, plural

if TYPE_CHECKING:  # the plots read LOG_NAME from here without loading torch
    import torch

    from training.step import EpochMeans

LOG_NAME = "log.csv"
ALPHA_LOG_NAME = "alpha_log.csv"
ALPHA_TABLE_NAME = "alpha.json"
# alpha_used_mean: the mean alpha the epoch's steps drew their perturbations with (each before that
# step's update); alpha_log.csv holds the distribution after the epoch's last update.
# perturbed_share, perturbed_labels: the share and the number of the epoch's image-steps that trained
# on a perturbed label (methods that perturb labels; an ASLP run whose alphas are still near 0 shows 0
# here and trains as BCE would). val_accuracy: under the run's protocol (it steers ASLP's alpha).
# val_ECE, val_OE, val_ECE_boundary: the validation probability maps round(255 p) under the
# calibrated protocol's rule (masks thresholded at 128), as the test stage scores them; the last in
# the masks' boundary bands (NaN where no validation mask has a boundary).
LOG_COLUMNS = ("epoch", "loss", "bce", "entropy", "alpha_used_mean", "perturbed_share", "perturbed_labels",
               "val_accuracy", "val_ECE", "val_OE", "val_ECE_boundary", "lr")


def describe_alpha(summary: dict[str, float]) -> str:
    return (f"alpha mean {summary['mean']:.4f} median {summary['q50']:.4f} max {summary['q100']:.4f}, "
            f"{100 * summary['at_zero']:.1f}% at 0, {100 * summary['at_ceiling']:.1f}% at the upper clamp")


def describe_calibration(calibration: dict[str, float]) -> str:
    """The epoch line's words for `Validation.calibration` (fractions shown in percent)."""
    def percent(key: str) -> str:
        return f"{100 * calibration[key]:.2f}%" if math.isfinite(calibration[key]) else "n/a"
    return (f"probability maps ECE {percent('val_ECE')}, OE {percent('val_OE')}, "
            f"boundary ECE {percent('val_ECE_boundary')}")


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of the CSV at `path`."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def append_row(path: Path, row: dict[str, float | int | str]) -> None:
    """Append `row` to the CSV at `path`, writing the header first if the file is new.

    A file begun with other columns (a run resumed from a checkpoint written before a column was
    added) is first rewritten under the union of both headers, its rows' new cells left empty, so
    that every row lines up with the header.
    """
    columns = list(row)
    if path.exists():
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
        if header != columns:
            _, rows = read_rows(path)
            columns += [name for name in header if name not in columns]
            with atomic.opened(path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
    new = not path.exists()
    with atomic.appending(path, newline="") as handle:  # a row is cut off again when it cannot be written whole
        writer = csv.DictWriter(handle, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})


@dataclass(frozen=True)
class EpochResult:
    """Everything an epoch's line and rows report."""

    epoch: int
    means: EpochMeans  # of the training steps
    accuracy: float  # validation accuracy under the run's protocol
    best_accuracy: float
    calibration: dict[str, float]  # `Validation.calibration`
    diagnostics: dict[str, float]  # the objective's alpha distribution ({} for methods without)
    lr: float  # the lr the epoch trained with


def log_epoch(out_dir: Path, result: EpochResult, epochs: int, perturbed_label: str | None) -> None:
    """Print the epoch's line (and its alpha line) and append its rows to log.csv (and alpha_log.csv)."""
    means = result.means
    perturbed = "" if means.perturbed_labels is None else (
        f", {means.perturbed_labels} of {counted(means.images, 'label')} perturbed (to {perturbed_label})")
    print(f"Epoch {result.epoch}/{epochs}: loss {means.loss:.4f}, clean BCE {means.bce:.4f}{perturbed}, validation "
          f"accuracy {result.accuracy:.4f} (best {result.best_accuracy:.4f}), "
          f"{describe_calibration(result.calibration)}")
    if result.diagnostics:
        print(f"  alpha: {describe_alpha(result.diagnostics)}")
        append_row(out_dir / ALPHA_LOG_NAME, {"epoch": result.epoch, **result.diagnostics})
    values = {
        "epoch": result.epoch, "loss": means.loss, "bce": means.bce, "entropy": means.entropy,
        # Empty for methods without alpha, or without perturbed labels.
        "alpha_used_mean": "" if means.alpha_used_mean is None else means.alpha_used_mean,
        "perturbed_share": "" if means.perturbed_share is None else means.perturbed_share,
        "perturbed_labels": "" if means.perturbed_labels is None else means.perturbed_labels,
        "val_accuracy": result.accuracy, **result.calibration, "lr": result.lr,
    }
    append_row(out_dir / LOG_NAME, {name: values[name] for name in LOG_COLUMNS})


def perturbation_summary(log_path: Path, perturbed_label: str) -> str:
    """The run's closing line on perturbed labels, from its log.csv (every epoch, also those before a
    resume): how many image-steps drew one in all, and in which epochs; or, where none did, a note
    that the run trained as BCE would."""
    _, rows = read_rows(log_path)
    shares = [float(row["perturbed_share"]) for row in rows if row.get("perturbed_share")]
    if not any(shares):
        return (f"Note: no label was perturbed in any epoch ({log_path}, perturbed_share), so this run trained "
                "exactly as BCE would; train longer or with a larger perturbation probability.")
    counts = {int(row["epoch"]): int(row["perturbed_labels"]) for row in rows if row.get("perturbed_labels")}
    listed = [f"{epoch} ({count})" for epoch, count in counts.items() if count]
    # Rows of a log begun before perturbed_labels was logged have only the share.
    uncounted = [row["epoch"] for row in rows
                 if float(row.get("perturbed_share") or 0) and not row.get("perturbed_labels")]
    epochs = f"{plural('epoch', len(listed))} {', '.join(listed)}" if listed else "no counted epoch"
    also = (f"; also in {plural('epoch', len(uncounted))} {', '.join(uncounted)}, logged before the count "
            "was" if uncounted else "")
    total = sum(counts.values())
    return (f"Labels perturbed ({perturbed_label}): {counted(total, 'image-step')} in all, in "
            f"{epochs}{also} ({log_path}, perturbed_labels)")


def write_alpha_table(alpha: torch.Tensor, names: list[str], path: Path) -> None:
    """Image name -> alpha, highest first: the images the model found most ambiguous lead."""
    values = alpha.tolist()
    order = sorted(range(len(names)), key=lambda i: (-values[i], names[i]))
    atomic.write_text(path, json.dumps({names[i]: values[i] for i in order}, indent=1) + "\n")
