"""benchmarks/real_study.py without training: it finds the run folders main_ASLP.py writes, reports
runs without probability maps instead of drawing empty panels, and checks its source folder first."""
import json

import cv2
import numpy as np
import pytest

import main_ASLP
from common import methods
from benchmarks import real_study, study_report
from data import pascal_s
from data.pascal_s import SET_NAME
from protocol import get_protocol
from tests.conftest import write_maps

PAPER, CALIBRATED = get_protocol("paper"), get_protocol("calibrated")


def write_levels(folder, levels=(200, 150)):
    """One 8x8 map per level, named 0.png, 1.png, ..."""
    write_maps(folder, [np.full((8, 8), level, np.uint8) for level in levels])


@pytest.fixture
def gt_dir(tmp_path):
    """Masks whose top half is foreground: a map predicting foreground everywhere is right on half."""
    mask = np.zeros((8, 8), np.uint8)
    mask[:4] = 255
    return write_maps(tmp_path / "GT", [mask, mask])


def test_one_seed_finds_the_experiments_method_folders(tmp_path, gt_dir):
    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "ASLP"], [1], "MC")
    study = tmp_path / "experiments" / "exp"
    assert folders == {"BCE": {1: study / "BCE"}, "ASLP": {1: study / "ASLP_MC"}}
    for per_seed in folders.values():
        write_levels(per_seed[1] / "probabilities" / SET_NAME)
    figure, missing = study_report.reliability_figure(folders, gt_dir, PAPER)
    assert missing == []
    for axis in figure.axes:
        seed_line = axis.lines[0]
        assert seed_line.get_label() == "seed 1"
        assert np.allclose(seed_line.get_xdata(), [150 / 255, 200 / 255], atol=1e-6)  # confidence of each map
        assert np.allclose(seed_line.get_ydata(), [0.5, 0.5])
    outputs = study_report.report_study(study, folders, gt_dir, PAPER)
    assert outputs == [study / study_report.PLOT, study / "BCE", study / "ASLP_MC"]


def test_several_seeds_find_the_seed_folders(tmp_path, gt_dir):
    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "ASLP"], [1, 2], "MC")
    study = tmp_path / "experiments" / "exp"
    assert folders["BCE"] == {1: study / "seed1" / "BCE", 2: study / "seed2" / "BCE"}
    assert folders["ASLP"][2] == study / "seed2" / "ASLP_MC"
    for per_seed in folders.values():
        for folder in per_seed.values():
            write_levels(folder / "probabilities" / SET_NAME)
    figure, missing = study_report.reliability_figure(folders, gt_dir, PAPER)
    assert missing == [] and [line.get_label() for line in figure.axes[1].lines] == ["seed 1", "seed 2", "calibrated"]


def test_seeds_in_order_and_in_one_colour_each_across_the_panels(tmp_path, gt_dir):
    # The study runs seeds 4 and 5 of some methods first and 1 to 3 of others only.
    folders = {"BCE": {seed: tmp_path / f"seed{seed}" / "BCE" for seed in (4, 5, 1, 2, 3)},
               "LTS": {seed: tmp_path / f"seed{seed}" / "LTS" for seed in (1, 2, 3)}}
    for per_seed in folders.values():
        for folder in per_seed.values():
            write_levels(folder / "probabilities" / SET_NAME)
    figure, _ = study_report.reliability_figure(folders, gt_dir, PAPER)
    bce, lts = ({line.get_label(): line.get_color() for line in axis.lines} for axis in figure.axes[:2])
    assert list(bce) == ["seed 1", "seed 2", "seed 3", "seed 4", "seed 5", "calibrated"]
    assert all(lts[seed] == bce[seed] for seed in ("seed 1", "seed 2", "seed 3"))
    assert len(set(bce.values())) == 6


def test_many_methods_wrap_into_rows_with_one_panel_each(tmp_path, gt_dir):
    methods = ["BCE", "ASLP", "SVLS", "NACL", "TS", "LTS"]
    folders = real_study.run_folders(tmp_path, "exp", methods, [1], "MC")
    for per_seed in folders.values():
        write_levels(per_seed[1] / "probabilities" / SET_NAME)
    figure, _ = study_report.reliability_figure(folders, gt_dir, PAPER)
    shown = [axis for axis in figure.axes if axis.axison]
    assert [axis.get_title() for axis in shown] == methods
    rows = {round(axis.get_position().y0, 3) for axis in shown}
    assert len(rows) == 2  # four panels, then two, not six in one strip
    assert [axis.get_ylabel() for axis in shown] == ["accuracy", "", "", "", "accuracy", ""]


