"""The colour of each method in every figure that draws several methods (the shift figure, the validation
curves, the precision-recall curves): the n-th method drawn gets the n-th colour, so no two of up to 20
methods share one. Matplotlib's own cycle repeats after ten, and the study has eleven trained and
post-hoc rows: its eleventh (NACL) was drawn in the first's (BCE's) blue.
"""
from __future__ import annotations

# Matplotlib's default cycle (tab10) first, so that figures of up to ten methods keep their colours;
# then the dark and the mid shades of tab20b, which none of the first ten resembles closely.
METHOD_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#6b6ecf", "#b5cf6b", "#e7ba52", "#d6616b", "#ce6dbd",
)


def method_colour(position: int) -> str:
    """The colour of the method drawn `position`-th (from 0); past the twentieth the palette starts over."""
    return METHOD_COLOURS[position % len(METHOD_COLOURS)]
