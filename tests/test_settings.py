"""The settings groups: built from main_ASLP.py's constants, every constant in one place, ranges checked."""
from dataclasses import fields

import pytest

import main_ASLP
from configurator import ConfigError, check_limits
from settings import GROUPS, LIMITS, ASLPSettings, as_constants, constant_name, from_constants

# What steers the run itself rather than one stage: read by main_ASLP.py where it decides what to run.
RUN_CONSTANTS = {"EXPERIMENT", "STAGES", "WEIGHTS", "RESUME", "COMPARE", "DEMO", "SEED", "SEEDS", "DEVICE", "METHOD"}


def test_every_constant_is_in_exactly_one_group_or_steers_the_run():
    grouped = [constant_name(item.name) for group in GROUPS for item in fields(group)]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) | RUN_CONSTANTS == set(main_ASLP.CONSTANTS)
    assert not set(grouped) & RUN_CONSTANTS


def test_groups_are_built_from_the_constants_and_back():
    aslp = from_constants(ASLPSettings, main_ASLP.CONSTANTS)
    assert aslp.lambda_ == main_ASLP.LAMBDA and aslp.start_epoch == main_ASLP.START_EPOCH
    assert as_constants(aslp) == {name: main_ASLP.CONSTANTS[name] for name in as_constants(aslp)}


def test_every_numeric_constant_has_a_range_and_the_defaults_are_in_it():
    numeric = {name for name, value in main_ASLP.CONSTANTS.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)} - {"SEED"}
    assert numeric == set(LIMITS)
    check_limits(main_ASLP.CONSTANTS, LIMITS)
    with pytest.raises(ConfigError, match="--lts_lr must be positive"):
        check_limits({**main_ASLP.CONSTANTS, "LTS_LR": 0.0}, LIMITS)
