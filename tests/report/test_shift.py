"""The shift table and figure from hand-made results: the means, the spreads and where each number goes."""
import csv
import json

import pytest
from matplotlib.colors import to_hex

from report.shift_figure import save_shift_figure
from report.shift import CALIBRATOR_NOTE, summarise, write_shift, shifted_by_source, metric_keys


def result(ece, acc=0.9, maxf=0.8, probabilities=True):
    metrics = {"ECE": ece + 0.1, "OE": ece / 2, "ACC": acc, "maxF": maxf}
    return metrics | ({"probabilities_ECE": ece, "probabilities_OE": ece / 2, "probabilities_ACC": acc}
                      if probabilities else {})


# ECE of BCE: clean 0.02, severity 1: noise 0.04, contrast 0.06; severity 5: 0.10 and 0.20. TS is half BCE's.
BCE = {"S": result(0.02), "S@gaussian_noise-1": result(0.04), "S@contrast-1": result(0.06),
       "S@gaussian_noise-5": result(0.10, acc=0.7), "S@contrast-5": result(0.20, acc=0.5)}
RUNS = {"BCE": {1: BCE, 2: {**BCE, "S": result(0.04)}},
        "TS": {1: {name: result(m["probabilities_ECE"] / 2) for name, m in BCE.items()}}}


def test_clean_then_each_severity_averaged_over_the_corruptions_with_their_range():
    by_source = shifted_by_source(RUNS)
    assert [s.name for s in by_source["S"]] == ["S@gaussian_noise-1", "S@contrast-1", "S@gaussian_noise-5", "S@contrast-5"]
    keys = metric_keys(RUNS)
    assert keys == {"ECE": "probabilities_ECE", "OE": "probabilities_OE", "ACC": "probabilities_ACC", "maxF": "maxF"}
    summary = summarise(RUNS, "S", by_source["S"], keys)
    bce = summary["BCE"]
    assert bce["clean"]["ECE"]["mean"] == pytest.approx(0.03) and bce["clean"]["ECE"]["n"] == 2
    assert (bce["severity"][1]["ECE"].mean, bce["severity"][1]["ECE"].low, bce["severity"][1]["ECE"].high) == \
        pytest.approx((0.05, 0.04, 0.06))
    assert bce["severity"][5]["ACC"].mean == pytest.approx(0.6)
    assert bce["family"]["noise"]["ECE"].mean == pytest.approx(0.07)  # severities 1 and 5 of gaussian_noise
    assert bce["family"]["digital"]["ECE"].high == pytest.approx(0.20)
    assert summary["TS"]["severity"][5]["ECE"].mean == pytest.approx(0.075)


def test_tables_json_csv_and_figure_are_written(tmp_path):
    markdown = write_shift(RUNS, tmp_path, "paper")
    assert (tmp_path / "shift.md").read_text() == markdown
    assert CALIBRATOR_NOTE in markdown and "[min–max over the corruptions]" in markdown
    assert "### ECE % (probabilities)" in markdown and "### maxF" in markdown
    assert "| BCE | 3.00 ± 1.41 | 5.00 [4.00–6.00] | 15.00 [10.00–20.00] |" in markdown
    assert "| TS | 1.00 | 2.50 [2.00–3.00] | 7.50 [5.00–10.00] |" in markdown
    assert "| Method | noise | digital |" in markdown
    stored = json.loads((tmp_path / "shift.json").read_text())
    assert stored["summary"]["S"]["TS"]["severity"]["5"]["ECE"]["high"] == pytest.approx(0.10)
    rows = list(csv.DictReader(open(tmp_path / "shift.csv")))
    assert len(rows) == (2 + 1) * 5 * 4  # runs x sets x metrics
    assert {r["family"] for r in rows} == {"", "noise", "digital"}
    assert (tmp_path / "shift.png").stat().st_size > 10_000
    # The table links its figure by name, so that the folder can be moved or shared whole.
    assert "[shift.png](shift.png)" in markdown and str(tmp_path) not in markdown


def test_test_maps_are_read_where_no_probability_maps_were_scored_and_nothing_without_corruptions(tmp_path):
    runs = {"BCE": {1: {name: result(0.05, probabilities=False) for name in BCE}}}
    assert metric_keys(runs)["ECE"] == "ECE"
    assert "### ECE %\n" in write_shift(runs, tmp_path / "a", "calibrated")
    assert write_shift({"BCE": {1: {"S": result(0.1)}}}, tmp_path / "b", "paper") is None
    assert not (tmp_path / "b").exists()


def test_eleven_methods_get_eleven_colours_and_one_legend_beside_the_panels(tmp_path):
    # Matplotlib's cycle repeats after ten: the study's eleventh row was drawn in the first's colour.
    runs = {f"M{i}": RUNS["BCE"] for i in range(11)}
    by_source, keys = shifted_by_source(runs), metric_keys(runs)
    summaries = {"S": summarise(runs, "S", by_source["S"], keys)}
    figure = save_shift_figure(summaries, by_source, keys, tmp_path / "shift.png")
    ece_panel = figure.axes[0]
    colours = {to_hex(box.get_facecolor()) for box in ece_panel.patches}
    assert len(colours) == 11
    assert not ece_panel.get_legend() and len(figure.legends) == 1
    assert [text.get_text() for text in figure.legends[0].get_texts()] == list(runs)
