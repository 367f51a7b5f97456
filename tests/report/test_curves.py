"""SOD curves: one line per method, the mean of its seeds' curves, one figure pair per test set."""
import json

import numpy as np
import pytest

from report.curves import average_curves, curve_figures, plot_names, save_run_curves, save_sod_curves

THRESHOLDS = [0.0, 0.25, 0.5, 0.75, 1.0]


def curves(shift: float, sets: tuple[str, ...] = ("DUTS-TE",), protocol: str = "paper") -> dict:
    """A curves.json content whose precision, recall and F-measure move with `shift`."""
    t = np.array(THRESHOLDS)
    return {"protocol": protocol, "sets": {name: {
        "threshold": THRESHOLDS, "precision": list(0.5 + 0.4 * t * (1 - shift)), "recall": list(1 - t + shift * t),
        "f_measure": list(0.6 - 0.2 * t + shift), "fpr": list(1 - t)} for name in sets}}


def line_data(axes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in axes.lines}


def test_each_methods_line_is_the_point_by_point_mean_of_its_seeds():
    seeds = [curves(0.0), curves(0.1), curves(0.3)]
    figures = curve_figures({"ASLP": seeds, "BCE": [curves(0.2)]})
    pr, f_measure = figures["DUTS-TE"]
    pr_lines, f_lines = line_data(pr.axes[0]), line_data(f_measure.axes[0])
    assert set(pr_lines) == set(f_lines) == {"ASLP (3 seeds)", "BCE (1 seed)"}
    sets = [s["sets"]["DUTS-TE"] for s in seeds]
    recall, precision = pr_lines["ASLP (3 seeds)"]
    assert np.allclose(recall, np.mean([s["recall"] for s in sets], axis=0))
    assert np.allclose(precision, np.mean([s["precision"] for s in sets], axis=0))
    threshold, f_values = f_lines["ASLP (3 seeds)"]
    assert np.allclose(threshold, THRESHOLDS)
    assert np.allclose(f_values, np.mean([s["f_measure"] for s in sets], axis=0))
    assert np.allclose(f_lines["BCE (1 seed)"][1], curves(0.2)["sets"]["DUTS-TE"]["f_measure"])
    assert "paper protocol" in pr.axes[0].get_title()


def test_a_set_is_averaged_over_the_seeds_that_hold_it():
    mean = average_curves([curves(0.0, ("A", "B")), curves(0.2, ("A",))], "ASLP")
    assert mean["A"].n_runs == 2 and mean["B"].n_runs == 1
    assert np.allclose(mean["B"].f_measure, curves(0.0)["sets"]["DUTS-TE"]["f_measure"])


def test_files_per_set_with_safe_names_and_stale_plots_replaced(tmp_path):
    (tmp_path / "pr_old.png").write_bytes(b"")
    paths = save_sod_curves({"ASLP+TS": [curves(0.0, ("DUTS-TE", "a/b c"))]}, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["f_measure_DUTS-TE.png", "f_measure_a_b_c.png", "pr_DUTS-TE.png", "pr_a_b_c.png"]
    assert sorted(p.name for p in paths) == names and all(p.stat().st_size > 0 for p in paths)
    assert plot_names("DTD_Texture_500") == ("pr_DTD_Texture_500.png", "f_measure_DTD_Texture_500.png")


def test_runs_that_cannot_share_a_figure_are_refused():
    shifted = curves(0.0)
    shifted["sets"]["DUTS-TE"]["threshold"] = [t / 2 for t in THRESHOLDS]
    with pytest.raises(ValueError, match="ASLP on DUTS-TE were scored at different thresholds"):
        curve_figures({"ASLP": [curves(0.0), shifted]})
    with pytest.raises(ValueError, match="2 protocols"):
        curve_figures({"ASLP": [curves(0.0)], "BCE": [curves(0.0, protocol="calibrated")]})
    broken = curves(0.0)
    del broken["sets"]["DUTS-TE"]["recall"]
    with pytest.raises(ValueError, match="curves of BCE on DUTS-TE lack recall"):
        curve_figures({"BCE": [broken]})
    with pytest.raises(ValueError, match="would share plot file names"):
        save_sod_curves({"BCE": [curves(0.0, ("a b", "a_b"))]}, None)


def test_one_run_draws_its_curves_json_into_its_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="curves.json not found: the evaluation writes it"):
        save_run_curves(tmp_path, "BCE")
    (tmp_path / "curves.json").write_text(json.dumps(curves(0.0)))
    paths = save_run_curves(tmp_path, "BCE")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == ["curves/f_measure_DUTS-TE.png",
                                                                        "curves/pr_DUTS-TE.png"]
