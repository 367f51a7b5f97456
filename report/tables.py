"""Presenting scores: the printed tables and the ``results.md``, ``.csv`` and ``.json`` and ``curves.json`` files.

``results.json`` maps each dataset name to its metric dictionary with values as fractions (``null`` where
not applicable) and the protocol's name under ``"protocol"``; the keys are the same under every protocol
(:mod:`evaluate.runner`). ``results.csv`` holds the same numbers, one row per dataset. ``results.md`` and the
printed output show the tables the protocol has (:meth:`protocol.Protocol` says whether it scores probability
maps beside its test maps; :mod:`metrics.table` says which metric goes where, and titles every column), the
notes about skipped, converted or resized files, where each metric is defined, and the reliability diagrams.
``curves.json`` holds the mean precision, recall, F-measure and FPR curves of every set that has foreground,
against their thresholds: ``{"protocol": NAME, "sets": {SET: {"threshold": [...], "precision": [...],
"recall": [...], "f_measure": [...], "fpr": [...]}}}``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.text import joined
from metrics.table import (
    BOUNDARY, COUNTS, IMAGE, IMAGE_STATISTICS, METRICS, PROBABILITIES, REST, SET, Metric, binning, calibration_metrics,
    column_title, in_table_order, result_key, sod_metrics,
)
from protocol import AS_GIVEN, PROBABILITIES_AS_GIVEN, PROBABILITY_PROTOCOL, PROTOCOLS, MapKind, Protocol
from common import atomic
from report.names import IMAGES_CSV, PAGE, PICTURES_FOLDER, file_stem

REPORT_JSON = "results.json"
CURVES_JSON = "curves.json"
_REPORT_FILES = ("results.md", "results.csv", REPORT_JSON, CURVES_JSON, IMAGES_CSV, PAGE, PICTURES_FOLDER)


def reliability_plot_name(dataset: str, maps: MapKind) -> str:
    """File name of a dataset's reliability diagram of its ``maps`` (safe for any dataset name)."""
    return f"reliability_{file_stem(dataset)}_{maps.word}.png"


def combined_plot_name(maps: MapKind) -> str:
    """File name of the figure with every dataset's diagram of its ``maps`` side by side."""
    return f"reliability_{maps.word}_all_sets.png"


def is_report_output(name: str) -> bool:
    """Whether a file name is one this module, the reliability diagrams or the HTML report write (its
    folder of thumbnails included)."""
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
    probability_dir: Path | None = None
    maps: MapKind | None = None  # what the test maps are (their record's kind, or maps as given)
    probability_maps: MapKind | None = None  # likewise of the probability maps beside them, if any
    images: list = field(default_factory=list)  # each image's report.rows.ImageRow, in image order


Column = tuple[str, str, Metric]  # results.json key, title, the entry that formats it


def _count_column(key: str) -> Column:
    return key, column_title(key), COUNTS[key]


def _calibration_columns(protocol: str, scopes: tuple[str, ...], probabilities: bool) -> list[Column]:
    """The columns of the calibration metrics ``protocol`` reports in ``scopes`` (image: four statistics)."""
    columns = []
    for scope in scopes:
        statistics = IMAGE_STATISTICS if scope == IMAGE else ("mean",)
        columns += [
            (result_key(m.key, scope, statistic, probabilities), column_title(m.key, scope, statistic, probabilities), m)
            for m in calibration_metrics(protocol, scope)
            for statistic in statistics
        ]
    return columns


def _table(scores: Sequence[DatasetScore], columns: Sequence[Column]) -> str:
    header = ["Dataset"] + [title for _, title, _ in columns]
    rows = [[s.name] + [metric.format(s.metrics.get(key)) for key, _, metric in columns] for s in scores]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _notes(scores: Sequence[DatasetScore]) -> str:
    lines = [f"- {s.name}: {note}" for s in scores for note in s.notes]
    return "\n".join(lines) if lines else "- none: every file was paired, read as 8-bit grey and had matching sizes"


def _has_band(protocol: Protocol) -> bool:
    return bool(calibration_metrics(protocol.name, BOUNDARY))


def calibration_title(protocol: Protocol, n_bins: int) -> str:
    """The title of ``protocol``'s calibration table, naming its binned and per-image metrics from the table."""
    per_image = "/".join(m.title for m in calibration_metrics(protocol.name, IMAGE))
    return protocol.calibration_title.format(
        bins=binning(protocol.name, n_bins), per_image=f"per-image {per_image}: the distribution of the images' values"
    )


def sod_title(protocol: Protocol) -> str:
    """The title of ``protocol``'s SOD table, naming from the table the metrics n/a on a set of empty masks."""
    needs_foreground = joined([m.title for m in in_table_order(protocol.needs_foreground)])
    return protocol.sod_title.format(needs_foreground=needs_foreground)


