"""The HTML report: ``report.html`` beside ``results.md`` (one scoring) and beside ``comparison.md`` (several runs).

One static page, written with jinja2 from ``templates/report.html.j2``, that opens from the file system with
no server and no network: its pictures are files under ``report_files/`` (and the figures beside it), named by
relative paths, so the folder can be moved or zipped whole. It shows

* the summary: the protocol and what its numbers mean, every value of ``results.json`` under its title and
  unit from the metric table (:mod:`metrics.table`), the notes, and the reliability diagrams and curves found
  beside the page;
* one row per image (:mod:`report.rows`), worst first by the image's ECE: photo, mask, map, error map and
  confidence map, the image's values and notes. A few lines of JavaScript sort by any column (first click:
  worst first), filter by name and show :data:`ROWS_PER_PAGE` rows at a time, whose pictures load lazily; the
  rows live in the page as JSON, so a set of thousands of images opens at once.

A comparison's page (:func:`write_comparison_page`) has one map column and one ECE column per method (each
method's first seed), and sorts by the difference of two methods' ECE.

The scoring writes ``report_files/page.json`` (the rows and notes) with the page; :func:`render_run_page`
renders the page again from it, e.g. once the run's curves are drawn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from common import atomic
from metrics.table import (
    COUNTS, IMAGE, IMAGE_STATISTICS, METRICS, PROBABILITIES, SCOPES, Metric, column_title, result_key,
)
from protocol import AS_GIVEN, Protocol, get_protocol
from report.names import PAGE, PICTURES_FOLDER, pictures_folder
from report.rows import COLOURS, PICTURES, ROW_COLUMNS, worst_first, write_images_csv
from report.tables import REPORT_JSON, DatasetScore, calibration_title, sod_title

PAGE_DATA = "page.json"  # in report_files/: what the page shows that results.json does not hold
ROWS_PER_PAGE = 50
RUN_FIGURES = ("reliability_*.png", "curves/*.png")
COMPARISON_FIGURES = ("*.png", "curves/*.png")
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["j2"]), trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class PictureColumn:
    """A column of thumbnails: its title, the folder of each set's thumbnails (relative to the page, by set
    index) and which picture of :data:`report.rows.PICTURES` it shows."""

    title: str
    folders: list[str]
    picture: str


def _titles() -> dict[str, tuple[str, Metric | None]]:
    """Every results.json key the metric table titles: key -> (title with unit, its entry)."""
    titles: dict[str, tuple[str, Metric | None]] = {}
    for metric in METRICS.values():
        for scope in SCOPES:
            for statistic in IMAGE_STATISTICS if scope == IMAGE else ("mean",):
                for probabilities in (False, True):
                    key = result_key(metric.key, scope, statistic, probabilities)
                    titles[key] = (column_title(metric.key, scope, statistic, probabilities), metric)
    for probabilities in (False, True):
        titles[result_key("boundary_fraction", probabilities=probabilities)] = (
            column_title("boundary_fraction", probabilities=probabilities), COUNTS["boundary_fraction"])
    titles["n_images"] = ("images", COUNTS["n_images"])
    titles["n_images_calibration"] = ("images in the calibration", COUNTS["n_images_calibration"])
    return titles


def _group(key: str, metric: Metric | None) -> str:
    """Which small table of the summary a results.json key goes to."""
    if key.startswith(f"{PROBABILITIES}_"):
        return "probability maps"
    if key.endswith(("_boundary", "_rest", "boundary_fraction")):
        return "boundary band and rest"
    if "_img_" in key:
        return "per image"
    if metric is not None and metric.from_sod is not None:
        return "SOD"
    return "calibration" if metric is not None and metric.from_counts is not None else "counts"


def _summary(results: dict[str, dict]) -> dict[str, list[dict]]:
    """The summary's small tables (by :func:`_group`), their rows: each results.json value some set has,
    titled, formatted and kept exact (``value``: what results.json holds, for the page's data attributes)."""
    titles = _titles()
    keys = [key for key in dict.fromkeys(k for metrics in results.values() for k in metrics)
            if key not in ("protocol", "maps") and any(m.get(key) is not None for m in results.values())]
    groups: dict[str, list[dict]] = {}
    for key in keys:
        title, metric = titles.get(key, (key.replace("_", " "), None))
        values = [metrics.get(key) for metrics in results.values()]
        cells = [(v, metric.format(v) if metric else "n/a" if v is None else str(v)) for v in values]
        groups.setdefault(_group(key, metric), []).append(
            {"key": key, "title": title, "cells": [{"value": json.dumps(v), "text": t} for v, t in cells]})
    return groups


def _figures(folder: Path, patterns: Sequence[str]) -> list[str]:
    return [path.relative_to(folder).as_posix() for pattern in patterns for path in sorted(folder.glob(pattern))]


def _value_columns(suffix: str = "") -> list[dict]:
    """What the page's script needs to show and sort each value column."""
    columns = []
    for column in ROW_COLUMNS:
        metric = METRICS[column.metric_key]
        columns.append({"key": column.key + suffix, "title": column.title + suffix.replace(":", " of "),
                        "scale": 100 if metric.unit == "%" else 1, "digits": metric.digits,
                        "worse_high": bool(metric.lower_is_better)})
    return columns


def _rows_json(rows: list[dict], keys: list[str]) -> list[dict]:
    # Short field names: a page of 5,000 images stays near a megabyte.
    return [{"s": row["set"], "n": row["name"], "k": row["stem"], "p": row["photo"],
             "v": [row["values"].get(key) for key in keys], "t": row["notes"], "a": row.get("absent", [])}
            for row in rows]


@dataclass
class Page:
    """What one page shows: its title and opening lines, the ``results`` (results.json content, by summary
    column) under ``protocol``, the notes and figures, and the ``rows`` of the images of ``sets`` (each row's
    ``set``: an index into ``sets``) with their ``pictures`` and value ``columns``; ``differences``: the value
    columns whose differences the page sorts by (a comparison), None for none."""

    title: str
    intro: list[str]
    protocol: str
    results: dict[str, dict]
    notes: list[str]
    pictures: list[PictureColumn]
    columns: list[dict]
    sets: list[str]
    rows: list[dict]
    figures: list[str]
    differences: list[int] | None = None

    def write(self, out_dir: Path) -> Path:
        """Write ``report.html`` into ``out_dir``."""
        data = {"sets": self.sets, "per_page": ROWS_PER_PAGE, "columns": self.columns,
                "pictures": [vars(p) for p in self.pictures], "differences": self.differences or [],
                "rows": _rows_json(self.rows, [column["key"] for column in self.columns])}
        # In a <script> the JSON is read as raw text: only "<" could end it early, so it is escaped.
        payload = json.dumps(data, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")
        html = _TEMPLATES.get_template("report.html.j2").render(
            page=self, summary_sets=list(self.results), summary=_summary(self.results), n_rows=len(self.rows),
            colours={name: "#%02x%02x%02x" % rgb for name, rgb in COLOURS.items()}, payload=payload)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        path = Path(out_dir) / PAGE
        atomic.write_text(path, html)
        return path


def _describe(protocol: Protocol, n_bins: int, results: dict[str, dict]) -> tuple[str, list[str]]:
    """The page's title and opening lines: the protocol, and maps as given where no maps.json says what they are."""
    as_given = [name for name, metrics in results.items() if metrics.get("maps") == AS_GIVEN.word]
    title = ("Maps as given: " if as_given else "") + f"evaluation report ({protocol.name} protocol)"
    intro = [f"Protocol: {protocol.name}: {protocol.description}",
             calibration_title(protocol, n_bins), sod_title(protocol)]
    if as_given:
        intro.insert(0, f"Maps as given ({', '.join(as_given)}): no maps.json says what they are, so they are scored "
                        f"as the {protocol.name} protocol's {protocol.test_maps.title}.")
    intro.append("Each metric's definition: metrics/table.py (titles, units, which way is better) and protocol.py "
                 "(which pixels count as correct), in the repository.")
    return title, intro


def write_run_page(out_dir: Path, scores: Sequence[DatasetScore], n_bins: int, protocol: Protocol) -> Path:
    """Write ``images.csv``, ``report_files/page.json`` and ``report.html`` of one scoring into ``out_dir``."""
    out_dir = Path(out_dir)
    write_images_csv(out_dir, {score.name: score.images for score in scores})
    data = {"protocol": protocol.name, "n_bins": n_bins,
            "sets": {score.name: {"notes": score.notes, "folder": pictures_folder(score.name),
                                  "rows": [row.as_dict() for row in worst_first(score.images)]}
                     for score in scores}}
    (out_dir / PICTURES_FOLDER).mkdir(exist_ok=True)
    atomic.write_text(out_dir / PICTURES_FOLDER / PAGE_DATA, json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n")
    return render_run_page(out_dir)


def _page_data(run_dir: Path) -> dict:
    path = Path(run_dir) / PICTURES_FOLDER / PAGE_DATA
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the scoring writes it with report.html; score the maps first")
    return json.loads(path.read_text(encoding="utf-8"))


def render_run_page(out_dir: Path) -> Path:
    """Render ``report.html`` again from the files of a scoring in ``out_dir`` (with the figures there now)."""
    out_dir = Path(out_dir)
    data = _page_data(out_dir)
    results = json.loads((out_dir / REPORT_JSON).read_text())
    protocol = get_protocol(data["protocol"])
    title, intro = _describe(protocol, data["n_bins"], results)
    sets = list(data["sets"])
    pictures = [PictureColumn(picture, [data["sets"][name]["folder"] for name in sets], picture)
                for picture in PICTURES]
    rows = [{**row, "set": index} for index, name in enumerate(sets) for row in data["sets"][name]["rows"]]
    notes = [f"{name}: {note}" for name, entry in data["sets"].items() for note in entry["notes"]]
    # A column n/a on every image (the probability maps' where none were given) is left out; ECE never is.
    columns = [column for index, column in enumerate(_value_columns())
               if index == 0 or any(row["values"][column["key"]] is not None for row in rows)]
    return Page(title, intro, protocol.name, results, notes, pictures, columns, sets, rows,
                _figures(out_dir, RUN_FIGURES)).write(out_dir)


def _side_by_side(pages: dict[str, dict], sets: list[str]) -> list[dict]:
    """One row per image of ``sets`` that any method's page holds, with each method's ECE (the value columns'
    ``ECE:<method>``), worst first by the first method's; ``absent``: the picture columns (photo, mask, then
    one map per method) of the methods without the image (the photo and mask are the first method's)."""
    key = ROW_COLUMNS[0].key
    first = next(iter(pages))
    joined: dict[tuple[int, str], dict] = {}
    for index, name in enumerate(sets):
        for number, (method, page) in enumerate(pages.items()):
            for row in page["sets"].get(name, {}).get("rows", []):
                entry = joined.setdefault((index, row["name"]), {
                    "set": index, "name": row["name"], "stem": row["stem"], "photo": False, "values": {},
                    "notes": [], "absent": [2 + m for m in range(len(pages))]})
                entry["values"][f"{key}:{method}"] = row["values"][key]
                entry["photo"] |= method == first and row["photo"]
                entry["notes"] += [f"{method}: {note}" for note in row["notes"]]
                entry["absent"].remove(2 + number)
    for entry in joined.values():
        entry["absent"] += [0, 1] if 2 in entry["absent"] else []
    ranked = f"{key}:{first}"
    return sorted(joined.values(), key=lambda row: (row["values"].get(ranked) is None,
                                                    -(row["values"].get(ranked) or 0.0), row["name"]))


def write_comparison_page(out_dir: Path, runs: dict[str, Path]) -> Path:
    """``report.html`` of a comparison into ``out_dir``: the images of every set side by side, one map and one
    ECE column per method. ``runs`` maps each method to one of its scored run folders (their pages' data)."""
    out_dir = Path(out_dir)
    pages = {method: _page_data(folder) for method, folder in runs.items()}
    results = {f"{method}: {name}": metrics for method, folder in runs.items()
               for name, metrics in json.loads((Path(folder) / REPORT_JSON).read_text()).items()}
    first = next(iter(pages.values()))
    sets = list(dict.fromkeys(name for page in pages.values() for name in page["sets"]))

    def folders(method: str) -> list[str]:
        return [os.path.relpath(Path(runs[method]) / pages[method]["sets"].get(name, {}).get("folder", ""), out_dir)
                .replace(os.sep, "/") for name in sets]

    pictures = [PictureColumn(picture, folders(next(iter(runs))), picture) for picture in ("photo", "mask")]
    pictures += [PictureColumn(f"map: {method}", folders(method), "map") for method in runs]
    columns = [_value_columns(f":{method}")[0] for method in runs]
    title, intro = _describe(get_protocol(first["protocol"]), first["n_bins"], results)
    intro.insert(0, f"Comparison of {', '.join(runs)}: each method's run in "
                    + ", ".join(os.path.relpath(folder, out_dir) for folder in runs.values()) + ".")
    notes = [f"{method}: {name}: {note}" for method, page in pages.items() for name, entry in page["sets"].items()
             for note in entry["notes"]]
    return Page("Comparison: " + title, intro, first["protocol"], results, notes, pictures, columns, sets,
                _side_by_side(pages, sets), _figures(out_dir, COMPARISON_FIGURES),
                differences=list(range(len(columns)))).write(out_dir)
