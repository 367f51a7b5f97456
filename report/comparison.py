"""The comparison table of several methods' results.json files, over one or several seeds.

Rows are methods; columns are datasets x the metrics the metric table marks for comparison over the
whole set (`metrics.table`, `Metric.compared`: ECE, OE, ACC, maxF, and under the paper protocol also
the probability maps' ECE / OE / ACC, the 'probabilities' columns), then a mean over the
in-distribution sets and one over the out-of-distribution sets (those whose masks are all empty; only
for groups of two or more sets). A second table says where the miscalibration is: the metrics marked
for the boundary band, the rest (`metrics.boundary`) and the images' own values, of the probability
maps. Titles, units and which way is better come from the metric table.
With several seeds each cell is mean ± sample standard deviation over the seeds, and a cell whose
runs overlap BCE's (the ranges over seeds intersect) is marked: that difference is within the
run-to-run spread, not evidence. A method whose every value equals BCE's (it trained exactly as BCE:
an ASLP run that perturbed no label) is marked after its name, with a note. The best mean of each
column is in bold (and in the LaTeX table the second best underlined). Written as
comparison.md/.csv/.json/.tex (the LaTeX tables cut into parts that fit a page's width: `report.latex`), and with
the runs' curves.json contents the SOD curves of every method in curves/ (`report.curves`).
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from metrics.table import BOUNDARY, IMAGE, METRICS, REST, SET, Metric, column_title, result_key
from report.curves import CURVES_FOLDER, save_sod_curves
from common import atomic
from report.latex import LATEX_PREAMBLE, latex_tables

if TYPE_CHECKING:
    from protocol import Protocol


@dataclass(frozen=True)
class Column:
    """One column of a comparison table: a results.json key, its title, and the metric entry that says
    how to format it and which way is better; `heading` is the title without the maps it is of (the
    LaTeX tables name the probability maps once, over the columns, to keep them narrow)."""

    key: str
    title: str
    metric: Metric
    heading: str
    probabilities: bool


BOLD_NOTE = "Bold: best mean of the column (the lowest error, the highest accuracy or F-measure)."


def table_columns(scopes: tuple[str, ...]) -> tuple[Column, ...]:
    """The columns the metric table marks for comparison (``Metric.compared``) in ``scopes``: those of the
    test maps, then those of the probability maps beside them (a column no run has is left out later)."""
    return tuple(
        Column(result_key(m.key, scope, probabilities=probabilities),
               column_title(m.key, scope, probabilities=probabilities), m, column_title(m.key, scope), probabilities)
        for probabilities in (False, True)
        for scope in scopes
        for m in METRICS.values()
        if scope in m.compared and (m.from_counts is not None or not probabilities)
    )


COLUMNS = table_columns((SET,))
# Where the miscalibration is: the boundary band, the rest, and the images' own values.
LOCATION_COLUMNS = table_columns((BOUNDARY, REST, IMAGE))
Columns = tuple[Column, ...]
ID_MEAN, OOD_MEAN = "mean (in-dist.)", "mean (OOD)"
REFERENCE = "BCE"
WITHIN_SPREAD = "~"
SAME_AS_REFERENCE = f"(= {REFERENCE})"  # after the name of a method whose row is the reference's, value for value
Runs = dict[str, dict[int, dict[str, dict]]]  # method -> seed -> dataset -> metrics (results.json)
Curves = dict[str, dict[int, dict]]  # method -> seed -> curves.json content


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _groups(runs: Runs) -> tuple[list[str], list[str]]:
    """(datasets in order, out-of-distribution datasets: those no run has an F-measure for)."""
    results = [per_seed for per_method in runs.values() for per_seed in per_method.values()]
    datasets = list(dict.fromkeys(name for result in results for name in result))
    ood = [d for d in datasets if all(r.get(d, {}).get("maxF") is None for r in results)]
    return datasets, ood


def run_row(result: dict[str, dict], datasets: list[str], ood: list[str],
            columns: Columns = COLUMNS) -> dict[str, dict[str, float | None]]:
    """group -> metric -> value of one run: each dataset, then the ID and OOD means."""
    row = {d: {c.key: result.get(d, {}).get(c.key) for c in columns} for d in datasets}
    in_dist = [d for d in datasets if d not in ood]
    for label, group in ((ID_MEAN, in_dist), (OOD_MEAN, ood)):
        if len(group) > 1:  # the mean of one set would only repeat its columns
            row[label] = {c.key: _mean([row[d][c.key] for d in group]) for c in columns}
    return row


def seed_summary(values: list[float | None]) -> dict[str, float | int] | None:
    """mean, sample std (0 for one run), min, max and count of the values present; None if none is."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    std = statistics.stdev(present) if len(present) > 1 else 0.0
    return {"mean": statistics.fmean(present), "std": std, "min": min(present), "max": max(present),
            "n": len(present)}


