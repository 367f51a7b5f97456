"""Presenting scores: the printed tables and the ``results.md``, ``.csv`` and ``.json`` files.

``results.json`` maps each dataset name to its metric dictionary with values as
fractions (``null`` where not applicable) and the protocol's name under
``"protocol"``; the metric names are the same under both protocols.
``results.csv`` holds the same numbers, one row per dataset; ``results.md``
and the printed output show two tables (calibration in percent, SOD metrics as
fractions) whose titles name the protocol and what sets it apart, the notes
about skipped, converted or resized files, the definitions of both protocols
and the reliability diagrams.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COMBINED_PLOT = "reliability_all.png"
REPORT_JSON = "results.json"
_REPORT_FILES = ("results.md", "results.csv", REPORT_JSON)


@dataclass(frozen=True)
class DatasetScore:
    """The scores of one dataset: its ``results.json`` entry, pooled level counts, inputs and notes."""

    name: str
    metrics: dict[str, float | int | None]
    counts: np.ndarray
    notes: list[str]
    pred_dir: Path
    gt_dir: Path


def reliability_plot_name(dataset: str) -> str:
    """File name of a dataset's reliability diagram (safe for any dataset name)."""
    return f"reliability_{re.sub(r'[^A-Za-z0-9_.-]', '_', dataset)}.png"


def is_report_output(name: str) -> bool:
    """Whether a file name is one this module or the reliability diagrams write."""
    return name in _REPORT_FILES or re.fullmatch(r"reliability_.*\.png", name) is not None


