import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from calibrators.selective import SEL_CONTEXT, SelectiveScaling, fit_selective_scaling
from calibrators.temperature import T_MAX, fit_temperature


def edge_error_sample(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) whose mistakes all lie along the predicted edge: each mask is a random
    rectangle, which the "network" predicts with each side moved by -2..2 px, at a confidence
    (|logit| uniform in [4, 10]) that does not depend on being right. A pixel's own logit says
    little about whether it is wrong; a 5 x 5 patch shows whether an edge is near."""
    generator = torch.Generator().manual_seed(seed)
    rows, columns = torch.arange(size).view(1, 1, size, 1), torch.arange(size).view(1, 1, 1, size)

    def rectangle(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return (rows >= low[:, :1]) & (rows < high[:, :1]) & (columns >= low[:, 1:]) & (columns < high[:, 1:])

    low = torch.randint(3, size // 2 - 2, (n, 2, 1, 1), generator=generator)
    high = torch.randint(size // 2 + 2, size - 3, (n, 2, 1, 1), generator=generator)
    labels = rectangle(low, high)
    predicted = rectangle(low + torch.randint(-2, 3, (n, 2, 1, 1), generator=generator),
                          high + torch.randint(-2, 3, (n, 2, 1, 1), generator=generator))
    magnitude = 4 + 6 * torch.rand(n, 1, size, size, generator=generator)
    return torch.where(predicted, magnitude, -magnitude), labels


def images_marking_mistakes(logits: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Noisy images whose channel 0 shows which pixels the logits get wrong (+1) or right (-1)."""
    images = 0.5 * torch.randn(logits.shape[0], 3, *logits.shape[2:], generator=torch.Generator().manual_seed(seed))
    images[:, :1] += torch.where((logits >= 0) != labels, 1.0, -1.0)
    return images


