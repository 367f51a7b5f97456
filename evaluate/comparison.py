"""The comparison table of several methods' results.json files: rows = methods, columns =
datasets x (ECE, OE, ACC, maxF), a mean over the in-distribution sets and one over the
out-of-distribution sets (those whose masks are all empty; groups of two or more sets), the best
value of each column marked."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

# (metric, header, lower is better, scale, format)
COLUMNS = (("ECE", "ECE %", True, 100.0, "{:.2f}"), ("OE", "OE %", True, 100.0, "{:.2f}"),
           ("ACC", "ACC %", False, 100.0, "{:.2f}"), ("maxF", "maxF", False, 1.0, "{:.3f}"))
ID_MEAN, OOD_MEAN = "mean (in-dist.)", "mean (OOD)"


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def comparison_table(results: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """method -> group -> metric -> value, groups being each dataset, then the ID and OOD means.

    A dataset is out-of-distribution when no method has an F-measure for it (all masks empty)."""
    datasets = list(dict.fromkeys(name for per_method in results.values() for name in per_method))
    ood = [d for d in datasets if all(r.get(d, {}).get("maxF") is None for r in results.values())]
    in_dist = [d for d in datasets if d not in ood]
    table = {}
    for method, per_dataset in results.items():
        row = {d: {m: per_dataset.get(d, {}).get(m) for m, *_ in COLUMNS} for d in datasets}
        for label, group in ((ID_MEAN, in_dist), (OOD_MEAN, ood)):
            if len(group) > 1:  # the mean of one set would only repeat its columns
                row[label] = {m: _mean([row[d][m] for d in group]) for m, *_ in COLUMNS}
        table[method] = row
    return table


def best_methods(table: dict[str, dict[str, dict]]) -> dict[tuple[str, str], set[str]]:
    """(group, metric) -> the methods with the best value (ties all marked)."""
    best = {}
    groups = next(iter(table.values())).keys() if table else []
    for group in groups:
        for metric, _, lower, *_ in COLUMNS:
            scored = {m: row[group][metric] for m, row in table.items() if row[group][metric] is not None}
            if scored:
                target = (min if lower else max)(scored.values())
                best[(group, metric)] = {m for m, v in scored.items() if math.isclose(v, target, rel_tol=1e-12)}
    return best


def write_comparison(results: dict[str, dict[str, dict]], out_dir: Path) -> str:
    """Write comparison.md/.csv/.json into `out_dir` and return the Markdown table."""
    table = comparison_table(results)
    best = best_methods(table)
    groups = list(next(iter(table.values())).keys())
    present = [(g, c) for g in groups for c in COLUMNS if any(row[g][c[0]] is not None for row in table.values())]
    header = ["Method"] + [f"{g} {c[1]}" for g, c in present]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(present)) + "|"]
    csv_rows = [["method"] + [f"{g} {c[0]}" for g, c in present]]  # fractions, unrounded
    for method, row in table.items():
        cells, raw = [method], [method]
        for group, (metric, _, _, scale, fmt) in present:
            value = row[group][metric]
            text = "n/a" if value is None else fmt.format(value * scale)
            raw.append("" if value is None else f"{value:.6g}")
            cells.append(f"**{text}**" if method in best.get((group, metric), ()) else text)
        lines.append("| " + " | ".join(cells) + " |")
        csv_rows.append(raw)
    markdown = "\n".join(lines) + "\n\nBold: best value of the column (lowest ECE/OE, highest ACC/maxF).\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.md").write_text(markdown)
    with open(out_dir / "comparison.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(csv_rows)
    (out_dir / "comparison.json").write_text(json.dumps(table, indent=1) + "\n")
    return markdown
