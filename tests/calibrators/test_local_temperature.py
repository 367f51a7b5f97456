import pytest
import torch
import torch.nn.functional as F

from calibrators.local_temperature import LocalTemperature, apply_local_temperature, fit_local_temperature
from calibrators.temperature import T_MAX, T_MIN, fit_temperature

OVER_CONFIDENT, UNDER_CONFIDENT = 3.0, 0.5  # the regions' true temperatures


def regional_sample(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, images, labels, region) whose miscalibration varies across each image: labels are drawn
    from sigmoid(z); the logits are 3 z left of a random column (over-confident) and 0.5 z right of it
    (under-confident). Image channel 0 shows the region (+1 / -1, under noise)."""
    generator = torch.Generator().manual_seed(seed)
    z = 2 * torch.randn(n, 1, size, size, generator=generator)
    labels = torch.rand(n, 1, size, size, generator=generator) < torch.sigmoid(z)
    columns = torch.randint(size // 4, 3 * size // 4, (n, 1, 1, 1), generator=generator)
    region = (torch.arange(size).view(1, 1, 1, size) < columns).expand(n, 1, size, size)
    images = 0.5 * torch.randn(n, 3, size, size, generator=generator)
    images[:, :1] += torch.where(region, 1.0, -1.0)
    logits = torch.where(region, z * OVER_CONFIDENT, z * UNDER_CONFIDENT)
    return logits, images, labels, region


def nll(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return F.binary_cross_entropy_with_logits(logits, labels.float()).item()


@pytest.fixture(scope="module")
def regional_fit():
    logits, images, labels, _ = regional_sample(16, 24, seed=0)
    return fit_local_temperature(logits, images, labels, epochs=15, lr=0.01, seed=0)


@pytest.mark.parametrize("per_image", [False, True])
def test_starts_as_the_identity_at_any_size(per_image):
    module = LocalTemperature(per_image=per_image)
    logits, images = 5 * torch.randn(2, 1, 7, 11), torch.randn(2, 3, 7, 11)
    assert torch.equal(module(logits, images), torch.ones(2, 1, 7, 11))
    assert torch.equal(apply_local_temperature(module, logits, images), logits)


def test_temperatures_stay_within_the_bounds_of_ts():
    module = LocalTemperature()
    logits, images = 5 * torch.randn(1, 1, 8, 8), torch.randn(1, 3, 8, 8)
    for bias, bound in ((1e3, T_MAX), (-1e3, T_MIN)):
        torch.nn.init.constant_(module.head.bias, bias)
        assert torch.allclose(module(logits, images), torch.full_like(logits, bound))


def test_the_image_level_variant_gives_one_temperature_per_image():
    module = LocalTemperature(per_image=True)
    torch.nn.init.normal_(module.head.weight, generator=torch.Generator().manual_seed(0))
    logits, images = 5 * torch.randn(3, 1, 9, 9), torch.randn(3, 3, 9, 9)
    temperature = module(logits, images)
    assert torch.equal(temperature, temperature[:, :, :1, :1].expand_as(temperature))
    assert temperature[:, 0, 0, 0].unique().numel() == 3


def test_lts_beats_ts_where_miscalibration_varies_across_the_image(regional_fit):
    logits, images, labels, region = regional_sample(16, 24, seed=0)
    test_logits, test_images, test_labels, test_region = regional_sample(8, 24, seed=1)
    ts = fit_temperature(logits, labels).temperature
    lts_nll = nll(apply_local_temperature(regional_fit.module, test_logits, test_images), test_labels)
    ts_nll = nll(test_logits / ts, test_labels)
    oracle_nll = nll(torch.where(test_region, test_logits / OVER_CONFIDENT, test_logits / UNDER_CONFIDENT), test_labels)
    assert lts_nll < ts_nll - 0.03  # measured: LTS 0.472, TS 0.531, oracle 0.463, uncalibrated 0.589
    assert lts_nll - oracle_nll < (ts_nll - oracle_nll) / 4
    temperature = regional_fit.module(test_logits, test_images)
    assert temperature[test_region].mean() > 2 and temperature[~test_region].mean() < 1


def test_fit_reports_a_held_out_improvement_in_eval_mode(regional_fit):
    assert not regional_fit.module.training
    assert regional_fit.converged and regional_fit.best_epoch >= 1
    assert regional_fit.nll_after < regional_fit.nll_before - 0.05
    assert (regional_fit.fitting_images, regional_fit.held_out_images) == (13, 3)
    assert "held-out NLL" in regional_fit.describe()


def test_no_decision_changes(regional_fit):
    logits, images = 10 * torch.randn(4, 1, 24, 24), torch.randn(4, 3, 24, 24)
    scaled = apply_local_temperature(regional_fit.module, logits, images)
    assert not torch.equal(scaled, logits)
    assert torch.equal(torch.sign(scaled), torch.sign(logits))


def test_fit_is_deterministic_for_a_seed_and_leaves_the_global_rng_alone():
    logits, images, labels, _ = regional_sample(6, 12, seed=2)
    state = torch.random.get_rng_state()
    first = fit_local_temperature(logits, images, labels, epochs=3, lr=0.01, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    second = fit_local_temperature(logits, images, labels, epochs=3, lr=0.01, seed=5)
    assert first.nll_after == second.nll_after
    for name, value in first.module.state_dict().items():
        assert torch.equal(value, second.module.state_dict()[name]), name


def test_a_fit_that_never_beats_the_identity_keeps_it_and_says_so():
    logits, images, labels, _ = regional_sample(6, 12, seed=3)
    fit = fit_local_temperature(logits, images, labels.float(), epochs=4, lr=0.0, patience=2)
    assert not fit.converged and fit.best_epoch == 0 and fit.epochs_run == 2
    assert fit.nll_after == fit.nll_before
    assert torch.equal(fit.module(logits, images), torch.ones_like(logits))
    assert "keeps the identity" in fit.describe()


@pytest.mark.parametrize("logits, images, labels, message", [
    (torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 4, 5), torch.zeros(2, 1, 4, 4), "N x 3 x h x w"),
    (torch.zeros(2, 4, 4), torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4), "N x 1 x h x w"),
    (torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4), "at least 2"),
    (torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 4, 4), torch.full((2, 1, 4, 4), 0.5), "binary"),
    (torch.full((2, 1, 4, 4), float("inf")), torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 4, 4), "NaN or infinite"),
])
def test_bad_input_is_rejected_with_a_reason(logits, images, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_local_temperature(logits, images, labels, epochs=1, lr=0.01)