def nll(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return F.binary_cross_entropy_with_logits(logits, labels.float()).item()


def ece(logits: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> float:
    """Equal-width ECE of the pixels' confidence max(p, 1 - p) against their correctness."""
    p = torch.sigmoid(logits.double()).flatten()
    confidence, correct = torch.maximum(p, 1 - p), ((p >= 0.5) == labels.flatten()).double()
    index = (confidence * bins).ceil().long().clamp(1, bins) - 1
    gaps = torch.bincount(index, confidence, bins) - torch.bincount(index, correct, bins)
    return (gaps.abs().sum() / len(p)).item()


@pytest.fixture(scope="module")
def edge_fits() -> dict[int, object]:
    logits, labels = edge_error_sample(24, 32, seed=0)
    return {context: fit_selective_scaling(logits, labels, context=context, seed=0) for context in (1, SEL_CONTEXT)}


@pytest.mark.parametrize("context, uses_images", [(1, False), (5, True)])
def test_starts_as_the_identity_at_any_size(context, uses_images):
    module = SelectiveScaling(context, uses_images)
    logits, images = 5 * torch.randn(2, 1, 7, 11), torch.randn(2, 3, 7, 11)
    assert torch.equal(module(logits, images), torch.ones(2, 1, 7, 11))


def test_a_context_detector_beats_the_pixel_only_one_where_mistakes_follow_the_edges(edge_fits):
    logits, labels = edge_error_sample(24, 32, seed=0)
    test_logits, test_labels = edge_error_sample(16, 32, seed=1)
    pixel, context = (test_logits / edge_fits[k].module(test_logits) for k in (1, SEL_CONTEXT))
    ts = test_logits / fit_temperature(logits, labels).temperature
    # measured: NLL 0.450 uncalibrated, 0.252 TS, 0.252 pixel-only, 0.176 context;
    #           ECE 0.061 uncalibrated, 0.031 TS, 0.032 pixel-only, 0.018 context
    assert nll(context, test_labels) < nll(pixel, test_labels) - 0.05
    assert nll(pixel, test_labels) < nll(test_logits, test_labels) - 0.1
    assert ece(context, test_labels) < 0.7 * ece(pixel, test_labels)
    assert ece(pixel, test_labels) < ece(test_logits, test_labels)
    # One logit per pixel gives the paper's detector nothing beyond what one temperature uses.
    assert nll(pixel, test_labels) == pytest.approx(nll(ts, test_labels), abs=0.01)
    # measured on the held-out validation images: precision 8 % pixel-only (it flags every pixel), 20 % context
    assert edge_fits[SEL_CONTEXT].precision > 1.5 * edge_fits[1].precision


def test_a_fit_reports_what_its_module_does_to_the_held_out_images(edge_fits):
    logits, labels = edge_error_sample(24, 32, seed=0)
    for fit in edge_fits.values():
        held_out = list(fit.held_out_indices)
        assert (fit.fitting_images, len(held_out)) == (17, 7)
        assert not fit.module.training and fit.converged and 1 <= fit.best_epoch <= fit.epochs_run
        logits_out, labels_out = logits[held_out], labels[held_out]
        temperature = fit.module(logits_out)
        assert fit.nll_before == pytest.approx(nll(logits_out, labels_out), rel=1e-4)
        assert fit.nll_after == pytest.approx(nll(logits_out / temperature, labels_out), rel=1e-4)
        assert fit.nll_after < fit.nll_before
        assert set(temperature.unique().tolist()) <= {1.0, fit.module.temperature.item()}
        assert fit.module.temperature.item() == pytest.approx(fit.temperature)
        assert fit.flagged_fraction == pytest.approx((temperature > 1).float().mean().item())
        mispredicted = (logits_out >= 0) != labels_out
        assert fit.mispredicted_fraction == pytest.approx(mispredicted.float().mean().item())
        assert fit.recall == pytest.approx((temperature[mispredicted] > 1).float().mean().item())
        assert 1 < fit.temperature < T_MAX and not fit.at_bound
        assert 0 < fit.threshold < 1 and fit.mispredicted_weight > 5
        assert "held-out NLL" in fit.describe() and "bound" not in fit.describe()
    assert "pixel-only" in edge_fits[1].describe() and "5 x 5 context" in edge_fits[SEL_CONTEXT].describe()


def test_a_detector_given_the_images_reads_them_and_reports_the_bound(edge_fits):
    logits, labels = edge_error_sample(24, 32, seed=0)
    fit = fit_selective_scaling(logits, labels, images_marking_mistakes(logits, labels, seed=0), seed=0)
    assert fit.module.uses_images and fit.recall > 0.9 and fit.precision > 0.7
    assert fit.nll_after < edge_fits[1].nll_after - 0.1  # the same held-out images: the split depends on the seed
    assert fit.at_bound and fit.temperature == T_MAX
    assert "pixel-only + image" in fit.describe() and "upper bound" in fit.describe()
    with pytest.raises(ValueError, match="reads the images"):
        fit.module(logits)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), context=st.sampled_from([1, 3, 5]), uses_images=st.booleans(),
       temperature=st.floats(1.0, T_MAX), scale=st.floats(1e-3, 50.0), height=st.integers(1, 9),
       width=st.integers(1, 9))
def test_no_decision_ever_changes(seed, context, uses_images, temperature, scale, height, width):
    generator = torch.Generator().manual_seed(seed)
    module = SelectiveScaling(context, uses_images)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(generator=generator)
    logits = scale * torch.randn(3, 1, height, width, generator=generator)
    logits[torch.rand(logits.shape, generator=generator) < 0.1] = 0.0  # p = 0.5 exactly: foreground
    images = torch.randn(3, 3, height, width, generator=generator)
    module.temperature.fill_(temperature)
    module.threshold.copy_(module.scores(logits, images).median())  # about half the pixels flagged
    scaled = logits / module(logits, images)
    assert torch.equal(scaled >= 0, logits >= 0)
    assert torch.equal(torch.sign(scaled), torch.sign(logits))


