"""The image corruptions a test set can be scored under: one table, the seeded call, and the mending
that lets the `imagecorruptions` package (ImageNet-C, Hendrycks & Dietterich, ICLR 2019) run today.

`CORRUPTIONS` lists every corruption `imagecorruptions.get_corruption_names("all")` knows, with its
family (noise, blur, weather, digital, as the package groups its 15 ImageNet-C corruptions; its four
held-out validation corruptions go to the family they resemble) and whether ImageNet-C's benchmark
uses it. `corruption_names` turns the CORRUPTIONS constant (names, families or `all`) into names.
`corrupt` corrupts one photo, at its own size, with NumPy's global generator seeded from the image's
name, the corruption and the severity (`image_seed`), and restored afterwards: the same photo gets
the same pixels in every run, whatever ran before.

The package's last release (1.1.2) fails with current libraries in three ways, each mended here at
import, without a copy of the package (`imagecorruptions()` returns it mended):

- it imports `pkg_resources`, which setuptools >= 81 no longer ships: the import fails, so every
  corruption does; a stand-in `resource_filename` (frost's texture files) is offered while it loads;
- it calls scikit-image's `gaussian(..., multichannel=True)`, renamed `channel_axis` in scikit-image
  0.19 and since removed: gaussian_blur and glass_blur fail (upstream issue #30); its `gaussian` is
  replaced by one that takes the old flag;
- fog's plasma fractal asks NumPy for `np.float_`, removed in NumPy 2.0: the package's `np` becomes
  NumPy with that one alias added (NumPy itself is left alone).

This module imports only the standard library at its top: the settings check names with it before
anything heavy loads.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import sys
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from common.text import counted

if TYPE_CHECKING:
    import numpy as np

NOISE, BLUR, WEATHER, DIGITAL = "noise", "blur", "weather", "digital"
FAMILIES = (NOISE, BLUR, WEATHER, DIGITAL)
EVERY = "all"
SEVERITY_LEVELS = (1, 2, 3, 4, 5)
MIN_SIDE = 32  # px: the package refuses a smaller photo


@dataclass(frozen=True)
class Corruption:
    """One corruption of `imagecorruptions`: its name there, its family, whether ImageNet-C's benchmark
    uses it (False: one of the four the package holds out for validation), and what one photo costs."""

    name: str
    family: str
    imagenet_c: bool
    slow: str = ""  # its cost, where it is too slow for `all` and its family: then it is run only by name


# glass_blur swaps neighbouring pixels in a Python loop over the whole photo, once or twice: 3.5 s (severity 1)
# to 5.4 s (severity 5) for one 400 x 300 photo, where the next slowest, zoom_blur, takes 0.5 s and most take
# milliseconds (measured on 2 shared cores under load, cpu_ref 37 s). For the paper's six test sets (some
# 8,000 photos) at five severities that is about two days, so `all` and `blur` leave it out; name it to
# have it (its pixels are ImageNet-C's all the same).
CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in (
    Corruption("gaussian_noise", NOISE, True),
    Corruption("shot_noise", NOISE, True),
    Corruption("impulse_noise", NOISE, True),
    Corruption("speckle_noise", NOISE, False),
    Corruption("defocus_blur", BLUR, True),
    Corruption("glass_blur", BLUR, True, slow="3.5-5.4 s per 400 x 300 photo"),
    Corruption("motion_blur", BLUR, True),
    Corruption("zoom_blur", BLUR, True),
    Corruption("gaussian_blur", BLUR, False),
    Corruption("snow", WEATHER, True),
    Corruption("frost", WEATHER, True),
    Corruption("fog", WEATHER, True),
    Corruption("brightness", WEATHER, True),
    Corruption("spatter", WEATHER, False),
    Corruption("contrast", DIGITAL, True),
    Corruption("elastic_transform", DIGITAL, True),
    Corruption("pixelate", DIGITAL, True),
    Corruption("jpeg_compression", DIGITAL, True),
    Corruption("saturate", DIGITAL, False),
)}


def corruption_names(spec: str) -> tuple[str, ...]:
    """The corruptions `spec` names, in table order: comma-separated names, families and `all`
    (`"noise,contrast"`); a slow corruption only by its name. Raises ValueError naming what is unknown
    and what is known."""
    asked = [item.strip() for item in spec.split(",") if item.strip()]
    unknown = [item for item in asked if item not in CORRUPTIONS and item not in FAMILIES and item != EVERY]
    if unknown:
        raise ValueError(f"unknown corruption {', '.join(unknown)}: use {EVERY}, a family ({', '.join(FAMILIES)}) or "
                         f"some of {', '.join(CORRUPTIONS)}")
    return tuple(c.name for c in CORRUPTIONS.values()
                 if c.name in asked or (not c.slow and (EVERY in asked or c.family in asked)))


def severity_levels(spec: str) -> tuple[int, ...]:
    """The severities of `spec` ("1,3,5"), sorted; ValueError for anything but integers from 1 to 5."""
    try:
        levels = [int(item) for item in spec.split(",") if item.strip()]
    except ValueError:
        levels = []
    wrong = [level for level in levels if level not in SEVERITY_LEVELS]
    if not levels or wrong:
        raise ValueError(f"severities are integers from 1 to 5, such as 1,2,3,4,5; got {spec!r}")
    return tuple(sorted(set(levels)))


def image_seed(stem: str, corruption: str, severity: int) -> int:
    """NumPy's seed for corrupting the photo `stem`: from its name, the corruption and the severity, so
    that neither the order of the photos nor the other corruptions change its pixels."""
    digest = hashlib.sha256(f"{stem}|{corruption}|{severity}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _resource_filename(module: str, path: str) -> str:
    """pkg_resources' rule: `path` relative to the folder of the module called `module`."""
    return os.path.join(os.path.dirname(sys.modules[module].__file__), path)


