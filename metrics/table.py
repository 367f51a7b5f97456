"""The metric table: every number the evaluation reports is one entry here.

An entry says what the number is called in results.json and the CSV files (its key), how tables,
plots and the LaTeX file title it (title and unit), which way is better, which protocols report it
and where (its scopes), which scopes the comparison of several runs shows, the function that
computes it from what the scoring accumulates, and how that function bins the confidences. Adding a
metric is one entry here, its formula in the module that defines it, and its test; every table, file
and plot takes its name from here, and every title that lists metrics lists them from here.

Scopes (where a metric is computed):

* ``set``: the whole test set, pixels of all counted images pooled (calibration) or the mean over
  images (SOD metrics);
* ``boundary`` and ``rest``: the pooled pixels of the masks' boundary bands and of all other
  pixels (:mod:`metrics.boundary`);
* ``image``: each image's own value, reported as its mean, standard deviation (ddof 0), median and
  90th percentile over the images.

Keys. The ``set`` value of metric K is ``K``; the others are ``K_boundary``, ``K_rest`` and
``K_img_mean`` (``_std``, ``_median``, ``_p90``). A protocol whose test maps are not probabilities
(paper: stretched maps) also scores the probability maps round(255 p) in ``probabilities/``, under
the probability protocol (:data:`protocol.PROBABILITY_PROTOCOL`); those values carry the prefix
``probabilities_`` (``probabilities_ECE``, ``probabilities_ECE_boundary``), and their column titles
end in "(probabilities)". The word "probabilities" names these maps everywhere: the folder, the
command-line option, the keys and the titles.

Values are fractions in results.json; a unit of "%" shows them times 100 in tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from metrics import calibration
from metrics.measures import ImageAccumulator, average_precision, roc_auc

SET, BOUNDARY, REST, IMAGE = "set", "boundary", "rest", "image"
SCOPES = (SET, BOUNDARY, REST, IMAGE)
IMAGE_STATISTICS = ("mean", "std", "median", "p90")
PROBABILITIES = "probabilities"

CountsFormula = Callable[[np.ndarray, int], float]  # (level counts (256, 2), equal-width bins) -> value


@dataclass(frozen=True, kw_only=True)
class SODFormula:
    """A SOD metric from the set's per-image statistics: ``summary`` of the per-image ``quantities`` (curves
    or values), each averaged over the images it is defined on. A metric's quantities are defined on the
    same images (:mod:`metrics.measures`): the images the metric covers."""

    quantities: tuple[str, ...]
    summary: Callable[..., float]
    of_curves: bool = False  # whether it summarises threshold curves (which cannot rank the pixels of a constant map)

    def __call__(self, sod: ImageAccumulator) -> float:
        return float(self.summary(*(sod.mean(quantity) for quantity in self.quantities)))

    def covered(self, sod: ImageAccumulator) -> int:
        """How many images the metric covers."""
        return sod.covered(self.quantities[0])


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One reported number (see the module docstring); its fields are named wherever it is written."""

    key: str
    title: str
    unit: str  # "%": a fraction shown in percent; "": shown as it is
    lower_is_better: bool | None  # None: a count or a share, neither better nor worse
    digits: int  # decimals shown in tables
    reported: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # protocol name -> scopes
    compared: tuple[str, ...] = ()  # scopes the comparison of several runs shows
    from_counts: CountsFormula | None = None
    bins: str | None = None  # how from_counts bins the confidences: EQUAL_WIDTH or EQUAL_MASS (None: no bins)
    from_sod: SODFormula | None = None

    def scopes(self, protocol: str) -> tuple[str, ...]:
        """Where the protocol called ``protocol`` reports this metric (empty: it does not)."""
        return self.reported.get(protocol, ())

    def format(self, value: float | int | str | None) -> str:
        """``value`` as a table shows it ("n/a" for None)."""
        if value is None:
            return "n/a"
        if isinstance(value, (int, np.integer)) and self.digits == 0:
            return str(value)
        return f"{(100 * value if self.unit == '%' else value):.{self.digits}f}"


def _counts(formula: Callable[[np.ndarray], float]) -> CountsFormula:
    # A formula that does not depend on the number of bins.
    return lambda counts, n_bins: formula(counts)


def _curve_max(name: str) -> SODFormula:
    return SODFormula(quantities=(name,), summary=np.max, of_curves=True)


