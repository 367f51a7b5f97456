"""The shift table and figure: how each method's calibration holds up when its test photos are corrupted.

From the runs' results (method -> seed -> set -> metrics, the corrupted sets named `<set>@<corruption>-<severity>`,
`data.corruptions`), for each test set that has corrupted copies: ECE, with OE, ACC and maxF beside it,
on the clean set and then at each severity averaged over the corruptions, with the spread over the
corruptions as their [min–max]; a breakdown by family (noise, blur, weather, digital); and the figure
in the style of Ovadia et al. (NeurIPS 2019): the metric against severity, one box per method over the
corruptions, ECE and ACC side by side. With several seeds each corrupted set's value is first averaged
over the seeds (the clean cell shows mean ± std over seeds). Titles and units come from the metric
table (`metrics.table`); where the runs scored probability maps beside the test maps (the paper
protocol), the calibration columns are those of the probability maps, and say so.

Written as shift.md, shift.csv (one row per run, set and metric, fractions) and shift.json (the
summaries), and shift.png.
"""
from __future__ import annotations

import csv
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from data.corruptions import CORRUPTIONS, FAMILIES, ShiftedSet, describe, parse_shifted
from common import atomic
from common.text import counted
from metrics.table import column_title, metric_of, result_key

SHIFT_KEYS = ("ECE", "OE", "ACC", "maxF")  # the table's metrics; ECE leads and is drawn with ACC
CALIBRATOR_NOTE = ("Post-hoc calibrators (TS, LTS, SEL, ...) stay fitted on the clean validation split, as a user "
                   "would fit them: the corrupted photos are test photos only, never seen by a fit.")
Runs = dict[str, dict[int, dict[str, dict]]]  # method -> seed -> set -> metrics (results.json)


@dataclass(frozen=True)
class Spread:
    """A metric over several corrupted sets: their mean, least and greatest value, and how many."""

    mean: float
    low: float
    high: float
    n: int


def _spread(values: list[float | None]) -> Spread | None:
    present = [v for v in values if v is not None]
    return Spread(statistics.fmean(present), min(present), max(present), len(present)) if present else None


def _seed_mean(per_seed: dict[int, dict[str, dict]], name: str, key: str) -> float | None:
    present = [result[name][key] for result in per_seed.values() if result.get(name, {}).get(key) is not None]
    return statistics.fmean(present) if present else None


def shifted_by_source(runs: Runs) -> dict[str, list[ShiftedSet]]:
    """source set -> its corrupted copies that some run scored, in the order first met."""
    found: dict[str, list[ShiftedSet]] = {}
    for per_seed in runs.values():
        for result in per_seed.values():
            for shifted in filter(None, map(parse_shifted, result)):
                if shifted not in found.setdefault(shifted.source, []):
                    found[shifted.source].append(shifted)
    return found


def metric_keys(runs: Runs) -> dict[str, str]:
    """metric -> the results.json key the shift table reads: the probability maps' where runs have them."""
    results = [metrics for per_seed in runs.values() for result in per_seed.values() for metrics in result.values()]
    keys = {}
    for key in SHIFT_KEYS:
        probability_key = result_key(key, probabilities=True)
        keys[key] = probability_key if any(m.get(probability_key) is not None for m in results) else key
    return keys


