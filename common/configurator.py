"""Command-line overrides for the UPPER_CASE constants of main_ASLP.py: `--epochs=2 --amp=true`.

Keys are the constants' names in any case, with '-' or '_'; a bare `--demo` sets a boolean to True.
Values are parsed to the type of the constant's default; an unknown key or a value of the wrong
type is an error that names the key. `check_limits` refuses values out of range (`--epochs=0`), and
`constants_help` builds the `--help` text from the constants block itself, so it never drifts.
Standard library only: main_ASLP.py checks its command line with this before importing torch.
"""
from __future__ import annotations

import ast
import io
import math
import tokenize
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from common.errors import UserFacingError

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
HELP_FLAGS = ("-h", "--help")
HELP_COLUMN = 36  # width of the --name=default column of --help

# The range rules that a LIMITS table may name, by the words the error message uses.
RULES: dict[str, Callable[[float], bool]] = {
    "positive": lambda value: value > 0,
    "at least 1": lambda value: value >= 1,
    "at least 0": lambda value: value >= 0,
    "between 0 and 1": lambda value: 0 <= value <= 1,
    "from 1 to 256": lambda value: 1 <= value <= 256,  # confidence bins: metrics.calibration.MAX_BINS
    "a positive multiple of 32": lambda value: value > 0 and value % 32 == 0,
    "an odd number of at least 1": lambda value: value >= 1 and value % 2 == 1,
    "an odd number of at least 3": lambda value: value >= 3 and value % 2 == 1,
}


class ConfigError(UserFacingError, ValueError):
    """A command-line override that names no constant or has a value of the wrong type or range."""


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
            raise ConfigError(f"unexpected argument {argument!r}; use --key=value (--help lists them)")
        key, has_value, text = argument[2:].partition("=")
        name = key.replace("-", "_").upper()
        if name not in defaults:
            close = [k.lower() for k in defaults if k.startswith(name[:3])]
            raise ConfigError(f"unknown option --{key}" + (f" (did you mean {', '.join(close)}?)" if close else "")
                              + "; --help lists them")
        if not has_value:
            if not isinstance(defaults[name], bool):
                raise ConfigError(f"--{key} needs a value: --{key}=...")
            text = "true"
        overrides[name] = _parse(name, text, defaults[name])
    return overrides


def check_limits(values: Mapping[str, Any], limits: Mapping[str, str]) -> None:
    """Raise ConfigError for the first value outside its rule (a key of RULES), e.g. --epochs=0."""
    for name, rule in limits.items():
        value = values[name]
        if not math.isfinite(value) or not RULES[rule](value):
            raise ConfigError(f"--{name.lower()} must be {rule}, got {value}")


def format_value(value: Any) -> str:
    """A constant's value as it is written on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return '""' if value == "" else str(value)


def constants_help(source: str, values: Mapping[str, Any]) -> str:
    """One line per constant of `values` assigned at the top level of `source` (main_ASLP.py's text):
    `--name=default  comment`, under the block's `# ---- section ----` headings, in source order."""
    comments = {token.start[0]: token for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT}
    entries: list[tuple[int, str, str]] = []  # (line, left column, comment)
    for line, token in comments.items():
        if token.start[1] == 0 and token.string.startswith("# ----"):
            entries.append((line, token.string.strip("#- "), ""))
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in values:
                comment = comments.get(node.end_lineno)
                entries.append((node.lineno, f"--{name.lower()}={format_value(values[name])}",
                                comment.string.lstrip("# ") if comment else ""))
    width = min(max(len(left) for _, left, _ in entries if left.startswith("--")), HELP_COLUMN)
    lines = []
    for _, left, comment in sorted(entries):
        if not left.startswith("--"):
            lines.append(f"\n{left}:")
        elif len(left) > width:  # a long default (the test sets) gets its comment on the next line
            lines += [f"  {left}", f"  {'':<{width}}  {comment}"]
        else:
            lines.append(f"  {left:<{width}}  {comment}")
    return "\n".join(lines).lstrip("\n")
