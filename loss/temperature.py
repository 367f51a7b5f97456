"""Temperature scaling: the post-hoc baseline that fits one temperature on held-out pixels.

Not a training objective; scale logits by dividing them by the fitted temperature.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

LOG_T_BOUNDS = (math.log(0.05), math.log(20.0))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T > 0 minimising the mean BCE-with-logits of logits / T against binary labels.

    The NLL is convex in 1 / T, hence unimodal in log T, so a bounded Brent search on log T finds it.
    """
    if logits.shape != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in shape")
    z = logits.detach().to(torch.float64)
    y = labels.detach().to(device=z.device, dtype=torch.float64)

    def nll(log_t: float) -> float:
        return F.binary_cross_entropy_with_logits(z * math.exp(-log_t), y).item()

    result = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return math.exp(result.x)