def _curve_mean(name: str) -> SODFormula:
    return SODFormula(quantities=(name,), summary=np.mean, of_curves=True)


def _image_mean(name: str) -> SODFormula:
    return SODFormula(quantities=(name,), summary=float)


# The bins of a calibration metric: the scoring's n_bins of equal width, or ADAPTIVE_BINS of equal mass.
EQUAL_WIDTH, EQUAL_MASS = "equal-width", "equal-mass"

PAPER, CALIBRATED = "paper", "calibrated"
_EVERY_SCOPE = (SET, IMAGE, BOUNDARY, REST)
_BOTH = {PAPER: (SET,), CALIBRATED: (SET,)}

# In report order. Calibration metrics first (from level counts), then the SOD metrics.
METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric(key="ECE", title="ECE", unit="%", lower_is_better=True, digits=2,
               reported={PAPER: (SET,), CALIBRATED: _EVERY_SCOPE}, compared=(SET, BOUNDARY, REST, IMAGE),
               from_counts=calibration.expected_calibration_error, bins=EQUAL_WIDTH),
        Metric(key="MCE", title="MCE", unit="%", lower_is_better=True, digits=2,
               reported={CALIBRATED: (SET, BOUNDARY, REST)}, compared=(SET, BOUNDARY, REST),
               from_counts=calibration.maximum_calibration_error, bins=EQUAL_WIDTH),
        Metric(key="CECE", title="CECE", unit="%", lower_is_better=True, digits=2,
               reported={CALIBRATED: (SET, BOUNDARY, REST)}, compared=(SET, BOUNDARY, REST),
               from_counts=calibration.class_wise_calibration_error, bins=EQUAL_WIDTH),
        Metric(key="OE", title="OE", unit="%", lower_is_better=True, digits=2,
               reported={PAPER: (SET,), CALIBRATED: (SET, BOUNDARY, REST)}, compared=(SET, BOUNDARY, REST),
               from_counts=calibration.overconfidence_error, bins=EQUAL_WIDTH),
        Metric(key="ACC", title="ACC", unit="%", lower_is_better=False, digits=2, reported=_BOTH, compared=(SET,),
               from_counts=_counts(calibration.pixel_accuracy)),
        Metric(key="AECE", title="AECE", unit="%", lower_is_better=True, digits=2, reported={CALIBRATED: (SET,)},
               from_counts=_counts(calibration.adaptive_calibration_error), bins=EQUAL_MASS),
        Metric(key="dECE", title="dECE(l2)", unit="%", lower_is_better=True, digits=2, reported={CALIBRATED: (SET,)},
               from_counts=calibration.debiased_calibration_error, bins=EQUAL_WIDTH),
        Metric(key="NLL", title="NLL", unit="", lower_is_better=True, digits=4, reported={CALIBRATED: (SET,)},
               from_counts=_counts(calibration.negative_log_likelihood)),
        Metric(key="Brier", title="Brier", unit="", lower_is_better=True, digits=4, reported={CALIBRATED: (SET,)},
               from_counts=_counts(calibration.brier_score)),
        Metric(key="mean_saliency", title="mean saliency", unit="", lower_is_better=None, digits=3, reported=_BOTH,
               from_counts=_counts(calibration.mean_prediction)),
        Metric(key="maxF", title="maxF", unit="", lower_is_better=False, digits=3, reported=_BOTH, compared=(SET,),
               from_sod=_curve_max("f_curve")),
        Metric(key="meanF", title="meanF", unit="", lower_is_better=False, digits=3, reported=_BOTH,
               from_sod=_curve_mean("f_curve")),
        Metric(key="adpF", title="adpF", unit="", lower_is_better=False, digits=3, reported={CALIBRATED: (SET,)},
               from_sod=_image_mean("adaptive_f")),
        Metric(key="wF", title="wF", unit="", lower_is_better=False, digits=3, reported={CALIBRATED: (SET,)},
               from_sod=_image_mean("weighted_f")),
        Metric(key="MAE", title="MAE", unit="", lower_is_better=True, digits=3, reported=_BOTH,
               from_sod=_image_mean("mae")),
        Metric(key="S", title="S", unit="", lower_is_better=False, digits=3, reported=_BOTH,
               from_sod=_image_mean("s_measure")),
        Metric(key="maxE", title="maxE", unit="", lower_is_better=False, digits=3, reported=_BOTH,
               from_sod=_curve_max("e_curve")),
        Metric(key="meanE", title="meanE", unit="", lower_is_better=False, digits=3, reported=_BOTH,
               from_sod=_curve_mean("e_curve")),
        Metric(key="adpE", title="adpE", unit="", lower_is_better=False, digits=3, reported={CALIBRATED: (SET,)},
               from_sod=_image_mean("adaptive_e")),
        Metric(key="AP", title="AP", unit="", lower_is_better=False, digits=3, reported=_BOTH,
               from_sod=SODFormula(quantities=("precision", "recall"), summary=average_precision, of_curves=True)),
        Metric(key="AUC", title="AUC", unit="", lower_is_better=False, digits=3, reported=_BOTH,
               from_sod=SODFormula(quantities=("tpr", "fpr"), summary=roc_auc, of_curves=True)),
    )
}

