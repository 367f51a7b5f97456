"""The input checks every post-hoc calibrator's fit shares: what it is given must be usable, and
where it is not the error says why and what to do."""
from __future__ import annotations

import torch


def check_fit_inputs(logits: torch.Tensor, labels: torch.Tensor) -> None:
    """Raise ValueError unless the logits are finite and the labels, of the same shape, are binary
    (bool or 0/1 of any dtype)."""
    if logits.shape != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in shape")
    if not torch.isfinite(logits).all():
        raise ValueError("the logits hold NaN or infinite values: the network's weights are broken")
    if not ((labels == 0) | (labels == 1)).all():
        raise ValueError("labels must be binary (bool or 0/1): threshold the masks before fitting")
