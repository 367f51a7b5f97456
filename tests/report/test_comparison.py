import json
import re
from types import SimpleNamespace

import pytest

from report.comparison import (
    column_ranks, comparison_table, same_as_reference, seed_summary, within_spread, write_comparison,
)
from report.latex import latex_escape

# Stand-ins for protocol's objects: the table needs only a name and a one-line description.
PAPER = SimpleNamespace(name="paper", description="stretched maps against mask levels")
CALIBRATED = SimpleNamespace(name="calibrated", description="probability maps, masks at 128.")


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
    best = {column: tiers[0] for column, tiers in column_ranks(comparison_table(ONE_SEED)).items()}
    assert best[("A", "ECE")] == {"ASLP"} and best[("A", "maxF")] == {"BCE"}
    assert best[("B", "ACC")] == {"BCE", "ASLP"}
    assert ("T", "maxF") not in best


def test_markdown_marks_the_best_cells_drops_empty_columns_and_names_the_protocol(tmp_path):
    markdown = write_comparison(ONE_SEED, tmp_path, CALIBRATED)
    rows = {line.split(" | ")[0].strip("| "): line for line in markdown.splitlines() if line.startswith("| ")}
    assert "T maxF" not in rows["Method"] and "probabilities" not in rows["Method"]
    assert rows["ASLP"].startswith("| ASLP | **2.00** |") and "| **0.800** |" in rows["BCE"]
    assert "±" not in markdown  # one seed: plain values
    assert "Protocol: calibrated protocol: probability maps, masks at 128.\n" in markdown
    assert (tmp_path / "comparison.csv").read_text().splitlines()[0].startswith("method,seed,protocol,A ECE")


def test_summary_is_mean_and_sample_standard_deviation():
    assert seed_summary([0.1, None, 0.3]) == {"mean": pytest.approx(0.2), "std": pytest.approx(0.1414213562),
                                          "min": 0.1, "max": 0.3, "n": 2}
    assert seed_summary([None]) is None and seed_summary([0.5])["std"] == 0.0


def seeded_runs():
    """BCE and ASLP over seeds 1-3 on one set: ASLP's ECE clearly apart, its ACC overlapping BCE's."""
    def run(ece, acc):
        return {"A": {**metrics(ece, ece / 2, acc, 0.8), "probabilities_ECE": ece / 3, "probabilities_OE": ece / 4}}
    return {"BCE": {1: run(0.10, 0.90), 2: run(0.12, 0.91), 3: run(0.11, 0.92)},
            "ASLP": {1: run(0.03, 0.915), 2: run(0.04, 0.93), 3: run(0.05, 0.925)}}


