"""The settings groups: built from main_ASLP.py's constants, every constant in one place, ranges checked."""
from dataclasses import fields

import pytest

import main_ASLP
from common.configurator import ConfigError, check_limits
from common.settings import GROUPS, LIMITS, ASLPSettings, RunSettings, Settings, as_constants, constant_name, from_constants


def test_every_constant_is_in_exactly_one_group_or_steers_the_run():
    grouped = [constant_name(item.name) for group in GROUPS for item in fields(group)]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) | set(RunSettings.CONSTANTS) == set(main_ASLP.CONSTANTS)
    assert not set(grouped) & set(RunSettings.CONSTANTS)


def test_groups_are_built_from_the_constants_and_back():
    aslp = from_constants(ASLPSettings, main_ASLP.CONSTANTS)
    assert aslp.lambda_ == main_ASLP.LAMBDA and aslp.start_epoch == main_ASLP.START_EPOCH
    assert as_constants(aslp) == {name: main_ASLP.CONSTANTS[name] for name in as_constants(aslp)}
    settings = Settings.from_constants(main_ASLP.CONSTANTS)
    assert settings.constants() == {k: v for k, v in main_ASLP.CONSTANTS.items() if k not in RunSettings.CONSTANTS}
    assert settings.run.methods == (main_ASLP.METHOD,) and settings.run.seeds == (main_ASLP.SEED,)
    assert settings.run.stages == ("train", "test", "eval") and not settings.run.comparing


def test_the_run_group_parses_its_lists_in_stage_order():
    run = Settings.from_constants({**main_ASLP.CONSTANTS, "STAGES": "eval, test", "COMPARE": "BCE,ASLP+TS",
                                   "SEEDS": "3,1"}).run
    assert run.stages == ("test", "eval") and run.methods == ("BCE", "ASLP+TS") and run.seeds == (3, 1)
    assert run.comparing


def test_every_numeric_constant_has_a_range_and_the_defaults_are_in_it():
    numeric = {name for name, value in main_ASLP.CONSTANTS.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)} - {"SEED"}
    assert numeric == set(LIMITS)
    check_limits(main_ASLP.CONSTANTS, LIMITS)
    with pytest.raises(ConfigError, match="--lts_lr must be positive"):
        check_limits({**main_ASLP.CONSTANTS, "LTS_LR": 0.0}, LIMITS)


def test_the_confidence_bins_are_limited_before_anything_runs():
    # As the metrics limit them (metrics.calibration.MAX_BINS): more would change no value, and cost memory.
    from metrics.calibration import MAX_BINS

    with pytest.raises(ConfigError, match=f"--n_bins must be from 1 to {MAX_BINS}, got {MAX_BINS + 1}"):
        main_ASLP.configure([f"--n_bins={MAX_BINS + 1}"], announce=False)
    assert main_ASLP.configure([f"--n_bins={MAX_BINS}"], announce=False).evaluation.n_bins == MAX_BINS


@pytest.mark.parametrize("device", ["xyz", "", "cuda:x", "cuda:", "mps", "meta", "CPU", "cuda:1 "])
def test_a_device_torch_does_not_take_is_refused_before_torch_is_imported(device):
    # Found by tests/test_command_lines.py: --device=xyz reached torch.device, a RuntimeError traceback.
    with pytest.raises(ConfigError, match=f"--device must be auto, cpu, cuda or cuda:N .*, got {device!r}"):
        main_ASLP.configure([f"--device={device}"], announce=False)
    for good in ("auto", "cpu", "cuda", "cuda:1"):
        assert main_ASLP.configure([f"--device={good}"], announce=False).run.device == good


@pytest.mark.parametrize("arguments, message", [
    (["--corruptions=gaussian_noise,fogg"], r"--corruptions: unknown corruption fogg: use all, a family \(noise, blur, "
                                            r"weather, digital\) or some of gaussian_noise, shot_noise, .*saturate$"),
    (["--corruptions=noise", "--severities=0"], r"--severities: severities are integers from 1 to 5, .*got '0'$"),
    (["--corruptions=noise", "--severities=1,6"], r"--severities: severities are integers from 1 to 5, .*got '1,6'$"),
    (["--corruptions=noise", "--corrupted_sets=ECSSD,Nope"], r"--corrupted_sets names Nope, which --test_datasets "
                                                             r"does not: corrupt some of DUTS-TE, .*DTD_Texture_500$"),
])
def test_corruptions_and_severities_that_cannot_be_are_refused_before_any_work(arguments, message):
    with pytest.raises(ConfigError, match=message):
        main_ASLP.configure(arguments, announce=False)


def test_corrupted_sets_are_every_test_set_or_those_named_by_corruption_and_severity():
    shift = main_ASLP.configure(["--corruptions=digital,fog", "--severities=5,1"], announce=False).shift
    sets = shift.sets(("A", "B"))
    assert [s.name for s in sets[:3]] == ["A@fog-1", "A@fog-5", "A@contrast-1"]
    assert len(sets) == 2 * 6 * 2  # the 5 digital ones (saturate too) and fog, at 2 severities, of 2 sets
    named = main_ASLP.configure(["--corruptions=contrast", "--corrupted_sets=SOD", "--severities=3"], announce=False)
    assert [s.name for s in named.shift.sets(named.data.test_datasets)] == ["SOD@contrast-3"]
    assert main_ASLP.configure([], announce=False).shift.sets(("A",)) == []  # the default: no corruption
