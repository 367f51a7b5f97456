"""Wording shared by every message: the one rule for a count's singular and plural, and for a list."""
from __future__ import annotations

from collections.abc import Sequence


def plural(word: str, count: int, many: str | None = None) -> str:
    """`word` as it reads beside `count`: itself for exactly one, else `many` (default `word` + "s").
    plural("image", 2) -> "images"; plural("is", 1, "are") -> "is"; plural("entry", 3, "entries")."""
    return word if count == 1 else (many if many is not None else f"{word}s")


def counted(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word` in its number: counted(1, "mask") -> "1 mask", counted(0, "map") -> "0 maps"."""
    return f"{count} {plural(word, count, many)}"


def joined(words: Sequence[str]) -> str:
    """`words` as a sentence lists them: joined(["ECE", "OE", "ACC"]) -> "ECE, OE and ACC"."""
    return "".join(words) if len(words) < 2 else f"{', '.join(words[:-1])} and {words[-1]}"