def test_several_seeds_give_mean_plus_minus_std_and_mark_overlaps_with_bce(tmp_path):
    runs = seeded_runs()
    table = comparison_table(runs)
    assert mean_of(table, "ASLP", "A", "ECE") == pytest.approx(0.04)
    assert table["ASLP"]["A"]["ECE"]["std"] == pytest.approx(0.01)
    assert within_spread(table) == {("ASLP", "A", "ACC"), ("ASLP", "A", "maxF")}
    markdown = write_comparison(runs, tmp_path, PAPER)
    aslp = next(line for line in markdown.splitlines() if line.startswith("| ASLP"))
    assert "**4.00 ± 1.00**" in aslp and "**92.33 ± 0.76** ~" in aslp
    assert "A ECE % (probabilities)" in markdown
    assert "Protocol: paper protocol" in markdown and "Seeds: 1, 2, 3" in markdown
    rows = (tmp_path / "comparison.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[1].startswith("BCE,1,paper,")
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["protocol"] == "paper" and saved["seeds"] == [1, 2, 3] and len(saved["runs"]) == 6
    assert saved["summary"]["BCE"]["A"]["ECE"]["mean"] == pytest.approx(0.11)


def test_nothing_is_marked_with_a_single_seed_or_without_bce():
    runs = seeded_runs()
    assert within_spread(comparison_table({m: {1: r[1]} for m, r in runs.items()})) == set()
    assert within_spread(comparison_table({"ASLP": runs["ASLP"]})) == set()


def three_methods():
    """Set DTD_Texture_500 (no F-measure): ECE 5 / 3 / 4 % (lower is better), ACC 90 / 80 / 85 %;
    the post-hoc ASLP+TS keeps ASLP's decisions, so their ACC ties."""
    return {"BCE": {1: {"DTD_Texture_500": metrics(0.05, 0.02, 0.90, None)}},
            "ASLP": {1: {"DTD_Texture_500": metrics(0.03, 0.01, 0.85, None)}},
            "ASLP+TS": {1: {"DTD_Texture_500": metrics(0.04, 0.03, 0.85, None)}}}


def tex_rows(tex: str) -> dict[str, list[str]]:
    """First cell -> the other cells of every row with that first cell, across the parts of the tables."""
    rows: dict[str, list[str]] = {}
    for line in tex.splitlines():
        if line.endswith(r"\\"):
            cells = [c.strip() for c in line.removesuffix(r"\\").split(" & ")]
            rows.setdefault(cells[0], []).extend(cells[1:])
    return rows


def test_ranks_are_tiers_of_equal_means_best_first():
    ranks = column_ranks(comparison_table(three_methods()))
    assert ranks[("DTD_Texture_500", "ECE")] == [{"ASLP"}, {"ASLP+TS"}, {"BCE"}]
    assert ranks[("DTD_Texture_500", "ACC")] == [{"BCE"}, {"ASLP", "ASLP+TS"}]
    assert ranks[("DTD_Texture_500", "OE")] == [{"ASLP"}, {"BCE"}, {"ASLP+TS"}]


def test_latex_table_bolds_the_best_underlines_the_second_and_escapes(tmp_path):
    write_comparison(three_methods(), tmp_path, PAPER)
    tex = (tmp_path / "comparison.tex").read_text()
    assert r"\usepackage{booktabs}" in tex and r"\toprule" in tex and r"\bottomrule" in tex
    assert r"\multicolumn{3}{c}{DTD\_Texture\_500}" in tex and r"\cmidrule(lr){2-4}" in tex
    rows = tex_rows(tex)
    assert rows["Method"] == [r"ECE \%", r"OE \%", r"ACC \%"]
    assert rows["BCE"] == ["5.00", r"\underline{2.00}", r"\textbf{90.00}"]
    assert rows["ASLP"] == [r"\textbf{3.00}", r"\textbf{1.00}", r"\underline{85.00}"]
    assert rows["ASLP+TS"] == [r"\underline{4.00}", "3.00", r"\underline{85.00}"]
    # Every value of the Markdown table is in the LaTeX one.
    markdown = (tmp_path / "comparison.md").read_text()
    md_values = re.findall(r"\d+\.\d+", markdown.split("\n\n")[0])
    assert md_values == re.findall(r"\d+\.\d+", "\n".join(" ".join(r) for r in rows.values()))
    assert r"\caption{Protocol: paper protocol: stretched maps against mask levels." in tex


def test_latex_cells_of_several_seeds_write_plus_minus_and_the_spread_mark(tmp_path):
    write_comparison(seeded_runs(), tmp_path, PAPER)
    rows = tex_rows((tmp_path / "comparison.tex").read_text())
    assert rows["ASLP"][0] == r"\textbf{4.00 $\pm$ 1.00}"
    assert rows["ASLP"][2] == r"\textbf{92.33 $\pm$ 0.76} $\sim$"
    assert rows["BCE"][0] == r"\underline{11.00 $\pm$ 1.00}"
    assert "±" not in (tmp_path / "comparison.tex").read_text()


def test_latex_escape_keeps_special_characters_printable():
    assert latex_escape("a_b 5% #1 & {x} ~ ^ $ \\ ±") == (
        r"a\_b 5\% \#1 \& \{x\} $\sim$ \textasciicircum{} \$ \textbackslash{} $\pm$")


def curves_of(offset):
    return {"protocol": "paper", "sets": {"A": {"threshold": [0.0, 0.5, 1.0], "precision": [0.3, 0.6 + offset, 1.0],
                                                "recall": [1.0, 0.5, 0.0], "f_measure": [0.4, 0.6, 0.0],
                                                "fpr": [1.0, 0.2, 0.0]}}}


def test_curves_are_drawn_beside_the_table_and_methods_without_them_are_named(tmp_path):
    runs = seeded_runs()
    markdown = write_comparison(runs, tmp_path, PAPER, curves={"BCE": {1: curves_of(0), 2: curves_of(0.1)}})
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == ["f_measure_A.png", "pr_A.png"]
    assert f"curves: {tmp_path / 'curves'} (no curves.json for ASLP)." in markdown
    write_comparison(runs, tmp_path / "none", PAPER)
    assert not (tmp_path / "none" / "curves").exists()


def with_location(result, boundary, rest, image_mean, prefix="probabilities_"):
    return {**result, f"{prefix}ECE_boundary": boundary, f"{prefix}OE_boundary": boundary / 2,
            f"{prefix}ECE_rest": rest, f"{prefix}OE_rest": rest / 2, f"{prefix}ECE_img_mean": image_mean,
            "boundary_width": 5}


def test_a_second_table_says_where_the_miscalibration_is(tmp_path):
    runs = {"BCE": {1: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.20, 0.01, 0.08)},
                    2: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.22, 0.03, 0.10)}},
            "LTS": {1: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.18, 0.004, 0.09)},
                    2: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.19, 0.006, 0.09)}}}
    markdown = write_comparison(runs, tmp_path, PAPER)
    first, location = markdown.split("Where the miscalibration is")
    assert "boundary" not in first
    assert "within 5 px of a mask's object boundary" in location
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in location.splitlines()
            if line.startswith("| ")}
    assert rows["Method"][0] == "A boundary ECE % (probabilities)" and len(rows["Method"]) == 5
    assert rows["BCE"][0] == "21.00 ± 1.41" and rows["LTS"][0] == "**18.50 ± 0.71**"
    assert rows["LTS"][2] == "**0.50 ± 0.14**"
    assert rows["BCE"][4].strip(" |") == "**9.00 ± 1.41**" and rows["LTS"][4].strip(" |") == "**9.00 ± 0.00** ~"
    tex = (tmp_path / "comparison.tex").read_text()
    # Four and five columns of mean ± std are too wide for one page: each table is cut in two parts.
    assert re.findall(r"\\begin\{tabular\}\{l(r*)\}", tex) == ["rr", "rr", "rrr", "rr"]
    assert tex.count(r"\caption{Where the miscalibration is") == 2
    assert tex.count("Part 2 of 2. Notes: under part 1.") == 2
    assert r"\multicolumn{3}{c}{A (probabilities)} \\" in tex and "Method & boundary ECE \\% &" in tex
    csv_header = (tmp_path / "comparison.csv").read_text().splitlines()[0]
    assert csv_header.endswith("A probabilities_ECE_img_mean")
    # Under the calibrated protocol the same metrics have no prefix; without them there is no second table.
    plain = {m: {s: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.2, 0.01, 0.08, prefix="")}
                 for s in (1, 2)} for m in ("BCE", "LTS")}
    assert "A boundary ECE % |" in write_comparison(plain, tmp_path / "calibrated", CALIBRATED)
    assert "Where the miscalibration is" not in write_comparison(ONE_SEED, tmp_path / "none", PAPER)
    assert "Where the miscalibration is" not in (tmp_path / "none" / "comparison.tex").read_text()