def test_no_decision_changes_under_a_fitted_module(edge_fits):
    logits = 10 * torch.randn(4, 1, 32, 32)
    scaled = logits / edge_fits[SEL_CONTEXT].module(logits)
    assert not torch.equal(scaled, logits)
    assert torch.equal(scaled >= 0, logits >= 0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 6), size=st.integers(1, 10), context=st.sampled_from([1, 3, 5]),
       with_images=st.booleans())
def test_a_validation_set_predicted_without_a_mistake_keeps_the_identity(seed, n, size, context, with_images):
    generator = torch.Generator().manual_seed(seed)
    logits = 8 * torch.randn(n, 1, size, size, generator=generator)
    images = torch.randn(n, 3, size, size, generator=generator) if with_images else None
    fit = fit_selective_scaling(logits, logits >= 0, images, context=context, seed=seed)
    assert not fit.converged and fit.temperature == 1.0 and (fit.best_epoch, fit.epochs_run) == (0, 0)
    assert fit.nll_after == fit.nll_before and fit.flagged_fraction == 0 == fit.mispredicted_fraction
    assert torch.equal(fit.module(logits, images), torch.ones_like(logits))
    assert "nothing for the detector to learn" in fit.describe()


def test_held_out_images_predicted_without_a_mistake_keep_the_identity():
    logits, labels = edge_error_sample(10, 16, seed=4)
    held_out = list(fit_selective_scaling(logits, logits >= 0, seed=7).held_out_indices)
    labels[held_out] = logits[held_out] >= 0  # mistakes in the fitting images only
    fit = fit_selective_scaling(logits, labels, context=SEL_CONTEXT, seed=7, epochs=3)
    assert list(fit.held_out_indices) == held_out and fit.best_epoch >= 1
    assert fit.mispredicted_fraction == 0 and not fit.converged and fit.temperature == 1.0
    assert fit.nll_after == fit.nll_before
    assert torch.equal(fit.module(logits), torch.ones_like(logits))
    assert "no T2" in fit.describe() and "keeps the identity" in fit.describe()


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), context=st.sampled_from([1, 3]), with_images=st.booleans())
def test_a_seed_gives_identical_fits_and_leaves_the_global_rng_alone(seed, context, with_images):
    logits, labels = edge_error_sample(6, 16, seed=2)
    images = images_marking_mistakes(logits, labels, seed=2) if with_images else None
    state = torch.random.get_rng_state()
    first = fit_selective_scaling(logits, labels, images, context=context, seed=seed, epochs=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    second = fit_selective_scaling(logits, labels, images, context=context, seed=seed, epochs=3)
    for field in dataclasses.fields(first):
        if field.name != "module":
            assert getattr(first, field.name) == getattr(second, field.name), field.name
    second_state = second.module.state_dict()
    for name, value in first.module.state_dict().items():
        assert torch.equal(value, second_state[name]), name


Z, Y, I = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 4, 4)


@pytest.mark.parametrize("logits, labels, images, options, message", [
    (torch.zeros(2, 4, 4), torch.zeros(2, 4, 4), None, {}, "N x 1 x h x w"),
    (torch.zeros(2, 1, 0, 4), torch.zeros(2, 1, 0, 4), None, {}, "N x 1 x h x w with pixels"),
    (Z, torch.zeros(2, 1, 4, 5), None, {}, "differ in shape"),
    (Z, Y, torch.zeros(2, 3, 4, 5), {}, "N x 3 x h x w"),
    (torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), None, {}, "at least 2"),
    (Z, torch.full((2, 1, 4, 4), 0.5), None, {}, "binary"),
    (torch.full((2, 1, 4, 4), float("nan")), Y, None, {}, "NaN or infinite"),
    (Z, Y, torch.full((2, 3, 4, 4), float("inf")), {}, "images hold NaN or infinite"),
    (Z, Y, I, {"context": 4}, "positive odd"),
    (Z, Y, I, {"held_out_fraction": 1.0}, "held_out_fraction"),
])
def test_bad_input_is_rejected_with_a_reason(logits, labels, images, options, message):
    with pytest.raises(ValueError, match=message):
        fit_selective_scaling(logits, labels, images, seed=0, epochs=1, **options)
