import pytest
import torch

from loss import AdaptiveAlpha, build_objective, image_statistics, update_alpha
from common.settings import ASLPSettings
from tests.tiny import BASELINES

BETA, ETA, LAM = 2.0, 0.002, 2000.0


def step(alpha, bce, entropy, accuracy, beta=BETA, eta=ETA, lam=LAM):
    return update_alpha(torch.tensor([alpha]), torch.tensor([bce]), torch.tensor([entropy]), accuracy,
                        beta, eta, lam).item()


def test_entropy_gain_without_penalty():
    # (1 - 0.9) - 2 * 0.01 = 0.08 > 0: no penalty; 0.01 + 0.002 * (1.5 - 0.4) / 2 = 0.0111
    assert step(0.01, 0.2, 1.5, 0.9) == pytest.approx(0.0111, abs=1e-7)


def test_penalty_when_label_confidence_falls_below_accuracy():
    # (1 - 0.9) - 2 * 0.06 = -0.02, times lambda 10 = -0.2; 0.06 + 0.002 * (0.55 - 0.2) = 0.0607
    assert step(0.06, 0.2, 1.5, 0.9, lam=10.0) == pytest.approx(0.0607, abs=1e-7)


def test_negative_alpha_is_clamped_to_zero():
    # 0.1 + 0.002 * (0.55 + 2000 * ((1 - 0.9) - 0.2)) = -0.2989 -> 0
    assert step(0.1, 0.2, 1.5, 0.9) == 0.0


def test_alpha_at_or_above_half_over_beta_is_pulled_below_it():
    # 0.249 + 0.002 * (10 - 0) / 2 = 0.259 >= 1 / (2 * 2) -> 0.25 - 0.01
    assert step(0.249, 0.0, 10.0, 0.0) == pytest.approx(0.24)
    # landing exactly on the ceiling counts as reaching it: 0.24 + 0.002 * 5 = 0.25
    assert step(0.24, 0.0, 10.0, 0.0) == pytest.approx(0.24)


def test_without_accuracy_only_the_clamp_acts():
    assert step(0.1, 0.2, 1.5, None) == pytest.approx(0.1 + 0.002 * 0.55)


def test_controller_updates_only_the_batch_and_only_after_start_epoch():
    controller = AdaptiveAlpha(6, BETA, ETA, LAM, start_epoch=5, mode="MC")
    assert not controller.is_active(5) and controller.is_active(6)
    index = torch.tensor([1, 4])
    controller.update(index, torch.tensor([0.1, 0.1]), torch.tensor([2.0, 3.0]), torch.tensor(0.5))
    changed = controller.alpha != 0
    assert changed.tolist() == [False, True, False, False, True, False]
    assert controller[index].tolist() == pytest.approx([0.002 * 1.8 / 2, 0.002 * 2.8 / 2])


def test_conservative_mode_ignores_the_accuracy():
    mc = AdaptiveAlpha(1, BETA, ETA, LAM, 0, "MC")
    cs = AdaptiveAlpha(1, BETA, ETA, LAM, 0, "CS")
    mc.alpha.fill_(0.2)
    cs.alpha.fill_(0.2)
    args = (torch.tensor([0]), torch.tensor([0.1]), torch.tensor([2.0]), torch.tensor(0.99))
    assert mc.update(*args).item() == 0.0
    assert cs.update(*args).item() == pytest.approx(0.2 + 0.002 * 0.9)


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="ASLP_MODE"):
        AdaptiveAlpha(1, BETA, ETA, LAM, 0, "XX")


def test_image_statistics_match_a_direct_computation():
    torch.manual_seed(0)
    logits = torch.randn(3, 1, 4, 4) * 4
    gt = (torch.rand(3, 1, 4, 4) > 0.5).float()
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    bce, entropy = image_statistics(logits, gt)
    assert torch.allclose(bce, (-(gt * p.log() + (1 - gt) * (1 - p).log())).mean((1, 2, 3)), atol=1e-6)
    assert torch.allclose(entropy, (-(p * (1 - p)).log()).mean((1, 2, 3)), atol=1e-5)


def test_aslp_objective_uses_and_updates_its_alpha_table():
    aslp = ASLPSettings(aslp_mode="MC", perturb_noise=False, beta=BETA, eta=ETA, lambda_=LAM, start_epoch=1)
    objective = build_objective("ASLP", aslp, BASELINES, num_images=4, generator=torch.Generator().manual_seed(0),
                                device="cpu")
    index = torch.tensor([0, 2])
    objective.after_step(index, torch.tensor([0.1, 0.1]), torch.tensor([2.0, 2.0]), 1, torch.tensor(0.5))
    assert torch.all(objective.state_dict()["alpha"] == 0)
    objective.after_step(index, torch.tensor([0.1, 0.1]), torch.tensor([2.0, 2.0]), 2, torch.tensor(0.5))
    assert objective.alpha_of(index).tolist() == pytest.approx([0.0018, 0.0018])
    with pytest.raises(ValueError, match="unknown METHOD"):
        build_objective("Nope", aslp, BASELINES)
