"""Counting the pixels of 8-bit maps against their masks: the one counter that the scorer
(:mod:`evaluate.accumulate`) and the training's validation pass (:mod:`training.validation`) both use.

An image's pixels are counted as joint (prediction level, mask level) histograms
(:func:`metrics.calibration.joint_histogram`): one of all its pixels and one of the pixels in its mask's
boundary band (:mod:`metrics.boundary`). A rule of which pixels are correct (a protocol's
``correct_table``) turns them into the level counts every calibration metric is computed from
(:func:`metrics.calibration.level_counts_from_joint`). Histograms and level counts add over images,
so the counts of a set are the same whether each image is turned into level counts and added (the
scorer, which also needs each image's own) or the histograms are added first (the validation pass,
which adds them across processes and reads them under two rules).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.boundary import boundary_band
from metrics.calibration import N_LEVELS, joint_histogram, level_counts_from_joint


@dataclass(frozen=True)
class LevelCounts:
    """(256, 2) level counts under one rule: of every pixel, and of the boundary band's (None where not counted)."""

    pixels: np.ndarray
    band: np.ndarray | None


@dataclass(frozen=True)
class PixelCounts:
    """Pixels per (prediction level, mask level), ``[v, g]``: of every pixel, and of the pixels in the
    masks' boundary bands (None where the band is not counted)."""

    joint: np.ndarray  # (256, 256) int64
    band_joint: np.ndarray | None  # the same, of the band's pixels

    @classmethod
    def zeros(cls) -> PixelCounts:
        """No pixel yet, the band counted: the start of a sum over images."""
        empty = np.zeros((N_LEVELS, N_LEVELS), dtype=np.int64)
        return cls(empty, empty.copy())

    def __add__(self, other: PixelCounts) -> PixelCounts:
        if self.band_joint is None or other.band_joint is None:
            raise ValueError("only counts that both count the boundary band can be added")
        return PixelCounts(self.joint + other.joint, self.band_joint + other.band_joint)

    def level_counts(self, correct: np.ndarray) -> LevelCounts:
        """The level counts under ``correct[d, g]``, whether a pixel of decision d and mask level g is right."""
        band = None if self.band_joint is None else level_counts_from_joint(self.band_joint, correct)
        return LevelCounts(level_counts_from_joint(self.joint, correct), band)


def count_pixels(
    pred_u8: np.ndarray, gt_u8: np.ndarray, boundary_width: int | None, joint: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> PixelCounts:
    """The pixels of one map ``pred_u8`` against its mask ``gt_u8`` (uint8, one shape), and those of the
    mask's boundary band of ``boundary_width`` (None: the band is not counted). ``joint``: the map's
    joint histogram where the caller has built it already (of the same pixels). ``valid``: the pixels
    counted (None: all); the others (a mask's void) count nowhere, while the band is that of ``gt_u8``,
    which shows them as background."""
    if joint is None:
        joint = joint_histogram(pred_u8, gt_u8, valid)
    if boundary_width is None:
        return PixelCounts(joint, None)
    band = boundary_band(gt_u8, boundary_width)
    if valid is not None:
        band &= valid
    return PixelCounts(joint, joint_histogram(pred_u8[band], gt_u8[band]))
