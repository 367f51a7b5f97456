"""The plots of training logs: a run's validation calibration over epochs, and several runs' side by side."""
import csv
from pathlib import Path

import pytest

from training.plots import plot_calibration_history, plot_validation_calibration

COLUMNS = ("epoch", "alpha_used_mean", "perturbed_share", "perturbed_labels", "val_accuracy", "val_ECE", "val_OE",
           "val_ECE_boundary")


def write_log(folder: Path, shares: list[str], ece: list[float]) -> Path:
    """A log.csv as training writes it: `shares` empty for a method that perturbs no label."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "log.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for epoch, (share, value) in enumerate(zip(shares, ece), start=1):
            count = "" if share == "" else str(round(10 * float(share)))
            writer.writerow([epoch, "", share, count, 0.9, value, value / 2, 2 * value])
    return folder / "log.csv"


def line_labels(axes) -> list[str]:
    return [line.get_label() for line in axes.get_lines() if not line.get_label().startswith("_")]


def test_a_runs_calibration_history_marks_the_epochs_with_perturbed_labels(tmp_path):
    log = write_log(tmp_path, ["0", "0", "0.3", "0", "0.1"], [0.05, 0.04, 0.09, 0.05, 0.06])
    figure = plot_calibration_history(log, tmp_path / "calibration_history.png", n_bins=15, boundary_width=3)
    assert (tmp_path / "calibration_history.png").stat().st_size > 10_000
    lines, bars = figure.axes
    assert "Validation calibration per epoch" in lines.get_title() and "15 equal-width bins" in lines.get_title()
    assert "band of 3 px" in lines.get_title()
    assert line_labels(lines) == ["validation ECE", "validation OE", "validation boundary ECE"]
    assert list(lines.get_lines()[0].get_ydata()) == pytest.approx([5, 4, 9, 5, 6])  # percent
    assert lines.get_xlabel() == "epoch" and "%" in lines.get_ylabel()
    assert "perturbed label" in bars.get_ylabel()
    assert [patch.get_height() for patch in bars.patches] == pytest.approx([0, 0, 30, 0, 10])


def test_a_method_that_perturbs_no_label_has_no_bars(tmp_path):
    log = write_log(tmp_path, ["", ""], [0.05, 0.04])
    figure = plot_calibration_history(log, tmp_path / "history.png")
    assert len(figure.axes) == 1 and (tmp_path / "history.png").is_file()


def test_several_runs_one_line_per_method_and_seed_in_each_panel(tmp_path):
    runs = {
        "BCE": {1: tmp_path / "seed1" / "BCE", 2: tmp_path / "seed2" / "BCE"},
        "ASLP": {1: tmp_path / "seed1" / "ASLP", 2: tmp_path / "seed2" / "ASLP"},
        "ASLP+TS": {1: tmp_path / "seed1" / "ASLP+TS"},  # post-hoc: no training, no log.csv
    }
    for seeds in runs.values():
        for seed, folder in seeds.items():
            folder.mkdir(parents=True)
    for seed in (1, 2):
        # Each run its own values: identical runs are marked as such (the test below).
        write_log(runs["BCE"][seed], ["", "", ""], [0.05, 0.04, 0.03 + 0.01 * seed])
        write_log(runs["ASLP"][seed], ["0", "0.2", "0.4"] if seed == 1 else ["0", "0", "0"], [0.05, 0.03, 0.07 + 0.01 * seed])
    out = tmp_path / "validation_calibration.png"
    figure = plot_validation_calibration(runs, out)
    assert out.stat().st_size > 10_000
    assert "one line per method and seed" in figure.get_suptitle()
    assert [axes.get_title() for axes in figure.axes] == [
        "validation ECE", "validation OE", "validation boundary ECE"]
    for axes in figure.axes:
        assert line_labels(axes) == ["BCE seed 1", "BCE seed 2", "ASLP seed 1", "ASLP seed 2"]
        # The epochs with perturbed labels are dotted: ASLP seed 1's epochs 2 and 3, nothing else.
        dots = [line for line in axes.get_lines() if line.get_label().startswith("_")]
        assert [list(line.get_xdata()) for line in dots] == [[2, 3]]
    # One colour per method, one line style per seed.
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert lines["ASLP seed 1"].get_color() == lines["ASLP seed 2"].get_color() != lines["BCE seed 1"].get_color()
    assert lines["BCE seed 1"].get_linestyle() != lines["BCE seed 2"].get_linestyle()


def test_no_run_with_a_log_writes_nothing(tmp_path):
    out = tmp_path / "validation_calibration.png"
    assert plot_validation_calibration({"ASLP+TS": {1: tmp_path}}, out) is None
    assert not out.exists()


def test_identical_runs_stay_visible_and_the_legend_says_so(tmp_path):
    runs = {"BCE": {1: tmp_path / "BCE"}, "LS": {1: tmp_path / "LS"}}
    for folder in (tmp_path / "BCE", tmp_path / "LS"):
        folder.mkdir()
        write_log(folder, ["", ""], [0.05, 0.04])
    figure = plot_validation_calibration(runs, tmp_path / "validation.png")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert "LS seed 1 (same values as BCE seed 1)" in lines
    assert lines["LS seed 1 (same values as BCE seed 1)"].get_marker() == "x"


def test_eleven_methods_eleven_colours(tmp_path):
    runs = {f"M{i}": {1: tmp_path / f"M{i}"} for i in range(11)}
    for i, seeds in enumerate(runs.values()):
        write_log(seeds[1], ["", ""], [0.05, 0.04 + 0.001 * i])
    figure = plot_validation_calibration(runs, tmp_path / "validation.png")
    assert len({line.get_color() for line in figure.axes[0].get_lines()}) == 11


def test_five_seeds_listed_out_of_order_five_line_styles_in_seed_order(tmp_path):
    runs = {"BCE": {seed: tmp_path / f"seed{seed}" for seed in (4, 5, 1, 2, 3)}}  # the study's order
    for seed, folder in runs["BCE"].items():
        write_log(folder, ["", ""], [0.05, 0.01 * seed])
    figure = plot_validation_calibration(runs, tmp_path / "validation.png")
    assert line_labels(figure.axes[0]) == [f"BCE seed {seed}" for seed in (1, 2, 3, 4, 5)]
    # get_linestyle() calls every dash pattern "--"; the pattern itself tells the five apart.
    patterns = {str(line._unscaled_dash_pattern) for line in figure.axes[0].get_lines()}
    assert len(patterns) == 5
