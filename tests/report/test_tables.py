"""The titles that list metrics list them from the metric table: none is left out or written by hand."""
from __future__ import annotations

import re

import pytest

from metrics.calibration import ADAPTIVE_BINS
from metrics.table import EQUAL_MASS, EQUAL_WIDTH, IMAGE, METRICS, SET, calibration_metrics, sod_metrics
from protocol import PROTOCOLS
from report.tables import _definitions, calibration_title, sod_title

NAME = r"[\w()-]+"  # a metric's title as titles print it: "ECE", "dECE(l2)"


def listed(text: str) -> list[str]:
    """The names of a list written as "A, B and C"."""
    return re.split(r", | and ", text)


@pytest.mark.parametrize("name", PROTOCOLS)
def test_the_calibration_title_names_every_binned_metric_with_its_bins(name: str) -> None:
    title = calibration_title(PROTOCOLS[name], n_bins=7)
    said = {metric: (int(size), bins) for group, size, bins in
            re.findall(rf"((?:{NAME}/)*{NAME}): (\d+) (\S+) bins", title) for metric in group.split("/")}
    sizes = {EQUAL_WIDTH: 7, EQUAL_MASS: ADAPTIVE_BINS}
    expected = {m.title: (sizes[m.bins], m.bins) for m in calibration_metrics(name, SET) if m.bins is not None}
    assert expected and said == expected


@pytest.mark.parametrize("name", PROTOCOLS)
def test_the_calibration_title_names_every_metric_reported_per_image(name: str) -> None:
    title = calibration_title(PROTOCOLS[name], n_bins=10)
    found = re.search(rf"per-image ((?:{NAME}/)*{NAME}):", title)
    said = found.group(1).split("/") if found else []
    assert said == [m.title for m in calibration_metrics(name, IMAGE)]


@pytest.mark.parametrize("name", PROTOCOLS)
def test_the_sod_title_names_every_metric_n_a_on_a_set_of_empty_masks(name: str) -> None:
    protocol = PROTOCOLS[name]
    said = re.search(r"; ([\w, ]+?) n/a on sets whose masks are all empty", sod_title(protocol)).group(1)
    # In the table's order, and each a SOD metric the protocol reports.
    assert listed(said) == [m.title for m in sod_metrics(name) if m.key in protocol.needs_foreground]
    assert protocol.needs_foreground <= {m.key for m in sod_metrics(name)}


def test_the_definitions_name_every_calibration_metric_of_the_table() -> None:
    line = next(line for line in _definitions(PROTOCOLS["paper"]).splitlines()
                if line.endswith(": metrics/calibration.py"))
    said = listed(line.removeprefix("- ").removesuffix(": metrics/calibration.py"))
    assert said == [m.title for m in METRICS.values() if m.from_counts is not None] + ["the per-image values"]
