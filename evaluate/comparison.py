"""The comparison table of several methods' results.json files, over one or several seeds.

Rows are methods; columns are datasets x (ECE, OE, ACC, maxF, and under the paper protocol also the
calibrated ECE / OE / ACC of the raw probabilities), then a mean over the in-distribution sets and one over
the out-of-distribution sets (those whose masks are all empty; only for groups of two or more sets).
With several seeds each cell is mean ± sample standard deviation over the seeds, and a cell whose
runs overlap BCE's (the ranges over seeds intersect) is marked: that difference is within the
run-to-run spread, not evidence. The best mean of each column is in bold.
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

# (metric, header, lower is better, scale, format)
COLUMNS = (("ECE", "ECE %", True, 100.0, "{:.2f}"), ("OE", "OE %", True, 100.0, "{:.2f}"),
           ("ACC", "ACC %", False, 100.0, "{:.2f}"), ("maxF", "maxF", False, 1.0, "{:.3f}"),
           ("calibrated_ECE", "ECE % (raw p)", True, 100.0, "{:.2f}"),
           ("calibrated_OE", "OE % (raw p)", True, 100.0, "{:.2f}"),
           ("calibrated_ACC", "ACC % (raw p)", False, 100.0, "{:.2f}"))
ID_MEAN, OOD_MEAN = "mean (in-dist.)", "mean (OOD)"
REFERENCE = "BCE"
WITHIN_SPREAD = "~"
PROTOCOL_NOTES = {
    "paper": "paper protocol: the authors' per-image stretched maps scored against raw mask values (soft mask "
             "pixels count as wrong); 'raw p' columns: the raw probabilities under the calibrated protocol",
    "calibrated": "calibrated protocol: raw probabilities round(255 p) scored against masks thresholded at 128",
}

Runs = dict[str, dict[int, dict[str, dict]]]  # method -> seed -> dataset -> metrics (results.json)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _groups(runs: Runs) -> tuple[list[str], list[str]]:
    """(datasets in order, out-of-distribution datasets: those no run has an F-measure for)."""
    results = [per_seed for per_method in runs.values() for per_seed in per_method.values()]
    datasets = list(dict.fromkeys(name for result in results for name in result))
    ood = [d for d in datasets if all(r.get(d, {}).get("maxF") is None for r in results)]
    return datasets, ood


def run_row(result: dict[str, dict], datasets: list[str], ood: list[str]) -> dict[str, dict[str, float | None]]:
    """group -> metric -> value of one run: each dataset, then the ID and OOD means."""
    row = {d: {m: result.get(d, {}).get(m) for m, *_ in COLUMNS} for d in datasets}
    in_dist = [d for d in datasets if d not in ood]
    for label, group in ((ID_MEAN, in_dist), (OOD_MEAN, ood)):
        if len(group) > 1:  # the mean of one set would only repeat its columns
            row[label] = {m: _mean([row[d][m] for d in group]) for m, *_ in COLUMNS}
    return row


def summarise(values: list[float | None]) -> dict[str, float | int] | None:
    """mean, sample std (0 for one run), min, max and count of the values present; None if none is."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    std = statistics.stdev(present) if len(present) > 1 else 0.0
    return {"mean": statistics.fmean(present), "std": std, "min": min(present), "max": max(present),
            "n": len(present)}


def comparison_table(runs: Runs) -> dict[str, dict[str, dict[str, dict | None]]]:
    """method -> group -> metric -> summary over the method's seeds (see `summarise`)."""
    datasets, ood = _groups(runs)
    table = {}
    for method, per_seed in runs.items():
        rows = [run_row(result, datasets, ood) for result in per_seed.values()]
        table[method] = {group: {m: summarise([row[group][m] for row in rows]) for m, *_ in COLUMNS}
                         for group in rows[0]}
    return table


def best_methods(table: dict[str, dict[str, dict]]) -> dict[tuple[str, str], set[str]]:
    """(group, metric) -> the methods with the best mean (ties all marked)."""
    best = {}
    groups = next(iter(table.values())).keys() if table else []
    for group in groups:
        for metric, _, lower, *_ in COLUMNS:
            scored = {m: row[group][metric]["mean"] for m, row in table.items() if row[group][metric] is not None}
            if scored:
                target = (min if lower else max)(scored.values())
                best[(group, metric)] = {m for m, v in scored.items() if math.isclose(v, target, rel_tol=1e-12)}
    return best


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


def _cell(summary: dict | None, scale: float, fmt: str) -> str:
    if summary is None:
        return "n/a"
    text = fmt.format(summary["mean"] * scale)
    return f"{text} ± {fmt.format(summary['std'] * scale)}" if summary["n"] > 1 else text


def write_comparison(runs: Runs, out_dir: Path, protocol: str) -> str:
    """Write comparison.md/.csv/.json into `out_dir` and return the Markdown table.

    `runs` maps method -> seed -> the run's results.json content; `protocol` names the protocol the
    results were computed under, stated above the table. The CSV and JSON keep one row per method
    and seed (fractions, unrounded), and the JSON also the summaries."""
    table = comparison_table(runs)
    best, marked = best_methods(table), within_spread(table)
    groups = list(next(iter(table.values())).keys())
    present = [(g, c) for g in groups for c in COLUMNS if any(row[g][c[0]] is not None for row in table.values())]
    header = ["Method"] + [f"{g} {c[1]}" for g, c in present]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(present)) + "|"]
    for method, row in table.items():
        cells = [method]
        for group, (metric, _, _, scale, fmt) in present:
            text = _cell(row[group][metric], scale, fmt)
            if method in best.get((group, metric), ()):
                text = f"**{text}**"
            cells.append(text + (f" {WITHIN_SPREAD}" if (method, group, metric) in marked else ""))
        lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted({seed for per_seed in runs.values() for seed in per_seed})
    several = any(len(per_seed) > 1 for per_seed in runs.values())
    notes = [f"Protocol: {PROTOCOL_NOTES.get(protocol, protocol)}.",
             f"Seeds: {', '.join(map(str, seeds))}" + ("; cells are mean ± sample standard deviation over seeds."
                                                       if several else "."),
             "Bold: best mean of the column (lowest ECE/OE, highest ACC/maxF)."]
    if several and REFERENCE in table:
        notes.append(f"{WITHIN_SPREAD}: the method's runs overlap {REFERENCE}'s (their ranges over seeds "
                     f"intersect): the difference from {REFERENCE} is within the run-to-run spread.")
    markdown = "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.md").write_text(markdown)

    datasets, ood = _groups(runs)
    per_run = {method: {seed: run_row(result, datasets, ood) for seed, result in per_seed.items()}
               for method, per_seed in runs.items()}
    with open(out_dir / "comparison.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "seed", "protocol"] + [f"{g} {c[0]}" for g, c in present])
        for method, per_seed in per_run.items():
            for seed, row in per_seed.items():
                writer.writerow([method, seed, protocol] + ["" if row[g][c[0]] is None else f"{row[g][c[0]]:.6g}"
                                                            for g, c in present])
    (out_dir / "comparison.json").write_text(json.dumps(
        {"protocol": protocol, "seeds": seeds, "summary": table,
         "runs": [{"method": m, "seed": s, "metrics": row} for m, per_seed in per_run.items() for s, row in per_seed.items()]},
        indent=1) + "\n")
    return markdown
