"""Presenting scores: the printed tables and the ``results.md``, ``.csv`` and ``.json`` and ``curves.json`` files.

``results.json`` maps each dataset name to its metric dictionary with values as fractions (``null`` where
not applicable) and the protocol's name under ``"protocol"``; the metric names are the same under every
protocol. ``results.csv`` holds the same numbers, one row per dataset; ``results.md`` and the printed
output show the tables (calibration in percent; calibration in the mask's boundary band and in the rest, in
percent, where the protocol or the probability maps give it; SOD metrics as fractions) whose titles and
columns are the protocol's, the notes about skipped, converted or resized files, where each metric is
defined, and the reliability diagrams. ``curves.json`` holds the mean precision, recall, F-measure and FPR
curves of every set that has foreground, against their thresholds: ``{"protocol": NAME, "sets": {SET:
{"threshold": [...], "precision": [...], "recall": [...], "f_measure": [...], "fpr": [...]}}}``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metrics.calibration import ADAPTIVE_BINS
from protocol import PROTOCOLS, SOD_KEYS, MapKind, Protocol

REPORT_JSON = "results.json"
CURVES_JSON = "curves.json"
_REPORT_FILES = ("results.md", "results.csv", REPORT_JSON, CURVES_JSON)
IMAGE_ECE_KEYS = ("ECE_img_mean", "ECE_img_std", "ECE_img_median", "ECE_img_p90")
# The band's share of the scored pixels, then ECE and OE in the boundary band and in the rest (evaluate/boundary.py).
BOUNDARY_KEYS = ("boundary_fraction", "ECE_boundary", "OE_boundary", "ECE_rest", "OE_rest")
# results.json keys of the probability maps' metrics (under the calibrated protocol), and the metric of each.
PROBABILITY_KEYS = {
    f"calibrated_{metric}": metric for metric in ("ECE", "OE", "ACC", "ECE_img_mean", "ECE_img_std", *BOUNDARY_KEYS)
}
_PROBABILITY_BOUNDARY_KEYS = tuple(f"calibrated_{metric}" for metric in BOUNDARY_KEYS)


def file_stem(name: str) -> str:
    """`name` (a test set's, a method's) made safe as part of a file name: anything but letters,
    digits, '_', '.' and '-' becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def reliability_plot_name(dataset: str, maps: MapKind) -> str:
    """File name of a dataset's reliability diagram of its ``maps`` (safe for any dataset name)."""
    return f"reliability_{file_stem(dataset)}_{maps.word}.png"


def combined_plot_name(maps: MapKind) -> str:
    """File name of the figure with every dataset's diagram of its ``maps`` side by side."""
    return f"reliability_{maps.word}_all_sets.png"


def is_report_output(name: str) -> bool:
    """Whether a file name is one this module or the reliability diagrams write."""
    return name in _REPORT_FILES or re.fullmatch(r"reliability_.*\.png", name) is not None


@dataclass(frozen=True)
class Diagram:
    """What one reliability diagram shows: a set's maps of one kind, the protocol that scored them,
    their pooled level counts and the number of images those counts cover."""

    dataset: str
    maps: MapKind
    protocol: str
    counts: np.ndarray
    n_images: int

    @property
    def title(self) -> str:
        return f"{self.maps.title}, {self.protocol} protocol"

    @property
    def file_name(self) -> str:
        return reliability_plot_name(self.dataset, self.maps)


def combined_figures(diagrams: Sequence[Diagram]) -> dict[MapKind, list[Diagram]]:
    """The diagrams of each kind of maps shown for several datasets, to be drawn once more side by side
    (for one dataset that figure would repeat its diagram)."""
    by_kind: dict[MapKind, list[Diagram]] = {}
    for diagram in diagrams:
        by_kind.setdefault(diagram.maps, []).append(diagram)
    return {maps: same_kind for maps, same_kind in by_kind.items() if len(same_kind) > 1}


@dataclass(frozen=True)
class DatasetScore:
    """The scores of one dataset: its ``results.json`` entry, its diagrams and mean curves (None where the
    set has no foreground), inputs and notes."""

    name: str
    metrics: dict[str, float | int | str | None]
    diagrams: list[Diagram]
    curves: dict[str, list[float]] | None
    notes: list[str]
    pred_dir: Path
    gt_dir: Path