def test_a_row_equal_to_bce_in_every_column_and_seed_is_marked_with_what_to_check(tmp_path):
    runs = seeded_runs()
    runs["ASLP"] = {seed: json.loads(json.dumps(result)) for seed, result in runs["BCE"].items()}  # as JSON reads it
    runs["SLP"] = {**runs["BCE"], 3: {"A": {**runs["BCE"][3]["A"], "ACC": 0.921}}}  # one value of one seed differs
    markdown = write_comparison(runs, tmp_path, PAPER)
    labels = [line.split(" | ")[0].strip("| ") for line in markdown.splitlines() if line.startswith("| ")]
    assert labels[:4] == ["Method", "BCE", "ASLP (= BCE)", "SLP"]
    note = next(line for line in markdown.splitlines() if line.startswith("(= BCE):"))
    assert "every value of ASLP equals BCE's, in every column and seed" in note
    assert "perturbed no label" in note and "perturbed_share" in note and "log.csv" in note
    assert "ASLP (= BCE)" in tex_rows((tmp_path / "comparison.tex").read_text())
    tex = (tmp_path / "comparison.tex").read_text()
    assert "perturbed\\_share" in tex
    assert json.loads((tmp_path / "comparison.json").read_text())["same_as_BCE"] == ["ASLP"]
    assert [row.split(",")[0] for row in (tmp_path / "comparison.csv").read_text().splitlines()[1:4]] == ["BCE"] * 3