def _sections(scores: Sequence[DatasetScore], n_bins: int, protocol: Protocol) -> list[tuple[str, str]]:
    """The protocol's tables, each (title, body), then the notes and the inputs."""
    as_given = [s.name for s in scores if s.maps == AS_GIVEN]
    given = (f"Maps as given ({', '.join(as_given)}: no maps.json says what they are, so they are scored as the "
             f"{protocol.name} protocol's {protocol.test_maps.title}). ") if as_given else ""
    sections = [(
        given + calibration_title(protocol, n_bins),
        _table(scores, [_count_column("n_images_calibration"), *_calibration_columns(protocol.name, (SET, IMAGE), False)]),
    )]
    # The maps whose band is reported: the test maps, and the probability maps beside them.
    banded = [(protocol, False)] if _has_band(protocol) else []
    if protocol.writes_probability_maps:
        probabilities_as_given = [s.name for s in scores if s.probability_maps == PROBABILITIES_AS_GIVEN]
        probability_title = (
            (f"Maps as given ({', '.join(probabilities_as_given)}: no maps.json says they are probability maps). "
             if probabilities_as_given else "")
            + f"Probability maps round(255 p), the '{PROBABILITIES}' columns: "
            + calibration_title(PROBABILITY_PROTOCOL, n_bins)
        )
        columns = [_count_column("n_images"), *_calibration_columns(PROBABILITY_PROTOCOL.name, (SET, IMAGE), True)]
        if any(s.probability_dir is not None for s in scores):
            sections.append((probability_title, _table(scores, columns)))
            banded += [(PROBABILITY_PROTOCOL, True)] if _has_band(PROBABILITY_PROTOCOL) else []
        else:
            sections.append((probability_title, _missing_probabilities(protocol, columns)))
    if banded:
        columns = [
            column
            for scored_by, probabilities in banded
            for column in [
                (result_key("boundary_fraction", probabilities=probabilities),
                 column_title("boundary_fraction", probabilities=probabilities), COUNTS["boundary_fraction"]),
                *_calibration_columns(scored_by.name, (BOUNDARY, REST), probabilities),
            ]
        ]
        sections.append((_boundary_title(scores, n_bins), _table(scores, columns)))
    sod_columns = [_count_column("n_images"), *((m.key, m.title, m) for m in sod_metrics(protocol.name))]
    return [
        *sections,
        (given + sod_title(protocol), _table(scores, sod_columns)),
        ("Notes", _notes(scores)),
        ("Inputs", "\n".join(_inputs(s) for s in scores)),
    ]


def _missing_probabilities(protocol: Protocol, columns: Sequence[Column]) -> str:
    titles = ", ".join(title for _, title, _ in columns[1:])
    return (
        f"n/a: no probability maps were given beside the {protocol.test_maps.title}, so these columns are missing: "
        f"{titles}. The test stage of the {protocol.name} protocol writes them into probabilities/ beside "
        "predictions/; score them with --probabilities (one set) or --probabilities-root (several)."
    )


def _inputs(score: DatasetScore) -> str:
    probabilities = f", probability maps {score.probability_dir}" if score.probability_dir is not None else ""
    return f"- {score.name}: predictions {score.pred_dir}, masks {score.gt_dir}{probabilities}"


def _boundary_title(scores: Sequence[DatasetScore], n_bins: int) -> str:
    width = scores[0].metrics["boundary_width"]
    return (
        f"Calibration in the boundary band ({width} px) and the rest (band: the pixels within {width} px of the "
        "boundary of the mask thresholded at 128, on both sides; rest: all other pixels; boundary pixels: the "
        f"band's share of the scored pixels; {n_bins} equal-width bins, pixels pooled per set; '{PROBABILITIES}': "
        f"the probability maps round(255 p) under the {PROBABILITY_PROTOCOL.name} protocol)"
    )


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
- every metric's key, title, unit, direction and where each protocol reports it: metrics/table.py
- which pixels count as correct, the test maps, and what each protocol's tables are: protocol.py
- {joined([m.title for m in METRICS.values() if m.from_counts is not None] + ["the per-image values"])}: \
metrics/calibration.py
- the boundary band and the rest (boundary pixels; the width: boundary_width in results.json): metrics/boundary.py
- F-measure, E-measure alignment, the mean curves, maxF/meanF/maxE/meanE, AP and AUC: metrics/measures.py
- the image counts of each metric (images: the SOD metrics' n_images and the calibration table's
  n_images_calibration), empty and constant sets: evaluate/runner.py; the notes: evaluate/notes.py

{described}
"""


def write_reports(out_dir: Path, scores: Sequence[DatasetScore], n_bins: int, protocol: Protocol) -> list[Path]:
    """Write ``results.md``, ``results.csv``, ``results.json`` and ``curves.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    results = {s.name: s.metrics for s in scores}

    json_path = out_dir / REPORT_JSON
    # allow_nan=False: a NaN would be invalid JSON, better to fail loudly than write it.
    atomic.write_text(json_path, json.dumps(results, indent=2, allow_nan=False) + "\n")

    curves_path = out_dir / CURVES_JSON
    curves = {s.name: s.curves for s in scores if s.curves is not None}
    atomic.write_text(curves_path, json.dumps({"protocol": protocol.name, "sets": curves}, allow_nan=False) + "\n")

    csv_path = out_dir / "results.csv"
    keys = list(dict.fromkeys(key for s in scores for key in s.metrics))
    with atomic.opened(csv_path, "w", newline="") as handle:
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
    atomic.write_text(
        md_path,
        f"# Evaluation results ({protocol.name} protocol)\n\n"
        + "".join(f"## {title}\n\n{body}\n\n" for title, body in _sections(scores, n_bins, protocol))
        + "## Definitions\n\n"
        + _definitions(protocol)
        + f"\n## Reliability diagrams\n\n{plots}\n"
    )
    return [md_path, csv_path, json_path, curves_path]
