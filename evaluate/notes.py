"""The notes under a set's tables: what was left out, converted or n/a, and why, worded once.

The scorer (:mod:`evaluate.runner`) counts; this module says what the counts mean for a reader: files
without a partner, images a metric leaves out (:mod:`metrics.measures`), sets whose masks are all
empty, void mask pixels left out, boundary bands that hold no pixel (or every pixel), constant maps.
"""

from __future__ import annotations

from common.text import counted, joined, plural
from data.files import VOID_INDEX, abbreviate
from evaluate.accumulate import DatasetAccumulator
from evaluate.io import PairedFolders
from metrics.table import BOUNDARY, REST, calibration_metrics, result_key, sod_metrics


def dataset_notes(paired: PairedFolders, accumulator: DatasetAccumulator) -> list[str]:
    """The notes of one scored set, in the order the tables print them."""
    notes = []
    for label, names in (
        (f"prediction(s) in {paired.pred_dir} without a mask", paired.pred_without_gt),
        (f"mask(s) in {paired.gt_dir} without a prediction", paired.gt_without_pred),
        (f"probability map(s) in {paired.probability_dir} without a scored prediction", paired.probability_unused),
        ("file(s) ignored (not a map or mask file)", paired.ignored_files),
        ("subfolder(s) ignored", paired.ignored_folders),
    ):
        if names:
            notes.append(f"{len(names)} {label}: {abbreviate(names)}")
    for note, count in accumulator.note_counts.items():
        notes.append(f"{note}: {count} image(s): {abbreviate(accumulator.note_examples[note], total=count)}")
    n_images = accumulator.n_images
    if accumulator.n_images_calibration < n_images:
        notes.append(
            f"the calibration metrics and the mean saliency cover {accumulator.n_images_calibration} of {n_images} "
            f"{plural('image', n_images)} (the SOD metrics cover all)"
        )
    if accumulator.n_empty_masks == n_images:
        protocol = accumulator.protocol
        needs_foreground = ", ".join(m.key for m in sod_metrics(protocol.name) if m.key in protocol.needs_foreground)
        notes.append(
            f"every mask is empty (out-of-distribution set): {needs_foreground} are n/a; the mean predicted "
            f"saliency is the false-positive mass ({protocol.empty_set_note})"
        )
    elif accumulator.n_empty_masks:
        notes.append(f"{accumulator.n_empty_masks} of {n_images} {plural('mask', n_images)} "
                     f"{plural('is', accumulator.n_empty_masks, 'are')} empty")
    if accumulator.n_void_masks:
        level = "" if accumulator.scoring.void_level is None else f" or level {accumulator.scoring.void_level}"
        notes.append(
            f"{counted(accumulator.n_void_pixels, 'void pixel')} (palette index {VOID_INDEX}{level}) in "
            f"{accumulator.n_void_masks} of {counted(n_images, 'mask')} left out of every metric; the S-measure (and "
            "the weighted F-measure, where reported), which need the image, see them as right background"
        )
    notes += paired.record_notes + _undefined_notes(accumulator)  # record_notes: evaluate/records.py
    notes += _band_notes(accumulator)
    if accumulator.n_constant_maps == n_images:
        curves = joined([m.key for m in sod_metrics(accumulator.protocol.name) if m.from_sod.of_curves])
        notes.append(
            "every prediction map is constant (one level over the whole map, e.g. all 0 or all 255): the threshold "
            f"curves cannot rank pixels, so {curves} say nothing about where the objects are"
        )
    elif accumulator.n_constant_maps:
        notes.append(f"{accumulator.n_constant_maps} of {n_images} prediction {plural('map', n_images)} "
                     f"{plural('is', accumulator.n_constant_maps, 'are')} constant (a single level)")
    return notes


def _band_notes(accumulator: DatasetAccumulator) -> list[str]:
    """Why the values in the boundary band or in the rest are n/a where their maps were counted: the band
    holds no pixel (no mask has a boundary), or every pixel (each lies near one)."""
    width = accumulator.scoring.boundary_width
    notes = []
    for maps, probabilities in ((accumulator.test_maps, False), (accumulator.probability_maps, True)):
        if not maps.has_band or not maps.counts.any():
            continue  # no band reported, or no pixel counted (said by the note on what the calibration covers)
        no_band = "no mask has both object and background pixels, so none has a boundary"
        no_rest = f"every pixel lies within {width} px of a mask's object boundary"
        for scope, pixels, why in ((BOUNDARY, maps.boundary_counts, no_band),
                                   (REST, maps.counts - maps.boundary_counts, no_rest)):
            if not pixels.any():
                keys = [result_key(m.key, scope, probabilities=probabilities)
                        for m in calibration_metrics(maps.scored_by.name, scope)]
                notes.append(f"{joined(keys)} {plural('is', len(keys), 'are')} n/a: {why}")
    return notes


def empty_set_na(accumulator: DatasetAccumulator) -> frozenset[str]:
    """The SOD metrics n/a because every mask of the set is empty (the protocol's ``needs_foreground``)."""
    if accumulator.n_empty_masks < accumulator.n_images:
        return frozenset()
    return accumulator.protocol.needs_foreground


def _undefined_notes(accumulator: DatasetAccumulator) -> list[str]:
    """Per SOD metric, the images it leaves out (undefined there) and the images whose kept value the
    protocol notes, with why (:mod:`metrics.measures`); metrics alike are said together."""
    sod, n_images = accumulator.sod, accumulator.n_images
    na = empty_set_na(accumulator)  # said by the note on empty sets
    said: dict[tuple[str, str], list[str]] = {}
    for metric in sod_metrics(accumulator.protocol.name):
        if metric.key in na:
            continue
        quantities = metric.from_sod.quantities
        left_out, noted = sod.left_out(quantities), sod.noted(quantities)
        if left_out:
            covered = f"{metric.from_sod.covered(sod)} of {n_images} images, leaving out {_images(left_out)}"
            said.setdefault(("cover", covered), []).append(metric.key)
        if noted:
            said.setdefault(("include", _images(noted)), []).append(metric.key)
    return [
        f"{joined(keys)} {plural(verb + 's', len(keys), verb)} {text}" for (verb, text), keys in said.items()
    ]


def _images(conditions: dict[str, list[str]]) -> str:
    return "; ".join(f"{len(names)} image(s) whose {condition}: {abbreviate(names)}"
                     for condition, names in conditions.items())
