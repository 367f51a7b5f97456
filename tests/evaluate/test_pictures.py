"""Each image's row and thumbnails, made by the scoring: values, colours and file names."""
from __future__ import annotations

import numpy as np

from evaluate.pictures import confidence_picture, error_picture
from report.names import picture_stem
from report.rows import COLOURS

FALSE_POSITIVE, FALSE_NEGATIVE, SURE_WRONG, UNSURE_WRONG = (np.array(c) for c in COLOURS.values())


def test_the_error_map_colours_false_positives_and_negatives_apart():
    prediction = np.array([[255, 0, 255, 0]], np.uint8)
    mask = np.array([[0, 255, 255, 0]], np.uint8)
    picture = error_picture(prediction, mask)
    assert (picture[0, 0] == FALSE_POSITIVE).all() and (picture[0, 1] == FALSE_NEGATIVE).all()
    right = picture[0, 2:]
    assert (right[:, 0] == right[:, 1]).all() and right[0, 0] > right[1, 0]  # greys, object lighter


def test_the_confidence_map_sets_sure_mistakes_apart_from_unsure_ones():
    # Wrong at p = 1.0 and p = 0.96 (sure), at 0.6 and 0.3 on the object (unsure); right at 0.95.
    prediction = np.array([[255, 245, 153, 77, 242]], np.uint8)
    mask = np.array([[0, 0, 0, 255, 255]], np.uint8)
    picture = confidence_picture(prediction, mask)
    assert (picture[0, 0] == SURE_WRONG).all() and (picture[0, 1] == SURE_WRONG).all()
    assert (picture[0, 2] == UNSURE_WRONG).all() and (picture[0, 3] == UNSURE_WRONG).all()
    assert len(set(picture[0, 4])) == 1  # a right pixel stays grey


def test_thumbnail_stems_are_safe_and_distinct():
    names = ["a b", "a_b", "čaj ü", "日本", "x" * 300]
    stems = [picture_stem(name) for name in names]
    assert len(set(stems)) == len(names)
    assert all(stem.isascii() and " " not in stem and len(stem) <= 57 for stem in stems)