def comparison_table(runs: Runs, columns: Columns = COLUMNS) -> dict[str, dict[str, dict[str, dict | None]]]:
    """method -> group -> metric -> summary over the method's seeds (see `seed_summary`)."""
    datasets, ood = _groups(runs)
    table = {}
    for method, per_seed in runs.items():
        rows = [run_row(result, datasets, ood, columns) for result in per_seed.values()]
        table[method] = {group: {c.key: seed_summary([row[group][c.key] for row in rows]) for c in columns}
                         for group in rows[0]}
    return table


def column_ranks(table: dict[str, dict[str, dict]], columns: Columns = COLUMNS) -> dict[tuple[str, str], list[set[str]]]:
    """(group, metric) -> the methods by mean, best first, as tiers of methods with equal means (a tie
    shares its tier, and the next mean is the next tier: ranks do not depend on the methods' order)."""
    ranks = {}
    groups = next(iter(table.values())).keys() if table else []
    for group in groups:
        for column in columns:
            metric, lower = column.key, column.metric.lower_is_better
            if lower is None:
                continue
            scored = sorted(((row[group][metric]["mean"], m) for m, row in table.items()
                             if row[group][metric] is not None), reverse=not lower)
            tiers: list[tuple[float, set[str]]] = []
            for value, method in scored:
                if tiers and math.isclose(value, tiers[-1][0], rel_tol=1e-12):
                    tiers[-1][1].add(method)
                else:
                    tiers.append((value, {method}))
            if tiers:
                ranks[(group, metric)] = [methods for _, methods in tiers]
    return ranks


def within_spread(table: dict[str, dict[str, dict]], reference: str = REFERENCE) -> set[tuple[str, str, str]]:
    """(method, group, metric) whose range over seeds overlaps the reference method's, both having
    at least two runs: such a difference from the reference is within the run-to-run spread."""
    if reference not in table:
        return set()
    marked = set()
    for method, row in table.items():
        for group, metrics in row.items():
            for metric, summary in metrics.items():
                base = table[reference].get(group, {}).get(metric)
                if method == reference or summary is None or base is None or min(summary["n"], base["n"]) < 2:
                    continue
                if summary["min"] <= base["max"] and base["min"] <= summary["max"]:
                    marked.add((method, group, metric))
    return marked


def same_as_reference(runs: Runs, columns: Columns = COLUMNS + LOCATION_COLUMNS,
                      reference: str = REFERENCE) -> list[str]:
    """The methods other than `reference` whose every value equals the reference's, in every column,
    group and seed: each of their seeds is one of the reference's, and at least one value is present.
    Such a method trained exactly as the reference (an ASLP run that perturbed no label is BCE)."""
    if reference not in runs:
        return []
    datasets, ood = _groups(runs)
    rows = {method: {seed: run_row(result, datasets, ood, columns) for seed, result in per_seed.items()}
            for method, per_seed in runs.items()}

    def equal(a: float | None, b: float | None) -> bool:
        # The same computation gives the same floats; the tolerance only absorbs JSON round trips.
        return (a is None) == (b is None) and (a is None or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))

    same = []
    for method, per_seed in rows.items():
        if method == reference or not set(per_seed) <= set(rows[reference]):
            continue
        pairs = [(value, rows[reference][seed][group][key]) for seed, row in per_seed.items()
                 for group, values in row.items() for key, value in values.items()]
        if any(value is not None for value, _ in pairs) and all(equal(a, b) for a, b in pairs):
            same.append(method)
    return same


def _same_note(methods: list[str]) -> str:
    """Why rows can equal the reference's, and what to check."""
    which = methods[0] if len(methods) == 1 else f"each of {', '.join(methods)}"
    return (f"{SAME_AS_REFERENCE}: every value of {which} equals {REFERENCE}'s, in every column and "
            f"seed: it trained exactly as {REFERENCE}. A label-perturbation method (ASLP, SLP, DisturbLabel) does "
            "when it perturbed no label: ASLP's alpha first changes a label in epoch START_EPOCH + 2, and in a "
            "short run may stay too small to draw one. Check the perturbed_share column of that run's log.csv "
            "(in its folder beside this table): 0 in every epoch means no label was perturbed; train longer or "
            "lower START_EPOCH.")


def _cell(summary: dict | None, metric: Metric) -> str:
    if summary is None:
        return "n/a"
    text = metric.format(summary["mean"])
    return f"{text} ± {metric.format(summary['std'])}" if summary["n"] > 1 else text


def _rendered(
    table: dict[str, dict[str, dict]], columns: Columns, same: list[str],
) -> tuple[list[tuple[str, tuple]], dict[str, list], list[str]]:
    """One table of `columns` from `table` (`comparison_table` over at least those): its (group, column)
    pairs that some run has, row label -> cells (text, rank 0/1 for the best/second tier or None, within
    BCE's spread), and its Markdown lines. The labels of the methods in `same` carry SAME_AS_REFERENCE."""
    ranks, marked = column_ranks(table, columns), within_spread(table)
    groups = list(next(iter(table.values())).keys())
    present = [(g, c) for g in groups for c in columns if any(row[g][c.key] is not None for row in table.values())]
    rows = {}
    for method, row in table.items():
        cells = []
        for group, column in present:
            tiers = ranks.get((group, column.key), [])
            rank = next((index for index, tier in enumerate(tiers[:2]) if method in tier), None)
            cells.append((_cell(row[group][column.key], column.metric), rank, (method, group, column.key) in marked))
        rows[f"{method} {SAME_AS_REFERENCE}" if method in same else method] = cells
    header = ["Method"] + [f"{g} {c.title}" for g, c in present]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(present)) + "|"]
    for method, cells in rows.items():
        texts = [(f"**{text}**" if rank == 0 else text) + (f" {WITHIN_SPREAD}" if spread else "")
                 for text, rank, spread in cells]
        lines.append("| " + " | ".join([method] + texts) + " |")
    return present, rows, lines


