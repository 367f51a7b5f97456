"""The colours of the methods in the figures."""
import matplotlib
from matplotlib.colors import to_hex

from common.palette import METHOD_COLOURS, method_colour


def test_the_first_ten_are_matplotlibs_own_cycle():
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    assert list(METHOD_COLOURS[:10]) == [to_hex(colour) for colour in cycle]


def test_twenty_methods_twenty_colours_then_it_starts_over():
    assert len({method_colour(i) for i in range(20)}) == 20
    assert method_colour(20) == method_colour(0)
