import pytest

from configurator import ConfigError, parse_overrides

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