def write_comparison(runs: Runs, out_dir: Path, protocol: Protocol, curves: Curves | None = None) -> str:
    """Write comparison.md/.csv/.json/.tex into `out_dir` and return the Markdown tables.

    `runs` maps method -> seed -> the run's results.json content; `protocol` is the protocol the
    results were computed under, described above the table. The CSV and JSON keep one row per method
    and seed (fractions, unrounded), and the JSON also the summaries. `curves` maps method -> seed ->
    the run's curves.json content: each method's precision-recall and F-measure curves, averaged over
    its seeds, are drawn into `out_dir`/curves/ (methods without curves are named in the notes)."""
    columns = COLUMNS + LOCATION_COLUMNS
    table = comparison_table(runs, columns)
    same = same_as_reference(runs, columns)
    present, rows, lines = _rendered(table, COLUMNS, same)
    location_present, location_rows, location_lines = _rendered(table, LOCATION_COLUMNS, same)
    seeds = sorted({seed for per_seed in runs.values() for seed in per_seed})
    several = any(len(per_seed) > 1 for per_seed in runs.values())
    notes = [f"Protocol: {protocol.name} protocol: {protocol.description.rstrip('.')}.",
             f"Seeds: {', '.join(map(str, seeds))}" + ("; cells are mean ± sample standard deviation over seeds."
                                                       if several else "."),
             BOLD_NOTE]
    mark_notes = [f"{WITHIN_SPREAD}: the method's runs overlap {REFERENCE}'s (their ranges over seeds "
                  f"intersect): the difference from {REFERENCE} is within the run-to-run spread."
                  ] if several and REFERENCE in runs else []
    mark_notes += [_same_note(same)] if same else []
    out_dir.mkdir(parents=True, exist_ok=True)
    curve_notes = []
    if curves:
        save_sod_curves({method: list(curves[method].values()) for method in runs if curves.get(method)},
                        out_dir / CURVES_FOLDER)
        without = [method for method in runs if not curves.get(method)]
        curve_notes.append(f"Precision-recall and F-measure curves: {out_dir / CURVES_FOLDER}"
                           + (f" (no curves.json for {', '.join(without)})." if without else "."))
    widths = sorted({metrics["boundary_width"] for per_seed in runs.values() for result in per_seed.values()
                     for metrics in result.values() if metrics.get("boundary_width") is not None})
    location_title = ("Where the miscalibration is: "
                      f"{', '.join(dict.fromkeys(c.metric.title for _, c in location_present))} of the pixels within "
                      f"{' / '.join(map(str, widths)) or '?'} px of a mask's object boundary (at the mask's "
                      "resolution), of the rest, and the images' own values (metrics/boundary.py, metrics/table.py).")
    markdown = "\n".join(lines) + "\n\n" + "\n".join(notes + mark_notes + curve_notes) + "\n"
    if location_present:
        markdown += "\n" + location_title + " " + BOLD_NOTE + "\n\n" + "\n".join(location_lines) + "\n"
    atomic.write_text(out_dir / "comparison.md", markdown)
    underline_note = "Underlined: second best mean (tied means share a mark)."
    latex = LATEX_PREAMBLE + latex_tables(rows, present, notes + [underline_note] + mark_notes, WITHIN_SPREAD)
    if location_present:
        location_notes = [location_title, BOLD_NOTE, underline_note] + mark_notes
        latex += "\n" + latex_tables(location_rows, location_present, location_notes, WITHIN_SPREAD)
    atomic.write_text(out_dir / "comparison.tex", latex)

    datasets, ood = _groups(runs)
    every = present + location_present
    per_run = {method: {seed: run_row(result, datasets, ood, columns) for seed, result in per_seed.items()}
               for method, per_seed in runs.items()}
    with atomic.opened(out_dir / "comparison.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "seed", "protocol"] + [f"{g} {c.key}" for g, c in every])
        for method, per_seed in per_run.items():
            for seed, row in per_seed.items():
                writer.writerow([method, seed, protocol.name] + ["" if row[g][c.key] is None else f"{row[g][c.key]:.6g}"
                                                                 for g, c in every])
    atomic.write_text(out_dir / "comparison.json", json.dumps(
        {"protocol": protocol.name, "seeds": seeds, "summary": table, "same_as_" + REFERENCE: same,
         "runs": [{"method": m, "seed": s, "metrics": row}
                  for m, per_seed in per_run.items() for s, row in per_seed.items()]},
        indent=1) + "\n")
    return markdown