@contextmanager
def _without_pkg_resources() -> Iterator[None]:
    """Offer `pkg_resources.resource_filename` while the package is imported, where setuptools lacks it."""
    try:
        importlib.import_module("pkg_resources")
        yield
        return
    except ImportError:
        pass
    shim = types.ModuleType("pkg_resources")
    shim.resource_filename = _resource_filename
    sys.modules["pkg_resources"] = shim
    try:
        yield
    finally:
        sys.modules.pop("pkg_resources", None)


def gaussian_multichannel(image: Any, *args: Any, multichannel: bool | None = None, **kwargs: Any) -> Any:
    """scikit-image's `gaussian`, also taking the `multichannel` flag it dropped (as `channel_axis`)."""
    from skimage.filters import gaussian

    if multichannel is not None:
        kwargs.setdefault("channel_axis", -1 if multichannel else None)
    return gaussian(image, *args, **kwargs)


def _numpy_with_float_() -> types.ModuleType:
    """NumPy, seen through a module that also answers `float_` (float64), the alias NumPy 2 dropped."""
    import numpy

    class NumPy(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return numpy.float64 if name == "float_" else getattr(numpy, name)

    return NumPy("numpy")


@cache
def imagecorruptions() -> types.ModuleType:
    """The `imagecorruptions` package, mended (see the module docstring)."""
    with _without_pkg_resources(), warnings.catch_warnings():
        # It imports scipy.ndimage.interpolation, deprecated (SciPy 2.0 will remove it): not the user's to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        package = importlib.import_module("imagecorruptions")
    functions = importlib.import_module("imagecorruptions.corruptions")
    functions.gaussian = gaussian_multichannel  # the name its blurs call
    functions.np = _numpy_with_float_()
    return package


def corrupt(photo: np.ndarray, corruption: str, severity: int, stem: str) -> np.ndarray:
    """`photo` (H x W x 3 uint8, both sides at least MIN_SIDE) under `corruption` at `severity`, as
    `imagecorruptions.corrupt` makes it with NumPy's global generator seeded by `image_seed`; the
    generator's state is put back afterwards."""
    import numpy as np

    package = imagecorruptions()
    state = np.random.get_state()
    np.random.seed(image_seed(stem, corruption, severity))
    try:
        return package.corrupt(photo, corruption_name=corruption, severity=severity)
    finally:
        np.random.set_state(state)


def describe(names: tuple[str, ...]) -> str:
    """`names` grouped by family, for messages and tables: "noise: gaussian_noise; digital: contrast"."""
    return "; ".join(f"{family}: {', '.join(n for n in names if CORRUPTIONS[n].family == family)}"
                     for family in FAMILIES if any(CORRUPTIONS[n].family == family for n in names))


def count_note(names: tuple[str, ...], severities: tuple[int, ...]) -> str:
    """"4 corruptions x 2 severities"."""
    return f"{counted(len(names), 'corruption')} x {counted(len(severities), 'severity', 'severities')}"


SHIFT_MARK = "@"  # between a test set's name and its corruption: PASCAL-S@contrast-5


@dataclass(frozen=True)
class ShiftedSet:
    """A test set's photos under one corruption at one severity, a test set of its own under
    DATASET_ROOT/Test/<name>/ (`data.shift_sets` writes it), with the source set's masks."""

    source: str
    corruption: str
    severity: int

    @property
    def name(self) -> str:
        return f"{self.source}{SHIFT_MARK}{self.corruption}-{self.severity}"

    @property
    def family(self) -> str:
        return CORRUPTIONS[self.corruption].family


def shifted_sets(sources: tuple[str, ...], corruptions: tuple[str, ...],
                 severities: tuple[int, ...]) -> list[ShiftedSet]:
    """Every corrupted copy of `sources`: by set, then corruption, then severity."""
    return [ShiftedSet(source, name, level) for source in sources for name in corruptions for level in severities]


def parse_shifted(name: str) -> ShiftedSet | None:
    """The corrupted set a test-set name stands for, or None for a name of a clean set."""
    source, mark, rest = name.rpartition(SHIFT_MARK)
    corruption, _, level = rest.rpartition("-")
    if not mark or corruption not in CORRUPTIONS or not level.isdigit():
        return None
    return ShiftedSet(source, corruption, int(level))