def _percent(value: float | int | str | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _fraction(value: float | int | str | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _four_digits(value: float | int | str | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _count(value: float | int | str | None) -> str:
    return "n/a" if value is None else str(value)


# Title and format of every results.json key a table may show; the protocol chooses which.
_COLUMNS: dict[str, tuple[str, Callable[[float | int | str | None], str]]] = {
    "n_images": ("Images", _count),
    "n_images_calibration": ("Images", _count),
    "ECE": ("ECE %", _percent),
    "OE": ("OE %", _percent),
    "ACC": ("ACC %", _percent),
    "AECE": ("AECE %", _percent),
    "dECE": ("dECE(l2) %", _percent),
    "NLL": ("NLL", _four_digits),
    "Brier": ("Brier", _four_digits),
    "ECE_img_mean": ("img ECE % mean", _percent),
    "ECE_img_std": ("std", _percent),
    "ECE_img_median": ("median", _percent),
    "ECE_img_p90": ("p90", _percent),
    "mean_saliency": ("mean saliency", _fraction),
    "boundary_fraction": ("band pixels %", _percent),
    "ECE_boundary": ("band ECE %", _percent),
    "OE_boundary": ("band OE %", _percent),
    "ECE_rest": ("rest ECE %", _percent),
    "OE_rest": ("rest OE %", _percent),
    "calibrated_ECE": ("probability maps: ECE %", _percent),
    "calibrated_OE": ("OE %", _percent),
    "calibrated_ACC": ("ACC %", _percent),
    "calibrated_ECE_img_mean": ("img ECE % mean", _percent),
    "calibrated_ECE_img_std": ("std", _percent),
    "calibrated_boundary_fraction": ("probability maps: band pixels %", _percent),
    "calibrated_ECE_boundary": ("band ECE %", _percent),
    "calibrated_OE_boundary": ("band OE %", _percent),
    "calibrated_ECE_rest": ("rest ECE %", _percent),
    "calibrated_OE_rest": ("rest OE %", _percent),
    **{key: (key, _fraction) for key in SOD_KEYS},
}


def _table(scores: Sequence[DatasetScore], keys: Sequence[str]) -> str:
    header = ["Dataset"] + [_COLUMNS[key][0] for key in keys]
    rows = [[s.name] + [_COLUMNS[key][1](s.metrics.get(key)) for key in keys] for s in scores]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _notes(scores: Sequence[DatasetScore]) -> str:
    lines = [f"- {s.name}: {note}" for s in scores for note in s.notes]
    return "\n".join(lines) if lines else "- none: every file was paired, read as 8-bit grey and had matching sizes"


def _sections(scores: Sequence[DatasetScore], n_bins: int, protocol: Protocol) -> list[tuple[str, str]]:
    with_probabilities = any(s.metrics.get("calibrated_ECE") is not None for s in scores)
    calibration_keys = [
        "n_images_calibration",
        *protocol.calibration_keys,
        *(IMAGE_ECE_KEYS if protocol.per_image_ece else ()),
        "mean_saliency",
        *(key for key in PROBABILITY_KEYS if with_probabilities and key not in _PROBABILITY_BOUNDARY_KEYS),
    ]
    calibration_title = protocol.calibration_title.format(n_bins=n_bins, adaptive_bins=ADAPTIVE_BINS)
    if with_probabilities:
        calibration_title += (
            "; probability maps: ECE/OE/ACC of the probability maps round(255 p) under the calibrated protocol, "
            "and the mean and std over images of each image's ECE"
        )
    sections = [(calibration_title, _table(scores, calibration_keys))]
    boundary_keys = [
        *(BOUNDARY_KEYS if protocol.boundary_ece else ()),
        *(_PROBABILITY_BOUNDARY_KEYS if with_probabilities else ()),
    ]
    if boundary_keys:
        sections.append((_boundary_title(scores, n_bins, with_probabilities), _table(scores, boundary_keys)))
    return [
        *sections,
        (protocol.sod_title, _table(scores, ["n_images", *protocol.sod_keys])),
        ("Notes", _notes(scores)),
        ("Inputs", "\n".join(f"- {s.name}: predictions {s.pred_dir}, masks {s.gt_dir}" for s in scores)),
    ]


def _boundary_title(scores: Sequence[DatasetScore], n_bins: int, with_probabilities: bool) -> str:
    width = scores[0].metrics["boundary_width"]
    title = (
        f"Calibration in the boundary band ({width} px) and the rest (band: the pixels within {width} px of the "
        "boundary of the mask thresholded at 128, on both sides; rest: all other pixels; band pixels: the band's "
        f"share of the scored pixels; ECE/OE: {n_bins} equal-width bins, pixels pooled per set)"
    )
    if with_probabilities:
        title += "; probability maps: the probability maps round(255 p) under the calibrated protocol"
    return title


def format_tables(scores: Sequence[DatasetScore], n_bins: int, protocol: Protocol) -> str:
    """Format the calibration and SOD tables, notes and inputs as printed after scoring."""
    return "\n\n".join(f"{title}\n\n{body}" for title, body in _sections(scores, n_bins, protocol))


def _definitions(protocol: Protocol) -> str:
    # This report's protocol first, then the others, so that a reader can compare.
    shown = [protocol, *(other for other in PROTOCOLS.values() if other is not protocol)]
    described = "\n".join(
        f"- **{other.name.capitalize()} protocol**{' (this report)' if other is protocol else ''}: "
        f"{other.description}; SOD metrics: {other.sod_definitions}"
        for other in shown
    )
    return f"""\
Each metric is defined once, in the docstring of the module that computes it (paths from the repository root):
- which pixels count as correct, the test maps, and what each protocol reports: evaluate/protocol.py
- ECE, OE, ACC, AECE, dECE, NLL, Brier, image ECE and mean saliency: evaluate/calibration.py
- the boundary band and the rest (band pixels, band and rest ECE/OE; the width: boundary_width in results.json):
  evaluate/boundary.py
- F-measure, E-measure alignment, the mean curves, maxF/meanF/maxE/meanE, AP and AUC: evaluate/measures.py
- the image counts of each metric (Images: the SOD metrics' n_images and the calibration table's
  n_images_calibration), empty and constant sets, and the notes: evaluate/runner.py

{described}
"""


def write_reports(out_dir: Path, scores: Sequence[DatasetScore], n_bins: int, protocol: Protocol) -> list[Path]:
    """Write ``results.md``, ``results.csv``, ``results.json`` and ``curves.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    results = {s.name: s.metrics for s in scores}

    json_path = out_dir / REPORT_JSON
    # allow_nan=False: a NaN would be invalid JSON, better to fail loudly than write it.
    json_path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")

    curves_path = out_dir / CURVES_JSON
    curves = {s.name: s.curves for s in scores if s.curves is not None}
    curves_path.write_text(json.dumps({"protocol": protocol.name, "sets": curves}, allow_nan=False) + "\n")

    csv_path = out_dir / "results.csv"
    keys = list(dict.fromkeys(key for s in scores for key in s.metrics))
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", *keys])
        for s in scores:
            writer.writerow([s.name, *("" if s.metrics.get(k) is None else s.metrics[k] for k in keys)])

    md_path = out_dir / "results.md"
    diagrams = [diagram for s in scores for diagram in s.diagrams]
    plots = "\n\n".join(
        [f"![all datasets, {maps.title}]({combined_plot_name(maps)})" for maps in combined_figures(diagrams)]
        + [f"![{d.dataset}, {d.title}]({d.file_name})" for s in scores for d in s.diagrams]
    )
    md_path.write_text(
        f"# Evaluation results ({protocol.name} protocol)\n\n"
        + "".join(f"## {title}\n\n{body}\n\n" for title, body in _sections(scores, n_bins, protocol))
        + "## Definitions\n\n"
        + _definitions(protocol)
        + f"\n## Reliability diagrams\n\n{plots}\n"
    )
    return [md_path, csv_path, json_path, curves_path]
