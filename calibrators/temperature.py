"""Temperature scaling (TS): the post-hoc baseline that fits one temperature on held-out pixels.

Not a training objective: the trained network stays as it is and its logits are divided by the
fitted temperature. Since T > 0, no decision (p >= 0.5) changes. The temperature is searched in a
bounded interval, shared with local temperature scaling, because on segmentation validation pixels
that are nearly all confident and correct the NLL keeps falling as T shrinks: an unbounded fit
would run away to T -> 0. `TemperatureFit` reports whether the fit ended at a bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

from calibrators.checks import check_fit_inputs

T_MAX = 20.0  # the flattest temperature allowed
T_MIN = 1 / T_MAX  # the sharpest, symmetric in log T so that LTS can centre its bounded map on T = 1
LOG_T_BOUNDS = (-math.log(T_MAX), math.log(T_MAX))
TS_MAX_EVALUATIONS = 500  # NLL evaluations the bounded search may spend before giving up
LOG_T_TOLERANCE = 1e-6  # the search stops when log T is known to within this


def pixel_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The BCE-with-logits of each pixel against binary labels (0/1, same dtype as the logits).

    For binary labels it is softplus of the logit signed against the label. Unlike the library's
    BCE, which rounds the loss of a confident, correct background pixel to exactly 0, softplus keeps
    it, so the NLL does not turn flat as T shrinks and a search can see where it still falls.
    """
    return F.softplus(logits * (1 - 2 * labels))


@dataclass(frozen=True)
class TemperatureFit:
    """The fitted temperature and how much to trust it. NLLs are the mean BCE over the fitted pixels."""

    temperature: float
    nll_before: float  # at T = 1
    nll_after: float  # at `temperature`
    pixels: int
    positive_fraction: float  # share of foreground labels among the pixels
    at_bound: bool  # the optimum sits at T_MIN or T_MAX: the true minimiser may lie beyond
    converged: bool  # False: the search ran out of evaluations and `temperature` is its best so far
    evaluations: int  # NLL evaluations the search spent

    def describe(self) -> str:
        """One line for the log: the fit, and plainly when it is not to be trusted and why."""
        line = (f"T = {self.temperature:.4f} fitted on {self.pixels} validation pixels "
                f"(NLL {self.nll_before:.4f} at T = 1 -> {self.nll_after:.4f})")
        if self.positive_fraction in (0.0, 1.0):
            kind = "foreground" if self.positive_fraction == 1.0 else "background"
            line += f"; every validation pixel is {kind}, so the fit says nothing about the other class"
        if self.at_bound and self.temperature < 1.0:
            line += (f"; T hit the lower bound T_MIN = {T_MIN}: nearly every validation pixel is confident and "
                     "correct, so the NLL keeps falling as the maps sharpen; the maps are sharpened as far as "
                     "allowed and this temperature is not a calibration (validate on more or harder images)")
        elif self.at_bound:
            line += (f"; T hit the upper bound T_MAX = {T_MAX}: the validation pixels are mostly confidently "
                     "wrong, so the NLL keeps falling as the maps flatten towards 0.5; this temperature is not a "
                     "calibration (check the weights and the validation masks)")
        if not self.converged:
            line += (f"; the search did not converge within {self.evaluations} evaluations, "
                     "so T is only the best value it reached")
        return line


def fit_temperature(
    logits: torch.Tensor, labels: torch.Tensor, *, max_evaluations: int = TS_MAX_EVALUATIONS,
) -> TemperatureFit:
    """The temperature T in [T_MIN, T_MAX] minimising the mean BCE-with-logits of logits / T against
    binary labels (bool, or 0/1 of any dtype), with the diagnostics of the fit.

    The NLL is convex in 1 / T, hence unimodal in log T, so a bounded Brent search on log T finds it.
    """
    check_fit_inputs(logits, labels)
    if logits.numel() == 0:
        raise ValueError("no validation pixels to fit a temperature on: the validation split is empty")
    z = logits.detach().to(torch.float64)
    y = labels.detach().to(device=z.device, dtype=torch.float64)

    def nll(log_t: float) -> float:
        return pixel_nll(z * math.exp(-log_t), y).mean().item()

    result = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded",
                             options={"xatol": LOG_T_TOLERANCE, "maxiter": max_evaluations})
    log_t, nll_after = float(result.x), float(result.fun)
    # The search never evaluates the bounds themselves; where one does at least as well, the NLL
    # still falls beyond it and the fit sits there.
    for bound in LOG_T_BOUNDS:
        if nll(bound) <= nll_after:
            log_t, nll_after = bound, nll(bound)
    return TemperatureFit(
        temperature=math.exp(log_t), nll_before=nll(0.0), nll_after=nll_after, pixels=z.numel(),
        positive_fraction=y.mean().item(), at_bound=log_t in LOG_T_BOUNDS, converged=bool(result.success),
        evaluations=int(result.nfev),
    )
