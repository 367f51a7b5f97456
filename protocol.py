"""The evaluation protocols: each is one object holding everything the protocol decides.

A protocol says which map the test stage writes (:meth:`Protocol.test_map`), which pixels count as
correct (:meth:`Protocol.pixel_correct`, for the validation accuracy during training and for the
calibration counts of scoring), how a map of another size than its mask is treated, how an image's
SOD statistics are computed, what its notes and table titles say, and whether the test stage also
writes probability maps. Which metrics it reports, and where, the metric table says
(:mod:`metrics.table`, each entry naming the protocols that report it). The stages ask these two;
nothing else branches on a protocol's name. A new protocol is one new entry of ``PROTOCOLS`` and its
name in the metric entries it reports.

* ``paper`` (the default): what the authors' code computes, on the maps they write. The test map is
  their per-image min-max stretched map, 255 (p - min) / (max - min + 1e-8) in float32, rounded to
  nearest (ties to even) as OpenCV writes a float image; each map is stretched on its own, so its
  levels are no longer probabilities. A pixel is correct iff its decision (p >= 0.5, level >= 128)
  is foreground and its mask level is exactly 255, or background and exactly 0: their ``ECE_EW`` and
  validation accuracy compare the binarised map with the mask levels, so every soft mask pixel
  (1..254) counts as wrong. ECE, OE and ACC only (:mod:`metrics.table`); a prediction of another
  size is resized with PIL's bilinear filter for the SOD metrics and left out of ECE / OE / ACC, as their loader and
  ``ECE_EW`` do. SOD metrics: their SOD_Evaluation_Tool (:mod:`metrics.paper`). The test stage also
  writes the probability maps, scored beside (the ``probabilities_*`` keys).
* ``calibrated``: the probability maps round(255 p), masks thresholded at 128 (a pixel is correct
  iff its decision equals ``mask >= 128``); every calibration metric of :mod:`metrics.calibration`;
  a prediction of another size is resized with OpenCV's bilinear filter and scored. SOD metrics:
  PySODMetrics' definitions (:mod:`metrics.sod`).

Probability maps are scored by the calibrated protocol's rule wherever they appear
(``PROBABILITY_PROTOCOL``): the ``probabilities_*`` keys of a paper-protocol report are every
calibration value the calibrated protocol reports, over the whole set, per image and in the boundary
band and the rest, of the probability maps.

The command line reads the protocols before it parses its arguments, so this module imports no
library at its top: numpy and the metric modules are imported in the functions that compute, and
PySODMetrics and SciPy only when the calibrated protocol computes its SOD statistics, so that
``python -m evaluate --help`` loads none of them and the paper protocol never loads the last two. It
never imports torch: :meth:`Protocol.pixel_correct` is written with operators that numpy arrays and
torch tensors share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DEFAULT_PROTOCOL = "paper"


@dataclass(frozen=True)
class MapKind:
    """A kind of 8-bit map the evaluator scores: ``word`` names its files (``reliability_<set>_<word>.png``),
    ``title`` says what a diagram of it shows."""

    word: str
    title: str


STRETCHED_MAPS = MapKind("stretched", "stretched maps (min-max per image)")
PROBABILITY_MAPS = MapKind("probabilities", "probability maps round(255 p)")
# The kinds the test stage writes, by the word its record (layout.MAPS_RECORD) names them with.
MAP_KINDS = {kind.word: kind for kind in (STRETCHED_MAPS, PROBABILITY_MAPS)}
# Maps that came without a record (anyone else's): scored as the protocol says they are, and titled so.
AS_GIVEN = MapKind("as_given", "maps as given (no maps.json says what they are)")
PROBABILITIES_AS_GIVEN = MapKind("probabilities_as_given", "probability maps as given (no maps.json says so)")


def probability_map(probability: np.ndarray) -> np.ndarray:
    """round(255 p) as uint8 (ties to even, computed in float32): the model's probabilities, 8-bit."""
    import numpy as np

    return np.rint(np.asarray(probability, dtype=np.float32) * np.float32(255)).astype(np.uint8)