# What the scoring counts rather than computes: titled and formatted like the metrics.
COUNTS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric(key="n_images", title="images", unit="", lower_is_better=None, digits=0),
        Metric(key="n_images_calibration", title="images", unit="", lower_is_better=None, digits=0),
        Metric(key="boundary_fraction", title="boundary pixels", unit="%", lower_is_better=None, digits=2),
    )
}


def calibration_metrics(protocol: str, scope: str) -> list[Metric]:
    """The metrics computed from level counts that ``protocol`` reports in ``scope``, in report order."""
    return [m for m in METRICS.values() if m.from_counts is not None and scope in m.scopes(protocol)]


def sod_metrics(protocol: str) -> list[Metric]:
    """The SOD metrics ``protocol`` reports (over the whole set), in report order."""
    return [m for m in METRICS.values() if m.from_sod is not None and SET in m.scopes(protocol)]


def in_table_order(keys: Iterable[str]) -> list[Metric]:
    """The entries of the metric ``keys``, in report order (a KeyError names a key the table lacks)."""
    keys = set(keys)
    unknown = keys - METRICS.keys()
    if unknown:
        raise KeyError(f"not in the metric table: {', '.join(sorted(unknown))}")
    return [m for m in METRICS.values() if m.key in keys]


def binning(protocol: str, n_bins: int) -> str:
    """How the calibration metrics ``protocol`` reports bin the confidences, for a title: metrics of one
    binning together, "ECE/OE: 10 equal-width bins, AECE: 15 equal-mass bins"."""
    sizes = {EQUAL_WIDTH: n_bins, EQUAL_MASS: calibration.ADAPTIVE_BINS}
    grouped: dict[str, list[str]] = {}
    for metric in calibration_metrics(protocol, SET):
        if metric.bins is not None:
            grouped.setdefault(metric.bins, []).append(metric.title)
    return ", ".join(f"{'/'.join(titles)}: {sizes[bins]} {bins} bins" for bins, titles in grouped.items())


def result_key(key: str, scope: str = SET, statistic: str = "mean", probabilities: bool = False) -> str:
    """The results.json key of metric ``key`` in ``scope`` (``statistic``: for the ``image`` scope),
    of the probability maps beside the test maps with ``probabilities``."""
    suffix = {SET: "", BOUNDARY: "_boundary", REST: "_rest", IMAGE: f"_img_{statistic}"}[scope]
    return f"{PROBABILITIES + '_' if probabilities else ''}{key}{suffix}"


def column_title(key: str, scope: str = SET, statistic: str = "mean", probabilities: bool = False) -> str:
    """The column title of :func:`result_key` (``key``, ``scope``, ``statistic``, ``probabilities``)."""
    metric = METRICS.get(key) or COUNTS[key]
    words = {SET: metric.title, BOUNDARY: f"boundary {metric.title}", REST: f"rest {metric.title}",
             IMAGE: f"per-image {metric.title} {statistic}"}[scope]
    title = f"{words} {metric.unit}".rstrip()
    return f"{title} ({PROBABILITIES})" if probabilities else title


def metric_of(key: str) -> Metric:
    """The entry of a metric or count ``key`` (a KeyError names the known keys)."""
    if key in METRICS:
        return METRICS[key]
    if key in COUNTS:
        return COUNTS[key]
    raise KeyError(f"unknown metric {key!r}; the table holds {', '.join([*METRICS, *COUNTS])}")