def test_runs_without_maps_are_reported_in_the_panel_and_the_warnings(tmp_path, gt_dir, capsys):
    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "ASLP", "TS"], [1, 2], "MC")
    for folder in (folders["BCE"][1], folders["BCE"][2], folders["ASLP"][1]):
        write_levels(folder / "probabilities" / SET_NAME)
    figure, missing = study_report.reliability_figure(folders, gt_dir, PAPER)
    panel_texts = [[text.get_text() for text in axis.texts] for axis in figure.axes]
    assert panel_texts == [[], ["no probability maps for seed 2"], ["no probability maps found"]]
    assert [line.split(":")[0] for line in missing] == ["ASLP, seed 2", "TS, seed 1", "TS, seed 2"]
    assert f"{folders['TS'][1] / 'probabilities' / SET_NAME} does not exist" in missing[1]
    study = tmp_path / "experiments" / "exp"
    outputs = study_report.report_study(study, folders, gt_dir, PAPER)
    assert "warning: TS, seed 2: no probability maps" in capsys.readouterr().err
    assert folders["TS"][1] not in outputs and folders["BCE"][1] in outputs  # only what exists is listed


def test_no_maps_at_all_is_an_error_and_draws_nothing(tmp_path, gt_dir):
    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "ASLP"], [1], "MC")
    study = tmp_path / "experiments" / "exp"
    with pytest.raises(real_study.StudyError, match="no run of the study has probability maps"):
        study_report.report_study(study, folders, gt_dir, PAPER)
    assert not (study / study_report.PLOT).exists()


def test_a_missing_source_says_what_it_must_hold_and_names_the_option(tmp_path, capsys):
    assert real_study.main(["--reduced", f"--source={tmp_path / 'nowhere'}"]) == 2
    error = capsys.readouterr().err
    assert f"PASCAL-S not found at {tmp_path / 'nowhere'}" in error and "set it with --source=PATH" in error
    assert "Image/ (the 850 photographs) and GT/" in error
    (tmp_path / "Image").mkdir()
    assert real_study.main([f"--source={tmp_path}"]) == 2
    assert "(no GT/ there; it holds Image/)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        real_study.main(["--help"])
    assert "--source=PATH" in capsys.readouterr().out


def test_a_study_of_one_run_is_refused_before_the_data_is_laid_out(tmp_path, capsys):
    for name in ("Image", "GT"):
        (tmp_path / name).mkdir()
    assert real_study.main([f"--source={tmp_path}", "--methods=BCE", "--seeds=1", "--experiment=never_laid_out"]) == 2
    assert "a study compares runs" in capsys.readouterr().err
    assert not (real_study.PROJECT / "experiments" / "never_laid_out").exists()


def test_corrupted_methods_must_be_rows_of_the_study(tmp_path, capsys):
    for name in ("Image", "GT"):
        (tmp_path / name).mkdir()
    assert real_study.main([f"--source={tmp_path}", "--reduced", "--corrupted-methods=BCE,TSS",
                            "--experiment=never_laid_out"]) == 2
    assert "--corrupted-methods names TSS, not among --methods" in capsys.readouterr().err
    assert not (real_study.PROJECT / "experiments" / "never_laid_out").exists()


def test_the_studies_run_the_post_hoc_rows_and_the_full_one_every_method():
    reduced = real_study.REDUCED["methods"].split(",")
    assert {"SVLS", "NACL", "SEL", "SEL-context", "ASLP+SEL"} <= set(reduced) and len(reduced) == 11
    full = real_study.FULL["methods"].split(",")
    assert set(methods.TRAINED) | set(methods.POST_HOC) | {f"ASLP+{c}" for c in methods.POST_HOC} == set(full)
    for study in (real_study.REDUCED, real_study.FULL):
        main_ASLP.configure([f"--compare={study['methods']}"], announce=False)  # main_ASLP.py accepts them


def test_the_study_names_the_set_as_the_layout_does():
    assert real_study.SET_NAME == pascal_s.SET_NAME


