import json

import pytest

from evaluate.comparison import best_methods, comparison_table, summarise, within_spread, write_comparison


def metrics(ece, oe, acc, max_f):
    return {"ECE": ece, "OE": oe, "ACC": acc, "maxF": max_f}


RESULTS = {
    "BCE": {"A": metrics(0.10, 0.08, 0.90, 0.80), "B": metrics(0.20, 0.10, 0.80, 0.70),
            "T": metrics(0.30, 0.2, 0.6, None), "U": metrics(0.10, 0.0, 0.8, None)},
    "ASLP": {"A": metrics(0.02, 0.01, 0.91, 0.79), "B": metrics(0.04, 0.00, 0.80, 0.72),
             "T": metrics(0.10, 0.05, 0.7, None), "U": metrics(0.20, 0.05, 0.9, None)},
}
ONE_SEED = {method: {1: result} for method, result in RESULTS.items()}


def mean_of(table, method, group, metric):
    return table[method][group][metric]["mean"]


def test_sets_without_f_measure_are_averaged_as_out_of_distribution():
    table = comparison_table(ONE_SEED)
    assert mean_of(table, "BCE", "mean (in-dist.)", "ECE") == pytest.approx(0.15)
    assert mean_of(table, "ASLP", "mean (OOD)", "ACC") == pytest.approx(0.8)
    assert table["ASLP"]["mean (OOD)"]["maxF"] is None


def test_a_group_of_one_set_gets_no_mean_columns():
    table = comparison_table({m: {1: {k: v for k, v in r.items() if k != "U"}} for m, r in RESULTS.items()})
    assert set(table["BCE"]) == {"A", "B", "T", "mean (in-dist.)"}


def test_best_is_lowest_error_and_highest_accuracy_with_ties_shared():
    best = best_methods(comparison_table(ONE_SEED))
    assert best[("A", "ECE")] == {"ASLP"} and best[("A", "maxF")] == {"BCE"}
    assert best[("B", "ACC")] == {"BCE", "ASLP"}
    assert ("T", "maxF") not in best


def test_markdown_marks_the_best_cells_drops_empty_columns_and_names_the_protocol(tmp_path):
    markdown = write_comparison(ONE_SEED, tmp_path, "calibrated")
    rows = {line.split(" | ")[0].strip("| "): line for line in markdown.splitlines() if line.startswith("| ")}
    assert "T maxF" not in rows["Method"] and "raw p" not in rows["Method"]
    assert rows["ASLP"].startswith("| ASLP | **2.00** |") and "| **0.800** |" in rows["BCE"]
    assert "±" not in markdown  # one seed: plain values
    assert "Protocol: calibrated protocol" in markdown
    assert (tmp_path / "comparison.csv").read_text().splitlines()[0].startswith("method,seed,protocol,A ECE")


def test_summary_is_mean_and_sample_standard_deviation():
    assert summarise([0.1, None, 0.3]) == {"mean": pytest.approx(0.2), "std": pytest.approx(0.1414213562),
                                          "min": 0.1, "max": 0.3, "n": 2}
    assert summarise([None]) is None and summarise([0.5])["std"] == 0.0


def seeded_runs():
    """BCE and ASLP over seeds 1-3 on one set: ASLP's ECE clearly apart, its ACC overlapping BCE's."""
    def run(ece, acc):
        return {"A": {**metrics(ece, ece / 2, acc, 0.8), "calibrated_ECE": ece / 3, "calibrated_OE": ece / 4}}
    return {"BCE": {1: run(0.10, 0.90), 2: run(0.12, 0.91), 3: run(0.11, 0.92)},
            "ASLP": {1: run(0.03, 0.915), 2: run(0.04, 0.93), 3: run(0.05, 0.925)}}


def test_several_seeds_give_mean_plus_minus_std_and_mark_overlaps_with_bce(tmp_path):
    runs = seeded_runs()
    table = comparison_table(runs)
    assert mean_of(table, "ASLP", "A", "ECE") == pytest.approx(0.04)
    assert table["ASLP"]["A"]["ECE"]["std"] == pytest.approx(0.01)
    assert within_spread(table) == {("ASLP", "A", "ACC"), ("ASLP", "A", "maxF")}
    markdown = write_comparison(runs, tmp_path, "paper")
    aslp = next(line for line in markdown.splitlines() if line.startswith("| ASLP"))
    assert "**4.00 ± 1.00**" in aslp and "**92.33 ± 0.76** ~" in aslp
    assert "A ECE % (raw p)" in markdown and "Protocol: paper protocol" in markdown and "Seeds: 1, 2, 3" in markdown
    rows = (tmp_path / "comparison.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[1].startswith("BCE,1,paper,")
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["protocol"] == "paper" and saved["seeds"] == [1, 2, 3] and len(saved["runs"]) == 6
    assert saved["summary"]["BCE"]["A"]["ECE"]["mean"] == pytest.approx(0.11)


def test_nothing_is_marked_with_a_single_seed_or_without_bce():
    runs = seeded_runs()
    assert within_spread(comparison_table({m: {1: r[1]} for m, r in runs.items()})) == set()
    assert within_spread(comparison_table({"ASLP": runs["ASLP"]})) == set()
