"""The one singular/plural rule of every message, and the one way to list words."""
from __future__ import annotations

import pytest

from common.text import counted, joined, plural


@pytest.mark.parametrize("count, expected", [(0, "0 images"), (1, "1 image"), (2, "2 images"), (-1, "-1 images")])
def test_counted_uses_the_singular_for_exactly_one(count: int, expected: str) -> None:
    assert counted(count, "image") == expected


def test_irregular_forms_are_given_not_guessed() -> None:
    assert (plural("entry", 1, "entries"), plural("entry", 2, "entries")) == ("entry", "entries")
    assert (plural("is", 1, "are"), plural("is", 0, "are")) == ("is", "are")


@pytest.mark.parametrize("words, expected", [([], ""), (["ECE"], "ECE"), (["ECE", "OE"], "ECE and OE"),
                                             (["ECE", "OE", "ACC"], "ECE, OE and ACC")])
def test_joined_lists_as_a_sentence_does(words: list[str], expected: str) -> None:
    assert joined(words) == expected
