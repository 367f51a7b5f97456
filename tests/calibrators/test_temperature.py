import math

import pytest
import torch
import torch.nn.functional as F

from calibrators.temperature import T_MAX, T_MIN, fit_temperature


def calibrated_sample(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits z ~ N(0, 3^2) and labels drawn from sigmoid(z): calibrated at T = 1 by construction."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=generator, dtype=torch.float64) * 3
    labels = torch.rand(n, generator=generator, dtype=torch.float64) < torch.sigmoid(z)
    return z, labels


def confident_logits(n: int, seed: int) -> torch.Tensor:
    """Logits of magnitude 6 to 10, either sign: every pixel confident."""
    generator = torch.Generator().manual_seed(seed)
    return (6 + 4 * torch.rand(n, generator=generator)) * torch.where(torch.rand(n, generator=generator) < 0.5, -1, 1)


@pytest.mark.parametrize("t_true", [0.5, 2.0])
def test_recovers_a_known_temperature(t_true):
    z, labels = calibrated_sample(200_000, seed=int(t_true * 10))
    logits = (z * t_true).float()
    fit = fit_temperature(logits, labels)
    assert fit.temperature == pytest.approx(t_true, rel=0.03)
    assert fit.converged and not fit.at_bound
    assert fit.pixels == 200_000
    assert fit.nll_after < fit.nll_before
    assert "bound" not in fit.describe() and "converge" not in fit.describe()
    # and it is the minimiser, to well within 1e-4 relative
    def nll(temperature: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.double() / temperature, labels.double())

    assert nll(fit.temperature) <= min(nll(fit.temperature * (1 + 1e-4)), nll(fit.temperature * (1 - 1e-4)))
    assert fit.nll_after == pytest.approx(nll(fit.temperature).item())
    assert fit.nll_before == pytest.approx(nll(1.0).item())


def test_scaling_keeps_every_decision():
    z, labels = calibrated_sample(10_000, seed=3)
    logits = (z * 2.0).float().view(4, 1, 50, 50)
    t = fit_temperature(logits, labels.view(4, 1, 50, 50)).temperature
    assert not math.isclose(t, 1.0, rel_tol=0.1)
    assert torch.equal(torch.sign(logits / t), torch.sign(logits))
    assert torch.equal(torch.sigmoid(logits / t) >= 0.5, torch.sigmoid(logits) >= 0.5)


def test_confident_and_correct_pixels_hit_the_lower_bound_and_say_so():
    # The segmentation pitfall: with every validation pixel confident and correct the NLL falls
    # all the way to T -> 0; the fit must stop at T_MIN and flag it.
    logits = confident_logits(20_000, seed=0)
    fit = fit_temperature(logits, logits > 0)
    assert fit.temperature == pytest.approx(T_MIN, rel=1e-12)
    assert fit.at_bound and fit.converged
    assert "lower bound" in fit.describe() and "not a calibration" in fit.describe()


def test_confident_and_wrong_pixels_hit_the_upper_bound_and_say_so():
    logits = confident_logits(20_000, seed=1)
    fit = fit_temperature(logits, logits < 0)
    assert fit.temperature == pytest.approx(T_MAX, rel=1e-12)
    assert fit.at_bound
    assert "upper bound" in fit.describe()


def test_labels_of_one_class_are_fitted_and_flagged():
    # Confident, correct background pixels only: the library's BCE rounds their loss to exactly 0
    # once |logit| / T passes about 37 (here below T ~ 0.2), a flat stretch where a search would stop
    # anywhere; the fit must still reach T_MIN.
    logits = -confident_logits(5_000, seed=2).abs()
    fit = fit_temperature(logits, torch.zeros(5_000, dtype=torch.bool))
    assert fit.positive_fraction == 0.0 and fit.at_bound
    assert fit.temperature == pytest.approx(T_MIN, rel=1e-12)
    assert "every validation pixel is background" in fit.describe()


def test_a_search_that_runs_out_of_evaluations_says_so():
    z, labels = calibrated_sample(1_000, seed=4)
    fit = fit_temperature(z * 2, labels, max_evaluations=3)
    assert not fit.converged and fit.evaluations == 3
    assert "did not converge within 3 evaluations" in fit.describe()


@pytest.mark.parametrize("logits, labels, message", [
    (torch.zeros(4), torch.zeros(5), "shape"),
    (torch.zeros(0), torch.zeros(0), "no validation pixels"),
    (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 0.0]), "NaN"),
    (torch.zeros(3), torch.tensor([0.0, 0.5, 1.0]), "binary"),
])
def test_bad_input_is_rejected_with_a_reason(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, labels)
