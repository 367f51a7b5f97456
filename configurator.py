"""Command-line overrides for the UPPER_CASE constants of main_ASLP.py: `--epochs=2 --amp=true`.

Keys are the constants' names in any case, with '-' or '_'; a bare `--demo` sets a boolean to True.
Values are parsed to the type of the constant's default; an unknown key or a value of the wrong
type is an error that names the key.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A command-line override that names no constant or has a value of the wrong type."""


def _parse(name: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ConfigError(f"--{name.lower()} expects true or false, got {text!r}")
    if isinstance(default, (tuple, list)):
        return type(default)(item.strip() for item in text.split(",") if item.strip())
    if default is None:
        return text or None
    try:
        return type(default)(text)
    except ValueError:
        raise ConfigError(f"--{name.lower()} expects {type(default).__name__}, got {text!r}") from None


def parse_overrides(defaults: Mapping[str, Any], argv: Sequence[str]) -> dict[str, Any]:
    """{CONSTANT: value} for each `--key=value` (or bare boolean `--key`) in `argv`."""
    overrides = {}
    for argument in argv:
        if not argument.startswith("--"):
            raise ConfigError(f"unexpected argument {argument!r}; use --key=value")
        key, has_value, text = argument[2:].partition("=")
        name = key.replace("-", "_").upper()
        if name not in defaults:
            close = [k.lower() for k in defaults if k.startswith(name[:3])]
            raise ConfigError(f"unknown option --{key}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        if not has_value:
            if not isinstance(defaults[name], bool):
                raise ConfigError(f"--{key} needs a value: --{key}=...")
            text = "true"
        overrides[name] = _parse(name, text, defaults[name])
    return overrides
