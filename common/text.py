"""Wording shared by every message: the one rule for a count's singular and plural."""
from __future__ import annotations


def plural(word: str, count: int, many: str | None = None) -> str:
    """`word` as it reads beside `count`: itself for exactly one, else `many` (default `word` + "s").
    plural("image", 2) -> "images"; plural("is", 1, "are") -> "is"; plural("entry", 3, "entries")."""
    return word if count == 1 else (many if many is not None else f"{word}s")


def counted(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word` in its number: counted(1, "mask") -> "1 mask", counted(0, "map") -> "0 maps"."""
    return f"{count} {plural(word, count, many)}"
