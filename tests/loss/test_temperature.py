import math

import pytest
import torch
import torch.nn.functional as F

from loss import fit_temperature


def calibrated_sample(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits z ~ N(0, 3^2) and labels drawn from sigmoid(z): calibrated at T = 1 by construction."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=generator, dtype=torch.float64) * 3
    labels = torch.rand(n, generator=generator, dtype=torch.float64) < torch.sigmoid(z)
    return z, labels


@pytest.mark.parametrize("t_true", [0.5, 2.0])
def test_recovers_a_known_temperature(t_true):
    z, labels = calibrated_sample(200_000, seed=int(t_true * 10))
    logits = (z * t_true).float()
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(t_true, rel=0.03)
    # and it is the minimiser, to well within 1e-4 relative
    def nll(temperature: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.double() / temperature, labels.double())

    assert nll(t) <= min(nll(t * (1 + 1e-4)), nll(t * (1 - 1e-4)))


def test_scaling_keeps_every_thresholded_pixel():
    z, labels = calibrated_sample(10_000, seed=3)
    logits = (z * 2.0).float().view(4, 1, 50, 50)
    t = fit_temperature(logits, labels.view(4, 1, 50, 50))
    assert not math.isclose(t, 1.0, rel_tol=0.1)
    assert torch.equal(torch.sigmoid(logits / t) >= 0.5, torch.sigmoid(logits) >= 0.5)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        fit_temperature(torch.zeros(4), torch.zeros(5))