def test_under_the_calibrated_protocol_the_test_maps_are_the_probability_maps(tmp_path, gt_dir):
    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "ASLP"], [1], "MC")
    for per_seed in folders.values():
        write_levels(per_seed[1] / "predictions" / SET_NAME)  # that protocol writes no probabilities/
    figure, missing = study_report.reliability_figure(folders, gt_dir, CALIBRATED)
    assert missing == [] and np.allclose(figure.axes[0].lines[0].get_ydata(), [0.5, 0.5])
    assert len(study_report.reliability_figure(folders, gt_dir, PAPER)[1]) == 2  # paper looks in probabilities/



def fake_source(folder, images=("a", "b"), masks=("a",)):
    """A folder laid out as PASCAL-S (Image/, GT/) whose files are not PASCAL-S's."""
    for sub, stems, suffix in (("Image", images, ".jpg"), ("GT", masks, ".png")):
        (folder / sub).mkdir(parents=True)
        for stem in stems:
            cv2.imwrite(str(folder / sub / f"{stem}{suffix}"), np.zeros((4, 4, 3) if sub == "Image" else (4, 4),
                                                                           np.uint8))
    return folder


def test_a_source_of_other_files_stops_with_what_is_missing_and_creates_nothing(tmp_path, monkeypatch, capsys):
    # It used to stop with a traceback from the middle of the layout, leaving a half-made tree behind.
    monkeypatch.setattr(real_study, "PROJECT", tmp_path / "project")
    source = fake_source(tmp_path / "mine")
    assert real_study.main(["--reduced", f"--source={source}"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error
    assert f"missing 850 of the 850 photographs in {source / 'Image'} (1, 2, 3, 4, 5, ... (850 in all))" in error
    assert "850 of the 850 masks in" in error and "PASCAL-S-{Train,Validation,Test}.txt" in error
    assert "--source must be PASCAL-S's own folder, with Image/<n>.jpg and GT/<n>.png for n = 1 to 850" in error
    assert not (tmp_path / "project").exists()


def test_a_source_of_another_layout_names_what_it_holds(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(real_study, "PROJECT", tmp_path / "project")
    for name in ("images", "masks"):
        (tmp_path / "other" / name).mkdir(parents=True)
    assert real_study.main([f"--source={tmp_path / 'other'}"]) == 2
    assert "(no Image/ or GT/ there; it holds images/, masks/)" in capsys.readouterr().err
    source = fake_source(tmp_path / "empty", images=(), masks=())  # Image/ and GT/, but no photograph
    assert real_study.main([f"--source={source}"]) == 2
    error = capsys.readouterr().err
    assert f"photo folder {source / 'Image'} contains no" in error and "--source must be PASCAL-S's own" in error
    assert not (tmp_path / "project").exists()


def test_a_study_continues_across_sittings(tmp_path):
    # Finished trainings are kept and an interrupted one resumes: main_ASLP.py's --resume does both.
    args = real_study.argparse.Namespace(**real_study.REDUCED, experiment="exp", lr=5e-4, num_workers=0)
    command = real_study.study_command(args, tmp_path, ["--device=cpu"])
    assert "--resume" in command and command[-1] == "--device=cpu"
    settings = main_ASLP.configure(command[2:], announce=False)
    assert settings.run.resume and settings.run.comparing
    assert "several sittings" in real_study.__doc__


def test_the_validation_table_sets_swings_after_perturbations_against_the_others(tmp_path):
    header = "epoch,perturbed_share,perturbed_labels,val_ECE\n"
    for seed, late in ((1, 0.10), (2, 0.14)):
        folder = tmp_path / f"seed{seed}" / "ASLP"
        folder.mkdir(parents=True)
        (folder / "log.csv").write_text(header + f"1,,,0.05\n2,0,0,0.04\n3,0.1,2,{late}\n")
    (tmp_path / "BCE").mkdir()
    (tmp_path / "BCE" / "log.csv").write_text("epoch,val_ECE\n1,0.05\n2,0.045\n3,0.04\n")
    folders = {"ASLP": {1: tmp_path / "seed1" / "ASLP", 2: tmp_path / "seed2" / "ASLP"}, "BCE": {1: tmp_path / "BCE"},
               "TS": {1: tmp_path / "TS"}}  # a post-hoc row has no log: left out
    table = study_report.validation_table(folders)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert set(rows) == {"Method", "ASLP", "BCE"} and "12.00 ± 2.83" in rows["ASLP"] and "4.00 |" in rows["BCE"]
    assert "ASLP: in the 2 run-epochs that drew perturbed labels the validation ECE moved 8.00 points" in table
    assert "in the 2 others 1.00" in table and "- BCE" not in table


def test_the_reduced_study_gives_the_rows_the_shift_question_turns_on_five_seeds_and_the_others_three():
    args = real_study.argparse.Namespace(**real_study.REDUCED)
    seeds, order = {}, []
    for plan in real_study.plans(args):
        for method in plan.methods.split(","):
            seeds.setdefault(method, set()).update(int(s) for s in plan.seeds.split(","))
            order.append(method)
    key = {"BCE", "ASLP", "TS", "ASLP+TS"}
    assert {method for method, s in seeds.items() if len(s) == 5} == key
    assert all(len(s) >= 3 for s in seeds.values()) and set(seeds) == set(args.methods.split(","))
    # Those rows are whole before any other starts: a sitting cut short still answers the question; then
    # the rows that need no training, then the trained ones.
    assert set(order[:2 * len(key)]) == key and not key & set(order[2 * len(key):])
    rest = [real_study.post_hoc(method) is None for method in order[2 * len(key):]]
    assert rest == sorted(rest) and rest[0] is False and rest[-1] is True


def test_a_plan_is_done_when_every_run_scored_every_set(tmp_path):
    folders = {"BCE": {1: tmp_path / "seed1" / "BCE", 2: tmp_path / "seed2" / "BCE"}}
    for folder in folders["BCE"].values():
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"PASCAL-S": {}, "PASCAL-S@fog-1": {}}))
    assert real_study.plan_done(folders, ["PASCAL-S", "PASCAL-S@fog-1"])
    assert not real_study.plan_done(folders, ["PASCAL-S", "PASCAL-S@fog-1", "SOD"])  # a set it never scored
    (tmp_path / "seed2" / "BCE" / "results.json").unlink()  # a run whose scoring was cut short
    assert not real_study.plan_done(folders, ["PASCAL-S"])