def summarise(runs: Runs, source: str, shifted: list[ShiftedSet], keys: dict[str, str]) -> dict[str, dict]:
    """method -> {"clean": key -> mean/std over seeds, "severity": s -> key -> Spread over the corruptions,
    "family": family -> key -> Spread over its corruptions and severities, "sets": name -> key -> seed mean}."""
    severities = sorted({s.severity for s in shifted})
    summary = {}
    for method, per_seed in runs.items():
        sets = {s.name: {key: _seed_mean(per_seed, s.name, column) for key, column in keys.items()} for s in shifted}
        clean = {}
        for key, column in keys.items():
            values = [r[source][column] for r in per_seed.values() if r.get(source, {}).get(column) is not None]
            clean[key] = ({"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                           "n": len(values), "values": values} if values else None)
        by_severity = {level: {key: _spread([sets[s.name][key] for s in shifted if s.severity == level]) for key in keys}
                       for level in severities}
        by_family = {family: {key: _spread([sets[s.name][key] for s in shifted if s.family == family]) for key in keys}
                     for family in FAMILIES if any(s.family == family for s in shifted)}
        summary[method] = {"clean": clean, "severity": by_severity, "family": by_family, "sets": sets}
    return summary


def _number(value: float, key: str) -> str:
    metric = metric_of(key)
    return f"{value * (100 if metric.unit == '%' else 1):.{metric.digits}f}"


def _clean_cell(clean: dict | None, key: str) -> str:
    if clean is None:
        return "n/a"
    return _number(clean["mean"], key) + (f" ± {_number(clean['std'], key)}" if clean["n"] > 1 else "")


def _spread_cell(spread: Spread | None, key: str) -> str:
    if spread is None:
        return "n/a"
    if spread.n == 1:
        return _number(spread.mean, key)
    return f"{_number(spread.mean, key)} [{_number(spread.low, key)}–{_number(spread.high, key)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def _title(key: str, keys: dict[str, str]) -> str:
    return column_title(key, probabilities=keys[key] != key)


def source_markdown(source: str, shifted: list[ShiftedSet], summary: dict[str, dict], keys: dict[str, str]) -> str:
    """The Markdown section of one test set: a table per metric by severity, then ECE by family."""
    corruptions = tuple(dict.fromkeys(s.corruption for s in shifted))
    severities = sorted({s.severity for s in shifted})
    seeds = max((clean["n"] for m in summary.values() for clean in m["clean"].values() if clean), default=1)
    lines = [f"## {source}", "",
             f"{source} clean, then at each severity the mean over {counted(len(corruptions), 'corruption')} "
             f"({describe(corruptions)}) with [min–max over the corruptions]"
             + (f"; each corrupted set's value is first the mean over the seeds, the clean cell mean ± std over "
                f"{seeds} seeds." if seeds > 1 else ".")]
    for key in SHIFT_KEYS:
        if not any(m["clean"][key] or any(m["severity"][s][key] for s in severities) for m in summary.values()):
            continue  # e.g. maxF of a set without objects
        header = ["Method", "clean", *(f"severity {s}" for s in severities)]
        rows = [[method, _clean_cell(m["clean"][key], key), *(_spread_cell(m["severity"][s][key], key)
                                                              for s in severities)] for method, m in summary.items()]
        lines += ["", f"### {_title(key, keys)}", "", *_table(header, rows)]
    families = list(next(iter(summary.values()))["family"])
    key = SHIFT_KEYS[0]
    rows = [[method, *(_spread_cell(m["family"][f][key], key) for f in families)] for method, m in summary.items()]
    lines += ["", f"### {_title(key, keys)} by family: mean over its corruptions and severities "
              "[min–max over them]", "", *_table(["Method", *families], rows)]
    return "\n".join(lines) + "\n"


def write_shift(runs: Runs, out_dir: Path, protocol_name: str) -> str | None:
    """Write shift.md/.csv/.json/.png into `out_dir` for the runs' corrupted sets and return the Markdown
    (None, writing nothing, when no run scored a corrupted set)."""
    by_source = shifted_by_source(runs)
    if not by_source:
        return None
    keys = metric_keys(runs)
    summaries = {source: summarise(runs, source, shifted, keys) for source, shifted in by_source.items()}
    slow = [c.name for c in CORRUPTIONS.values() if c.slow]
    markdown = "\n".join([
        "# Calibration under shift", "",
        f"Protocol: {protocol_name}. {CALIBRATOR_NOTE}",
        "Corrupted photos: the `imagecorruptions` package (ImageNet-C), at each photo's own size before the "
        f"network's resize, seeded per photo (data/corruptions.py; {', '.join(slow)} only when named).",
        "Figure: [shift.png](shift.png), beside this table (ECE and ACC against severity).", "",
        *(source_markdown(source, by_source[source], summaries[source], keys) for source in by_source)])
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out_dir / "shift.md", markdown)
    as_json = {source: {method: {**m, "severity": {s: {k: v and asdict(v) for k, v in cells.items()}
                                                   for s, cells in m["severity"].items()},
                                 "family": {f: {k: v and asdict(v) for k, v in cells.items()}
                                            for f, cells in m["family"].items()}}
                        for method, m in summary.items()} for source, summary in summaries.items()}
    atomic.write_text(out_dir / "shift.json", json.dumps({"protocol": protocol_name, "keys": keys, "spread": "min-max "
                                                         "over the corruptions", "summary": as_json}, indent=1) + "\n")
    _write_csv(runs, by_source, keys, out_dir / "shift.csv")
    from report.shift_figure import save_shift_figure

    save_shift_figure(summaries, by_source, keys, out_dir / "shift.png")
    return markdown


def _write_csv(runs: Runs, by_source: dict[str, list[ShiftedSet]], keys: dict[str, str], path: Path) -> None:
    with atomic.opened(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "seed", "set", "corruption", "family", "severity", "metric", "value"])
        for method, per_seed in runs.items():
            for seed, result in per_seed.items():
                for source, shifted in by_source.items():
                    for name, s in [(source, None), *((s.name, s) for s in shifted)]:
                        for column in keys.values():
                            value = result.get(name, {}).get(column)
                            writer.writerow([method, seed, source, s.corruption if s else "clean",
                                             s.family if s else "", s.severity if s else 0, column,
                                             "" if value is None else f"{value:.6g}"])
