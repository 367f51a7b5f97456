import pytest

from evaluate.comparison import best_methods, comparison_table, write_comparison


def metrics(ece, oe, acc, max_f):
    return {"ECE": ece, "OE": oe, "ACC": acc, "maxF": max_f}


RESULTS = {
    "BCE": {"A": metrics(0.10, 0.08, 0.90, 0.80), "B": metrics(0.20, 0.10, 0.80, 0.70),
            "T": metrics(0.30, 0.2, 0.6, None), "U": metrics(0.10, 0.0, 0.8, None)},
    "ASLP": {"A": metrics(0.02, 0.01, 0.91, 0.79), "B": metrics(0.04, 0.00, 0.80, 0.72),
             "T": metrics(0.10, 0.05, 0.7, None), "U": metrics(0.20, 0.05, 0.9, None)},
}


def test_sets_without_f_measure_are_averaged_as_out_of_distribution():
    table = comparison_table(RESULTS)
    assert abs(table["BCE"]["mean (in-dist.)"]["ECE"] - 0.15) < 1e-12
    assert table["ASLP"]["mean (OOD)"] == {"ECE": pytest.approx(0.15), "OE": 0.05, "ACC": pytest.approx(0.8), "maxF": None}


def test_a_group_of_one_set_gets_no_mean_columns():
    table = comparison_table({m: {k: v for k, v in r.items() if k != "U"} for m, r in RESULTS.items()})
    assert set(table["BCE"]) == {"A", "B", "T", "mean (in-dist.)"}


def test_best_is_lowest_error_and_highest_accuracy_with_ties_shared():
    best = best_methods(comparison_table(RESULTS))
    assert best[("A", "ECE")] == {"ASLP"} and best[("A", "maxF")] == {"BCE"}
    assert best[("B", "ACC")] == {"BCE", "ASLP"}
    assert ("T", "maxF") not in best


def test_markdown_marks_the_best_cells_and_drops_empty_columns(tmp_path):
    markdown = write_comparison(RESULTS, tmp_path)
    rows = {line.split(" | ")[0].strip("| "): line for line in markdown.splitlines() if line.startswith("| ")}
    assert "T maxF" not in rows["Method"]
    assert rows["ASLP"].startswith("| ASLP | **2.00** |") and "| **0.800** |" in rows["BCE"]
    assert (tmp_path / "comparison.csv").read_text().splitlines()[0].startswith("method,A ECE")