def stretched_map(probability: np.ndarray) -> np.ndarray:
    """The authors' test map, 255 (p - min) / (max - min + 1e-8) in float32, rounded as OpenCV writes it."""
    import numpy as np

    p = np.asarray(probability, dtype=np.float32)
    stretched = 255 * (p - p.min()) / (p.max() - p.min() + np.float32(1e-8))
    return np.clip(np.rint(stretched), 0, 255).astype(np.uint8)


def mask_levels_exact(decision: Any, mask: Any) -> Any:
    """The authors' rule: foreground decisions are right on mask level 255, background ones on 0."""
    return (decision & (mask == 255)) | (~decision & (mask == 0))


def mask_thresholded(decision: Any, mask: Any) -> Any:
    """The decision is right where it equals the mask thresholded at 128."""
    return decision == (mask >= 128)


def _paper_image_stats(pred_u8: np.ndarray, gt_u8: np.ndarray, joint: np.ndarray, valid: Any = None) -> Any:
    # Imported on first use, as everything here that needs numpy (see the module docstring).
    from metrics.paper import paper_image_stats

    return paper_image_stats(pred_u8, gt_u8, joint, valid)


def _pysodmetrics_image_stats(pred_u8: np.ndarray, gt_u8: np.ndarray, joint: np.ndarray, valid: Any = None) -> Any:
    # PySODMetrics and SciPy take 0.6 s to import, and only this protocol uses them.
    from metrics.sod import sod_image_stats

    return sod_image_stats(pred_u8, gt_u8, valid)


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (see the module docstring); the fields are read through the methods and
    by the runner and report."""

    name: str
    description: str  # one line: what this protocol's numbers mean
    test_maps: MapKind
    make_test_map: Callable[[np.ndarray], np.ndarray]
    correct_rule: Callable[[Any, Any], Any]  # (decision, mask levels) -> bool, operators only
    resize_with_pil: bool  # resize a prediction of another size with PIL (else OpenCV)
    resized_maps_in_calibration: bool  # whether such a map counts in the calibration metrics
    resize_note: str  # said of each resized map, beside the reader's own note ("" for none)
    # (pred, gt, joint of the valid pixels, valid pixels or None for all) -> per-image SOD stats
    image_stats: Callable[[np.ndarray, np.ndarray, np.ndarray, Any], Any]
    worker_preload: tuple[str, ...]  # modules the scoring workers' server imports once, before forking
    needs_foreground: frozenset[str]  # metrics that are n/a when every mask of a set is empty
    empty_set_note: str  # what else to know about a set whose masks are all empty
    # The tables' titles; the metrics they name are filled in from the metric table (report.tables):
    calibration_title: str  # {bins}: each binned metric's bins; {per_image}: the metrics also per image
    sod_title: str  # {needs_foreground}: the metrics n/a on a set of empty masks
    sod_definitions: str  # where the SOD metrics are defined

    @property
    def writes_probability_maps(self) -> bool:
        """Whether the test stage also writes the probability maps (its test maps are something else),
        and the scoring reads them beside the test maps."""
        return self.test_maps != PROBABILITY_MAPS

    def test_map(self, probability: np.ndarray) -> np.ndarray:
        """The uint8 map the test stage writes for float32 probabilities in [0, 1]."""
        return self.make_test_map(probability)

    def pixel_correct(self, decision: Any, mask: Any) -> Any:
        """Which pixels are right: ``decision`` (p >= 0.5) and ``mask`` (uint8 mask levels) are numpy
        arrays or torch tensors of one shape; returns a bool array of the same kind."""
        return self.correct_rule(decision, mask)

    @cached_property
    def correct_table(self) -> np.ndarray:
        """``[d, g]``: whether a pixel of decision ``d`` (0, 1) and mask level ``g`` is correct, from
        :meth:`pixel_correct` itself."""
        import numpy as np

        from metrics.calibration import LEVELS

        decision = np.array([[False], [True]])
        return np.asarray(self.pixel_correct(decision, LEVELS[None, :]), dtype=bool)

    def counts_from_joint(self, joint: np.ndarray) -> np.ndarray:
        """The (256, 2) level counts of an image's joint (prediction level, mask level) histogram."""
        from metrics.calibration import level_counts_from_joint

        return level_counts_from_joint(joint, self.correct_table)


PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            name="paper",
            description="the authors' per-image stretched maps, scored as their code scores them (a pixel is right "
            "only where its mask level is exactly 0 or 255 and agrees with the decision, so soft mask pixels count "
            "as wrong); 'probabilities' columns: the probability maps round(255 p) under the calibrated protocol",
            test_maps=STRETCHED_MAPS,
            make_test_map=stretched_map,
            correct_rule=mask_levels_exact,
            resize_with_pil=True,
            resized_maps_in_calibration=False,
            resize_note="paper protocol: resized with PIL's bilinear filter for the SOD metrics and left out of "
            "the calibration metrics and the mean saliency, as the authors' loader and ECE_EW do",
            image_stats=_paper_image_stats,
            worker_preload=(),
            needs_foreground=frozenset({"maxF", "meanF", "S", "maxE", "meanE", "AP", "AUC"}),
            empty_set_note="the authors' tool would report F, AP and AUC 0, E 0.25 and S = 1 - mean stretched map",
            calibration_title="Calibration, paper protocol (the authors' ECE_EW on the maps as written, normally "
            "stretched per image; prediction >= 128 compared with the mask level, so soft mask pixels count as "
            "wrong; {bins})",
            sod_title="Saliency metrics, paper protocol (the authors' SOD_Evaluation_Tool: soft masks, maps min-max "
            "stretched except for MAE, 255 thresholds; {needs_foreground} n/a on sets whose masks are all empty)",
            sod_definitions="metrics/paper.py (the authors' SOD_Evaluation_Tool)",
        ),
        Protocol(
            name="calibrated",
            description="probability maps round(255 p), scored against masks thresholded at 128",
            test_maps=PROBABILITY_MAPS,
            make_test_map=probability_map,
            correct_rule=mask_thresholded,
            resize_with_pil=False,
            resized_maps_in_calibration=True,
            resize_note="",
            image_stats=_pysodmetrics_image_stats,
            worker_preload=("metrics.sod",),
            needs_foreground=frozenset({"maxF", "meanF", "adpF", "wF", "S", "AP", "AUC"}),
            empty_set_note="MAE and E-measure, as in PySODMetrics, use each map min-max stretched, which inflates "
            "faint false positives",
            calibration_title="Calibration, calibrated protocol (probability maps, masks thresholded at 128, pixels "
            "pooled per set; {bins}; {per_image})",
            sod_title="Saliency metrics, calibrated protocol (PySODMetrics definitions, binary masks gt > 128; AP and "
            "AUC from the same 256-threshold curves; {needs_foreground} n/a on sets whose masks are all empty)",
            sod_definitions="metrics/sod.py (PySODMetrics)",
        ),
    )
}
# The protocol that scores probability maps wherever they appear (the probabilities_* keys).
PROBABILITY_PROTOCOL = PROTOCOLS["calibrated"]


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; a ValueError listing the choices for any other name."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def level_counts(pred_u8: np.ndarray, gt_u8: np.ndarray) -> np.ndarray:
    """The (256, 2) level counts of a probability map against its mask (mask thresholded at 128):
    ``[v, 0]`` counts pixels of level v whose mask is background (gt < 128), ``[v, 1]`` foreground."""
    from metrics.calibration import joint_histogram

    return PROBABILITY_PROTOCOL.counts_from_joint(joint_histogram(pred_u8, gt_u8))