def test_the_study_scores_sod_the_textures_and_pascal_s_under_every_family_and_global_changes(tmp_path):
    from data.corruptions import CORRUPTIONS, FAMILIES

    args = real_study.argparse.Namespace(**real_study.REDUCED, experiment="exp", lr=5e-4, num_workers=0)
    sets = (SET_NAME, "SOD", "DTD_Texture_205")
    corrupted = set()
    for plan in real_study.plans(args):
        command = real_study.study_command(args, tmp_path, [], sets, plan)
        settings = main_ASLP.configure(command[2:], announce=False)
        assert settings.run.resume and settings.data.test_datasets == sets and settings.speed.channels_last
        shifted = settings.shift.sets(settings.data.test_datasets)
        if not plan.corrupted:
            assert not shifted
            continue
        corrupted |= set(plan.methods.split(","))
        assert {s.source for s in shifted} == {SET_NAME} and {s.severity for s in shifted} == {1, 2, 3, 4, 5}
        assert {CORRUPTIONS[name].family for name in settings.shift.names} == set(FAMILIES)
        # At 64 px noise, blur and JPEG blocks are averaged away; these two change what the network sees.
        assert {"brightness", "contrast"} <= set(settings.shift.names)
        assert not any(CORRUPTIONS[name].slow for name in settings.shift.names)
    # On 2 cores only the rows the question turns on are scored under the corruptions; the full study all.
    assert corrupted == {"BCE", "ASLP", "TS", "ASLP+TS"}
    full = real_study.argparse.Namespace(**real_study.FULL)
    assert {m for plan in real_study.plans(full) if plan.corrupted for m in plan.methods.split(",")} == set(
        full.methods.split(","))


def fake_sod_and_dtd(tmp_path):
    sod = fake_source(tmp_path / "SOD", images=("1", "2"), masks=("1", "2"))
    names = real_study.texture_script().AUTHORS_NAMES.read_text().split()[:2]
    (tmp_path / "DTD").mkdir()
    for name in names:
        cv2.imwrite(str(tmp_path / "DTD" / name), np.zeros((40, 40, 3), np.uint8))
    return sod, tmp_path / "DTD", names


