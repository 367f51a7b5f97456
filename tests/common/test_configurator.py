import pytest

from common.configurator import ConfigError, check_limits, constants_help, parse_overrides

DEFAULTS = {"EPOCHS": 30, "LR": 2.5e-5, "AMP": False, "DEMO": False, "TEST_DATASETS": ("A", "B"), "WEIGHTS": ""}


def test_values_take_the_type_of_the_default():
    got = parse_overrides(DEFAULTS, ["--epochs=2", "--lr=1e-3", "--amp=true", "--test-datasets=X,Y", "--weights=w.pth"])
    assert got == {"EPOCHS": 2, "LR": 1e-3, "AMP": True, "TEST_DATASETS": ("X", "Y"), "WEIGHTS": "w.pth"}
    assert isinstance(got["EPOCHS"], int) and isinstance(got["LR"], float)


def test_bare_flag_sets_a_boolean():
    assert parse_overrides(DEFAULTS, ["--demo"]) == {"DEMO": True}


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="--epoch\\b"):
        parse_overrides(DEFAULTS, ["--epoch=3"])


@pytest.mark.parametrize("argument, key", [("--epochs=two", "--epochs"), ("--amp=maybe", "--amp"), ("--lr=fast", "--lr")])
def test_wrongly_typed_value_is_an_error_naming_the_key(argument, key):
    with pytest.raises(ConfigError, match=key):
        parse_overrides(DEFAULTS, [argument])


def test_non_boolean_needs_a_value_and_positionals_are_rejected():
    with pytest.raises(ConfigError, match="needs a value"):
        parse_overrides(DEFAULTS, ["--epochs"])
    with pytest.raises(ConfigError, match="unexpected argument"):
        parse_overrides(DEFAULTS, ["epochs=3"])


LIMITS = {"EPOCHS": "at least 1", "LR": "positive", "TRAIN_SIZE": "a positive multiple of 32"}


@pytest.mark.parametrize("name, value, message", [
    ("EPOCHS", 0, "--epochs must be at least 1, got 0"), ("LR", -1.0, "--lr must be positive"),
    ("LR", float("nan"), "--lr must be positive"), ("TRAIN_SIZE", 100, "--train_size must be a positive multiple of 32"),
])
def test_values_out_of_range_are_errors_naming_the_option(name, value, message):
    values = {"EPOCHS": 30, "LR": 2.5e-5, "TRAIN_SIZE": 384, name: value}
    with pytest.raises(ConfigError, match=message):
        check_limits(values, LIMITS)


def test_values_in_range_pass():
    check_limits({"EPOCHS": 1, "LR": 1e-9, "TRAIN_SIZE": 32}, LIMITS)


SOURCE = '''
# ---- optimisation ----
EPOCHS = 30                     # training epochs
DATASETS = ("A",
            "B")                # sets to test
# ---- speed ----
AMP = False                     # bfloat16 autocast
helper = 3                      # not a constant
'''


def test_help_lists_every_constant_with_its_default_and_comment_under_its_section():
    text = constants_help(SOURCE, {"EPOCHS": 30, "DATASETS": ("A", "B"), "AMP": False})
    lines = [line.split() for line in text.splitlines() if line.strip()]
    assert lines == [["optimisation:"], ["--epochs=30", "training", "epochs"], ["--datasets=A,B", "sets", "to", "test"],
                     ["speed:"], ["--amp=false", "bfloat16", "autocast"]]