def test_no_mark_without_bce_a_shared_seed_or_any_value():
    runs = seeded_runs()
    assert same_as_reference({"ASLP": runs["BCE"]}) == []
    assert same_as_reference({"BCE": {1: runs["BCE"][1]}, "ASLP": {2: runs["BCE"][1]}}) == []
    assert same_as_reference({"BCE": {1: {"A": {}}}, "ASLP": {1: {"A": {}}}}) == []
    assert same_as_reference(runs) == []


def wide_runs(methods=("BCE", "ASLP", "ASLP+SEL-context"), seeds=(1, 2, 3)) -> dict:
    """A full reproduction's table: six sets with objects, one without, every compared column, with
    the location columns of the probability maps (8 groups, 127 columns in all)."""
    names = ["DUTS-TE", "DUT-OMRON", "PASCAL-S", "SOD", "HKU-IS", "ECSSD", "DTD_Texture_500"]

    def result(shift):
        return {name: with_location({**metrics(0.14 + shift, 0.03, 0.9, None if name.startswith("DTD") else 0.8),
                                     "MCE": 0.2, "CECE": 0.05, "probabilities_ECE": 0.03, "probabilities_MCE": 0.1,
                                     "probabilities_CECE": 0.02, "probabilities_OE": 0.01, "probabilities_ACC": 0.91},
                                    0.2, 0.01, 0.08) for name in names}
    return {method: {seed: result((m + seed) / 100) for seed in seeds} for m, method in enumerate(methods)}


def latex_parts(tex: str) -> list[str]:
    return tex.split(r"\begin{table}[H]")[1:]


@pytest.mark.parametrize("seeds, widest", [((1, 2, 3), 2), ((1,), 5)])
def test_a_wide_latex_table_is_cut_into_parts_that_fit_the_page(tmp_path, seeds, widest):
    # Each column of 3 seeds is "11.00 ± 1.00 ~", 85 pt with its gap; beside "ASLP+SEL-context" two fit
    # 345 pt. One seed's plain values fit five (the longest heading, "per-image ECE mean %", is 104 pt).
    markdown = write_comparison(wide_runs(seeds=seeds), tmp_path, PAPER)
    tex = (tmp_path / "comparison.tex").read_text()
    assert tex.startswith("% The comparison tables") and r"\usepackage{float}" in tex.splitlines()[0]
    counts = [len(columns) for columns in re.findall(r"\\begin\{tabular\}\{l(r*)\}", tex)]
    assert max(counts) == widest and len(counts) == len(latex_parts(tex))
    md_columns = sum(len(line.split(" | ")) - 1 for line in markdown.splitlines() if line.startswith("| Method"))
    assert sum(counts) == md_columns == 127  # every column once, none lost
    rows = tex_rows(tex)
    assert len(rows["BCE"]) == 127 and rows["BCE"][0] == (r"\textbf{16.00 $\pm$ 1.00}" if len(seeds) > 1
                                                          else r"\textbf{15.00}")
    # A set's probability-map columns are headed once ("DUTS-TE (probabilities)"), so titles stay short.
    assert r"{DUTS-TE (probabilities)}" in tex and "(probabilities)" not in "".join(rows["Method"])
    assert [part.count(r"\caption{") for part in latex_parts(tex)] == [1] * len(counts)


def test_the_latex_parts_compile_without_overfull_lines(tmp_path):
    # LaTeX itself checks the width estimate and that many tables in a row compile (floating ones
    # overflow LaTeX's queue of 18 floats). Skipped where no LaTeX is installed.
    import shutil
    import subprocess
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    write_comparison(wide_runs(), tmp_path, PAPER)
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{float}\n"
                                      "\\begin{document}\n\\input{comparison.tex}\n\\end{document}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert result.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log


def test_the_band_table_explains_bold_as_well_as_underline(tmp_path):
    runs = {"BCE": {1: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.20, 0.01, 0.08)}},
            "LTS": {1: {"A": with_location(metrics(0.1, 0.08, 0.9, 0.8), 0.18, 0.004, 0.09)}}}
    location = write_comparison(runs, tmp_path, PAPER).split("Where the miscalibration is")[1]
    assert "Bold: best mean" in location
    tex_location = (tmp_path / "comparison.tex").read_text().split(r"\caption{Where the miscalibration is")[1]
    assert "Bold: best mean" in tex_location and "Underlined" in tex_location
