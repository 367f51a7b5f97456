import pytest
import torch
import torch.nn.functional as F

from loss import perturb_labels, sc_bce


def soft_masks(n: int, size: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


def test_fraction_of_perturbed_images_matches_alpha():
    gt = torch.zeros(40000, 1, 2, 2)
    alpha = torch.full((40000,), 0.2)
    out = perturb_labels(gt, alpha, beta=2.0, generator=torch.Generator().manual_seed(0))
    perturbed = (out != gt).flatten(1).all(1)
    # 0.2 +- 4 standard deviations of a binomial proportion
    assert abs(perturbed.float().mean().item() - 0.2) < 4 * (0.2 * 0.8 / 40000) ** 0.5


def test_perturbed_images_get_the_affine_label_and_others_stay_clean():
    gt = soft_masks(2000)
    alpha = torch.linspace(0, 0.5, 2000)
    beta = 2.0
    out = perturb_labels(gt, alpha, beta, generator=torch.Generator().manual_seed(1))
    flipped = torch.isclose(out, (1 - 2 * beta) * gt + beta).flatten(1).all(1)
    kept = torch.equal(out[~flipped], gt[~flipped])
    assert kept and flipped.any() and (~flipped).any()
    assert not flipped[alpha == 0].any()


def test_whole_images_are_perturbed_never_single_pixels():
    gt = torch.full((500, 1, 8, 8), 0.25)
    out = perturb_labels(gt, torch.full((500,), 0.5), beta=1.0, generator=torch.Generator().manual_seed(2))
    per_image = (out != gt).flatten(1)
    assert torch.equal(per_image.all(1), per_image.any(1))


def test_beta_one_flips_the_mask():
    gt = torch.tensor([0.0, 1.0, 0.3]).view(1, 1, 1, 3)
    out = perturb_labels(gt, torch.ones(1), beta=1.0)
    assert torch.allclose(out.flatten(), torch.tensor([1.0, 0.0, 0.7]))


def test_same_generator_seed_same_perturbation():
    gt, alpha = soft_masks(64), torch.full((64,), 0.3)
    a = perturb_labels(gt, alpha, 2.0, torch.Generator().manual_seed(5))
    b = perturb_labels(gt, alpha, 2.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_sc_bce_is_label_smoothing_in_expectation():
    """Mean SC-BCE over many draws equals BCE against (1 - 2 alpha beta) y + alpha beta."""
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 5, 5) * 3
    gt = (soft_masks(4, 5) > 0.5).float()
    alpha, beta = torch.tensor([0.0, 0.05, 0.1, 0.2]), 2.0
    generator = torch.Generator().manual_seed(3)
    draws = 20000
    per_image = torch.stack([
        F.binary_cross_entropy_with_logits(logits, perturb_labels(gt, alpha, beta, generator), reduction="none").mean((1, 2, 3))
        for _ in range(draws)
    ])
    smoothed = (1 - 2 * alpha * beta).view(-1, 1, 1, 1) * gt + (alpha * beta).view(-1, 1, 1, 1)
    expected = F.binary_cross_entropy_with_logits(logits, smoothed, reduction="none").mean((1, 2, 3))
    tolerance = 4 * per_image.std(0) / draws ** 0.5 + 1e-6
    assert torch.all((per_image.mean(0) - expected).abs() <= tolerance)
    assert sc_bce(logits, smoothed).item() == pytest.approx(expected.mean().item(), rel=1e-6)


def test_noise_stays_within_its_bounds_and_only_on_perturbed_images():
    gt = (soft_masks(400, 8) > 0.5).float()
    alpha = torch.full((400,), 0.5)
    beta = 2.0
    clean = perturb_labels(gt, alpha, beta, torch.Generator().manual_seed(7))
    noisy = perturb_labels(gt, alpha, beta, torch.Generator().manual_seed(7), noise=True)
    perturbed = (clean != gt).flatten(1).all(1)
    assert perturbed.any() and (~perturbed).any()
    assert torch.equal(noisy[~perturbed], gt[~perturbed])  # unperturbed images get no noise
    jitter = noisy[perturbed] - clean[perturbed]
    assert jitter.abs().max() <= 0.25 + 1e-6
    # A standard normal truncated to [-0.25, 0.25] is nearly flat there: std about 0.144, mean 0.
    assert 0.13 < jitter.std().item() < 0.155 and abs(jitter.mean().item()) < 0.01
    assert (jitter != 0).float().mean() > 0.99  # per pixel, not one value per image


def test_noise_off_by_default():
    gt, alpha = soft_masks(32), torch.full((32,), 0.5)
    assert torch.equal(perturb_labels(gt, alpha, 2.0, torch.Generator().manual_seed(1)),
                       perturb_labels(gt, alpha, 2.0, torch.Generator().manual_seed(1), noise=False))