def test_sod_is_linked_and_the_texture_set_built_from_what_the_folders_hold(tmp_path, capsys):
    sod, dtd, names = fake_sod_and_dtd(tmp_path)
    root = tmp_path / "root"
    assert real_study.lay_out_test_sets(root, sod, dtd) == (SET_NAME, "SOD", "DTD_Texture_2")
    assert sorted(p.name for p in (root / "Test" / "SOD" / "GT").iterdir()) == ["1.png", "2.png"]
    assert (root / "Test" / "SOD" / "Image" / "1.jpg").resolve() == (sod / "Image" / "1.jpg").resolve()
    assert sorted(p.name for p in (root / "Test" / "DTD_Texture_2" / "Image").iterdir()) == sorted(names)
    assert "498 of the 500 names" in capsys.readouterr().out
    assert real_study.lay_out_test_sets(root, sod, dtd) == (SET_NAME, "SOD", "DTD_Texture_2")  # a second sitting
    assert real_study.lay_out_test_sets(tmp_path / "r2", tmp_path / "no", tmp_path / "none") == (SET_NAME,)
    said = capsys.readouterr().out
    assert "runs without its cross-dataset set; set --sod=PATH" in said and "set --dtd=PATH" in said


def test_the_study_tabulates_every_plans_runs_together(tmp_path):
    import json

    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "TS"], [1, 2, 3], "MC")
    folders["BCE"].update(real_study.run_folders(tmp_path, "exp", ["BCE"], [4, 5], "MC")["BCE"])
    for method, per_seed in folders.items():
        for seed, folder in per_seed.items():
            folder.mkdir(parents=True)
            results = {name: {"ECE": 0.01 * seed, "ACC": 0.9, "maxF": 0.8, "OE": 0.0}
                       for name in (SET_NAME, "SOD", f"{SET_NAME}@fog-1", f"{SET_NAME}@fog-5")}
            (folder / "results.json").write_text(json.dumps(results))
    study = tmp_path / "experiments" / "exp"
    written = study_report.study_tables(study, folders, PAPER)
    assert written == [study / "comparison.md", study / "shift.md", study / "shift.png", study / "shift_summary.md"]
    compared = json.loads((study / "comparison.json").read_text())
    assert sorted((r["method"], r["seed"]) for r in compared["runs"])[:5] == [("BCE", s) for s in range(1, 6)]
    assert not any("@" in group for r in compared["runs"] for group in r["metrics"])
    assert "| BCE | 3.00 ± 1.58 |" in (study / "shift.md").read_text()  # clean ECE over the five seeds
    summary = (study / "shift_summary.md").read_text()
    assert "| BCE (5) | 3.00 ± 1.58 ≈ |" in summary and "boundary," not in summary  # no run scored the band


SHARED = real_study.PROJECT.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "SOD").is_dir() or not (SHARED / "DTD").is_dir(), reason=f"{SHARED} absent")
def test_the_shared_sod_and_dtd_make_the_studys_shift_sets(tmp_path):
    sets = real_study.lay_out_test_sets(tmp_path, real_study.DEFAULT_SOD, real_study.DEFAULT_DTD)
    assert sets == (SET_NAME, "SOD", "DTD_Texture_205")
    assert len(list((tmp_path / "Test" / "SOD" / "Image").iterdir())) == 300
    assert len(list((tmp_path / "Test" / "DTD_Texture_205" / "GT").iterdir())) == 205


def test_more_seeds_of_one_seed_are_refused_since_the_runs_would_share_folders(tmp_path, capsys):
    for name in ("Image", "GT"):
        (tmp_path / name).mkdir()
    assert real_study.main([f"--source={tmp_path}", "--reduced", "--seeds=1", "--more-seeds=2",
                            "--experiment=never_laid_out"]) == 2
    assert "give --seeds and --more-seeds two or more seeds each" in capsys.readouterr().err
    assert not (real_study.PROJECT / "experiments" / "never_laid_out").exists()


def summary_runs(ece: dict[str, list[float]]) -> dict:
    """method -> seed -> results: the same ECE on every set a study scores, the probability maps' beside."""
    names = (SET_NAME, "SOD", "DTD_Texture_205", f"{SET_NAME}@fog-1", f"{SET_NAME}@jpeg_compression-1",
             f"{SET_NAME}@fog-5")
    return {method: {seed: {name: {"probabilities_ECE": value, "probabilities_ECE_boundary": 2 * value, "ECE": 0.5,
                                   "maxF": None if name.startswith("DTD") else 0.8}
                            for name in names}
                     for seed, value in enumerate(values, 1)} for method, values in ece.items()}