def _percent(value: float | int | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _fraction(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _four_digits(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _count(value: float | int | None) -> str:
    return "n/a" if value is None else str(value)


Column = tuple[str, str, Callable[[float | int | None], str]]
CALIBRATION_COLUMNS: list[Column] = [
    ("Images", "n_images", _count),
    ("ECE %", "ECE", _percent),
    ("OE %", "OE", _percent),
    ("ACC %", "ACC", _percent),
    ("AECE %", "AECE", _percent),
    ("dECE(l2) %", "dECE", _percent),
    ("NLL", "NLL", _four_digits),
    ("Brier", "Brier", _four_digits),
    ("img ECE % mean", "ECE_img_mean", _percent),
    ("median", "ECE_img_median", _percent),
    ("p90", "ECE_img_p90", _percent),
]
PAPER_CALIBRATION_COLUMNS: list[Column] = [
    ("Images", "n_images", _count),
    ("ECE %", "ECE", _percent),
    ("OE %", "OE", _percent),
    ("ACC %", "ACC", _percent),
]
RAW_COLUMNS: list[Column] = [
    ("raw p: ECE %", "calibrated_ECE", _percent),
    ("OE %", "calibrated_OE", _percent),
    ("ACC %", "calibrated_ACC", _percent),
]
SOD_COLUMNS: list[Column] = [
    ("Images", "n_images", _count),
    ("maxF", "maxF", _fraction),
    ("meanF", "meanF", _fraction),
    ("adpF", "adpF", _fraction),
    ("wF", "wF", _fraction),
    ("MAE", "MAE", _fraction),
    ("S", "S", _fraction),
    ("maxE", "maxE", _fraction),
    ("meanE", "meanE", _fraction),
    ("adpE", "adpE", _fraction),
    ("AP", "AP", _fraction),
    ("AUC", "AUC", _fraction),
    ("mean saliency", "mean_saliency", _fraction),
]
PAPER_SOD_COLUMNS: list[Column] = [column for column in SOD_COLUMNS if column[1] not in ("adpF", "wF", "adpE")]


def _table(scores: Sequence[DatasetScore], columns: list[Column]) -> str:
    header = ["Dataset"] + [title for title, _, _ in columns]
    rows = [[s.name] + [fmt(s.metrics.get(key)) for _, key, fmt in columns] for s in scores]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _notes(scores: Sequence[DatasetScore]) -> str:
    lines = [f"- {s.name}: {note}" for s in scores for note in s.notes]
    return "\n".join(lines) if lines else "- none: every file was paired, read as 8-bit grey and had matching sizes"


def _sections(scores: Sequence[DatasetScore], n_bins: int, protocol: str) -> list[tuple[str, str]]:
    if protocol == "paper":
        has_raw = any(s.metrics.get("calibrated_ECE") is not None for s in scores)
        tables = [
            (
                f"Calibration, paper protocol (the authors' ECE_EW on the maps as written, normally stretched "
                f"per image; prediction >= 128 compared with the raw mask value, so soft mask pixels count as "
                f"wrong; {n_bins} equal-width bins"
                + ("; raw p: the raw round(255 p) maps under the calibrated protocol)" if has_raw else ")"),
                _table(scores, PAPER_CALIBRATION_COLUMNS + (RAW_COLUMNS if has_raw else [])),
            ),
            (
                "Saliency metrics, paper protocol (the authors' SOD_Evaluation_Tool: soft masks, maps "
                "min-max stretched except for MAE, 255 thresholds; n/a on sets whose masks are all empty)",
                _table(scores, PAPER_SOD_COLUMNS),
            ),
        ]
    else:
        tables = [
            (
                f"Calibration, calibrated protocol (raw probability maps, masks thresholded at 128, pixels "
                f"pooled per set; ECE/OE/dECE: {n_bins} equal-width bins, AECE: 15 equal-mass bins; img ECE: "
                "distribution of per-image ECE)",
                _table(scores, CALIBRATION_COLUMNS),
            ),
            (
                "Saliency metrics, calibrated protocol (PySODMetrics definitions, binary masks gt > 128; AP and "
                "AUC from the same 256-threshold curves; n/a on sets whose masks are all empty)",
                _table(scores, SOD_COLUMNS),
            ),
        ]
    return tables + [
        ("Notes", _notes(scores)),
        ("Inputs", "\n".join(f"- {s.name}: predictions {s.pred_dir}, masks {s.gt_dir}" for s in scores)),
    ]


def format_tables(scores: Sequence[DatasetScore], n_bins: int, protocol: str) -> str:
    """Format the calibration and SOD tables, notes and inputs as printed after scoring."""
    return "\n\n".join(f"{title}\n\n{body}" for title, body in _sections(scores, n_bins, protocol))


_DEFINITIONS = """\
Each set's results.json entry names its protocol under "protocol"; metric names are the same in both.

**Paper protocol** (default; what the authors' code computes, on the maps as they write them: each map
min-max stretched to 0..255 per image):
- ECE, OE, ACC (their ECE_EW): pixels of all images pooled; p = v/255, decision foreground iff v >= 128,
  confidence c = max(p, 1 - p) in B = {n_bins} equal-width bins (j/B, (j+1)/B]. A pixel is correct iff
  (v >= 128 and mask = 255) or (v < 128 and mask = 0): the binarised prediction is compared with the raw mask
  value, so every soft mask pixel (1..254) counts as wrong. ECE = sum_j n_j/N |conf_j - acc_j|;
  OE = sum_j n_j/N conf_j max(conf_j - acc_j, 0). A map of another size than its mask is left out, as theirs.
- SOD metrics (their SOD_Evaluation_Tool), per image then averaged: masks soft, y = gt/255; MAE = mean |p - y|
  on the map as read; for the rest the map is stretched, s = (p - min)/(max - min); 255 thresholds
  linspace(0, 1 - 1e-10, 255); precision = sum(y over s >= t)/#(s >= t), recall = TPR = that sum/sum(y),
  FPR = sum(1 - y over s >= t)/sum(1 - y); F = 1.3 P R/(0.3 P + R); E-measure with the soft mask's
  deviation from its mean; max/mean over the 255 thresholds of the mean curves. S-measure (alpha 0.5) with the
  mask thresholded at 0.5 and the centroid rounded, 0-based (no + 1). A prediction of another size is resized
  to its mask (PIL bilinear). adpF, wF, adpE, AECE, dECE, NLL, Brier and img ECE are not computed (n/a).
- calibrated_ECE / calibrated_OE / calibrated_ACC: with a folder of raw round(255 p) maps, their ECE, OE and
  ACC under the calibrated protocol.

**Calibrated protocol** (raw probability maps round(255 p)):
- Pixels of all images of a set are pooled. A pixel's prediction p = v/255 (v the 8-bit level) is
  foreground iff v >= 128; the mask is foreground iff gt >= 128. ACC is the fraction of pixels whose
  decision matches the mask.
- Confidence c = max(p, 1 - p), in [0.5, 1]. Bin j = (j/B, (j+1)/B] (B = {n_bins}; bin membership decided
  exactly on the 8-bit level). ECE = sum_j n_j/N |conf_j - acc_j|; OE = sum_j n_j/N conf_j max(conf_j - acc_j, 0).
- AECE: the same formula on 15 equal-mass bins; a confidence level is never split, it goes whole to the bin
  holding its middle pixel.
- dECE: sqrt of the debiased squared l2 calibration error of Kumar et al. (2019) on the B bins:
  sum_j n_j/N ((conf_j - acc_j)^2 - acc_j (1 - acc_j)/(n_j - 1)), clamped at 0.
- NLL: mean binary cross-entropy with p clamped to [1/510, 1 - 1/510]; Brier: mean (p - y)^2.
- img ECE: ECE of each image on its own; mean, median and 90th percentile over images.
- maxF/meanF/adpF (beta^2 = 0.3), wF, MAE, S, maxE/meanE/adpE: PySODMetrics' definitions (mask gt > 128,
  prediction min-max normalised per image), averaged over images. AP and AUC: from the per-image precision,
  recall (TPR) and FPR at the same 256 thresholds, averaged over images.

**Both**: AP = area under the mean precision-recall curve with the VOC precision envelope (each precision
raised to the highest at equal or higher recall; recall padded with 0 and 1); AUC = trapezoid area under the
mean ROC curve, points sorted by FPR. Mean saliency: mean of p over the pooled pixels, the false-positive mass
on sets with empty masks. F, S, AP and AUC are n/a on sets whose masks are all empty.
"""


def write_reports(out_dir: Path, scores: Sequence[DatasetScore], n_bins: int, protocol: str) -> list[Path]:
    """Write ``results.md``, ``results.csv`` and ``results.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    results = {s.name: s.metrics for s in scores}

    json_path = out_dir / REPORT_JSON
    # allow_nan=False: a NaN would be invalid JSON, better to fail loudly than write it.
    json_path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")

    csv_path = out_dir / "results.csv"
    keys = list(dict.fromkeys(key for s in scores for key in s.metrics))
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", *keys])
        for s in scores:
            writer.writerow([s.name, *("" if s.metrics.get(k) is None else s.metrics[k] for k in keys)])

    md_path = out_dir / "results.md"
    plots = "\n\n".join(f"![{s.name}]({reliability_plot_name(s.name)})" for s in scores if s.counts.sum() > 0)
    md_path.write_text(
        f"# Evaluation results ({protocol} protocol)\n\n"
        + "".join(f"## {title}\n\n{body}\n\n" for title, body in _sections(scores, n_bins, protocol))
        + "## Definitions\n\n"
        + _DEFINITIONS.format(n_bins=n_bins)
        + f"\n## Reliability diagrams\n\n![all datasets]({COMBINED_PLOT})\n\n{plots}\n"
    )
    return [md_path, csv_path, json_path]