def test_the_shift_summary_has_a_column_per_kind_of_test_and_marks_what_the_spread_cannot_tell_apart():
    runs = summary_runs({"BCE": [0.05, 0.07, 0.06], "ASLP": [0.02, 0.03, 0.04], "TS": [0.035, 0.045, 0.05]})
    runs["ASLP"][1][f"{SET_NAME}@fog-1"]["probabilities_ECE"] = 0.12  # severity 1: ASLP's first seed (0.12+0.02)/2
    table = study_report.shift_summary(runs)
    header, _, bce, aslp, ts = table.strip().splitlines()[-5:]
    assert header.split(" | ")[1:] == ["in-domain PASCAL-S", "cross-dataset SOD", "out-of-distribution DTD_Texture_205",
                                       "corrupted, severity 1", "corrupted, severity 5",
                                       "boundary, in-domain PASCAL-S", "boundary, cross-dataset SOD |"]
    assert aslp.startswith("| ASLP (3) | **3.00 ± 1.00** |")  # the probability maps' ECE, not the test maps'
    assert ts.startswith("| TS (3) | 4.33 ± 0.76 ≈ |")  # 3.5..5 meets ASLP's 2..4
    assert bce.startswith("| BCE (3) | 6.00 ± 1.00 |")  # 5..7 does not: no mark
    assert aslp.split(" | ")[4] == "4.67 ± 2.08 ≈"  # (7, 3, 4): its range meets the now best TS's 3.5..5
    assert ts.split(" | ")[4] == "**4.33 ± 0.76**"
    assert ts.split(" | ")[-1] == "8.67 ± 1.53 ≈ |"  # the boundary band: twice the set's
    assert "(probabilities)" in table.splitlines()[0]


def test_a_row_of_one_seed_shows_its_value_without_a_spread():
    runs = summary_runs({"BCE": [0.05, 0.07, 0.06], "LTS": [0.01]})
    lts = next(line for line in study_report.shift_summary(runs).splitlines() if line.startswith("| LTS"))
    # Not "1.00 ± 0.00": one seed says nothing of the spread; nor can it tie with the best (BCE has 3).
    assert lts.startswith("| LTS (1) | **1.00** |") and "±" not in lts


def test_the_shift_summary_leaves_out_the_kinds_of_test_no_run_scored():
    runs = summary_runs({"BCE": [0.05], "TS": [0.04]})
    for result in (result for per_seed in runs.values() for result in per_seed.values()):
        for name in ("SOD", "DTD_Texture_205", f"{SET_NAME}@fog-5"):
            del result[name]
    header = study_report.shift_summary(runs).strip().splitlines()[-4]
    assert header == ("| Method (seeds) | in-domain PASCAL-S | corrupted, severity 1 | boundary, in-domain PASCAL-S |")
    assert study_report.shift_summary({}) == ""


def test_tables_only_runs_nothing_and_says_when_nothing_has_finished(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(real_study, "PROJECT", tmp_path / "project")
    monkeypatch.setattr(real_study, "run_child", lambda *args, **kwargs: pytest.fail("--tables-only ran a plan"))
    for name in ("Image", "GT"):
        (tmp_path / name).mkdir()
    assert real_study.main([f"--source={tmp_path}", "--reduced", "--tables-only", "--experiment=partial"]) == 1
    err = capsys.readouterr().err
    assert "error: no run of the study under" in err and "has finished (none has results.json)" in err
    assert not (tmp_path / "project" / "experiments" / "partial" / "data").exists()  # nothing laid out


def test_only_finished_runs_are_tabulated_and_the_others_named(tmp_path):
    folders = real_study.run_folders(tmp_path, "exp", ["BCE", "SVLS"], [1, 2], "MC")
    for folder in (folders["BCE"][1], folders["BCE"][2], folders["SVLS"][1]):
        folder.mkdir(parents=True)
    (folders["SVLS"][1] / "log.csv").write_text("epoch,val_ECE\n1,0.05\n")  # still training
    for folder in (folders["BCE"][1], folders["BCE"][2]):
        (folder / "results.json").write_text("{}")
    finished, unfinished = real_study.finished_runs(folders)
    assert finished == {"BCE": folders["BCE"]} and unfinished == ["SVLS seed 1", "SVLS seed 2"]
