import math
import re

import pytest
import torch
import torch.nn.functional as F

from dataclasses import fields, replace

from loss import (
    OBJECTIVES, Objective, build_objective, inert_reason, objective_constants, perturb_labels, training_note,
)
from common.settings import ASLPSettings, BaselineSettings
from tests.tiny import BASELINES as TINY_BASELINES

# The settings groups the training script builds, for ASLP and the baselines.
ASLP = ASLPSettings(aslp_mode="MC", perturb_noise=False, beta=2.0, eta=0.002, lambda_=2000.0, start_epoch=0)
BASELINES = replace(TINY_BASELINES, dl_alpha=0.3, focal_gamma=2.0)

# One image of two pixels: a confident correct foreground and a mildly correct background.
LOGITS = torch.tensor([2.0, -1.0]).view(1, 1, 1, 2)
LABELS = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
INDEX = torch.tensor([0])


def groups(**overrides) -> tuple[ASLPSettings, BaselineSettings]:
    def of(group):
        return {f.name: overrides[f.name] for f in fields(group) if f.name in overrides}
    return replace(ASLP, **of(ASLP)), replace(BASELINES, **of(BASELINES))


def build(name: str, generator: torch.Generator | None = None, **overrides) -> Objective:
    # A fresh generator per objective, so tests do not share random draws.
    return build_objective(name, *groups(**overrides), num_images=8, device="cpu",
                           generator=generator or torch.Generator().manual_seed(0))


def softplus(x: float) -> float:
    return math.log(1 + math.exp(x))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# BCE with logits against target t is softplus(x) - t * x.
BCE = (softplus(2.0) - 2.0 + softplus(-1.0)) / 2


def test_registry_order():
    assert list(OBJECTIVES) == ["BCE", "ASLP", "LS", "DisturbLabel", "SLP", "Focal", "Brier", "MbLS", "SVLS", "NACL"]


def test_bce_hand_value():
    assert build("BCE")(LOGITS, LABELS, INDEX).item() == pytest.approx(BCE, rel=1e-6)


def test_label_smoothing_hand_value():
    # eps = 0.2: targets 0.9 and 0.1
    expected = ((softplus(2.0) - 0.9 * 2.0) + (softplus(-1.0) + 0.1 * 1.0)) / 2
    assert build("LS", ls_epsilon=0.2)(LOGITS, LABELS, INDEX).item() == pytest.approx(expected, rel=1e-6)


def test_disturb_label_with_certain_flip_is_bce_against_the_flipped_mask():
    # targets 0 and 1: -log(1 - sigmoid(2)) = softplus(2), -log(sigmoid(-1)) = softplus(1)
    expected = (softplus(2.0) + softplus(1.0)) / 2
    assert build("DisturbLabel", dl_alpha=1.0)(LOGITS, LABELS, INDEX).item() == pytest.approx(expected, rel=1e-6)
    logits, gt = torch.randn(4, 1, 3, 3), torch.rand(4, 1, 3, 3)
    loss = build("DisturbLabel", dl_alpha=1.0)(logits, gt, torch.arange(4))
    assert torch.allclose(loss, F.binary_cross_entropy_with_logits(logits, 1 - gt), atol=0)


def test_slp_hand_value_and_constant_alpha():
    # alpha = 1, beta = 2: targets (1 - 4) * y + 2 = -1 and 2
    expected = ((softplus(2.0) + 1.0 * 2.0) + (softplus(-1.0) + 2.0 * 1.0)) / 2
    assert build("SLP", slp_alpha=1.0)(LOGITS, LABELS, INDEX).item() == pytest.approx(expected, rel=1e-6)
    index = torch.tensor([3, 0, 5])
    assert build("SLP", slp_alpha=0.07).alpha_of(index).tolist() == pytest.approx([0.07] * 3)


def test_slp_perturbs_as_perturb_labels_does():
    logits, gt = torch.randn(64, 1, 2, 2), torch.rand(64, 1, 2, 2)
    loss = build("SLP", slp_alpha=0.3, generator=torch.Generator().manual_seed(7))(logits, gt, torch.arange(64))
    target = perturb_labels(gt, torch.full((64,), 0.3), 2.0, torch.Generator().manual_seed(7))
    assert torch.equal(loss, F.binary_cross_entropy_with_logits(logits, target))
    assert not torch.equal(target, gt)


@pytest.mark.parametrize("name, zero", [("LS", {"ls_epsilon": 0.0}), ("SLP", {"slp_alpha": 0.0}),
                                        ("DisturbLabel", {"dl_alpha": 0.0})])
def test_zero_strength_is_plain_bce(name, zero):
    logits, gt = torch.randn(4, 1, 5, 5) * 3, torch.rand(4, 1, 5, 5)
    assert torch.equal(build(name, **zero)(logits, gt, torch.arange(4)), build("BCE")(logits, gt, torch.arange(4)))


def test_focal_hand_values():
    # gamma = 2: -(1 - p_t)^2 log p_t with p_t = sigmoid(2) and sigmoid(1)
    p1, p2 = sigmoid(2.0), sigmoid(1.0)
    expected = (-(1 - p1) ** 2 * math.log(p1) - (1 - p2) ** 2 * math.log(p2)) / 2
    assert build("Focal", focal_gamma=2.0)(LOGITS, LABELS, INDEX).item() == pytest.approx(expected, rel=1e-6)
    # soft target 0.3 on logit 1: 0.3 * FL(+) + 0.7 * FL(-)
    s = sigmoid(1.0)
    soft = 0.3 * -(1 - s) ** 2 * math.log(s) + 0.7 * -(s ** 2) * math.log(1 - s)
    got = build("Focal", focal_gamma=2.0)(torch.ones(1, 1, 1, 1), torch.full((1, 1, 1, 1), 0.3), INDEX).item()
    assert got == pytest.approx(soft, rel=1e-6)


def test_focal_with_zero_gamma_is_bce():
    logits, gt = torch.randn(4, 1, 5, 5) * 3, torch.rand(4, 1, 5, 5)
    focal = build("Focal", focal_gamma=0.0)(logits, gt, torch.arange(4))
    assert torch.allclose(focal, F.binary_cross_entropy_with_logits(logits, gt), rtol=1e-6, atol=1e-7)


def test_brier_hand_value():
    expected = ((sigmoid(2.0) - 1) ** 2 + sigmoid(-1.0) ** 2) / 2
    assert build("Brier")(LOGITS, LABELS, INDEX).item() == pytest.approx(expected, rel=1e-6)


def test_mbls_hand_value():
    # margin 1.5: |2| exceeds it by 0.5, |-1| not at all; penalty mean 0.25, times lambda 0.1
    loss = build("MbLS", mbls_margin=1.5, mbls_lambda=0.1)(LOGITS, LABELS, INDEX).item()
    assert loss == pytest.approx(BCE + 0.025, rel=1e-6)
    # the margin bounds |logit|: the mirrored image (same BCE by symmetry) pays the same penalty
    mirrored = build("MbLS", mbls_margin=1.5, mbls_lambda=0.1)(-LOGITS, 1 - LABELS, INDEX).item()
    assert mirrored == pytest.approx(BCE + 0.025, rel=1e-6)
    assert build("MbLS", mbls_margin=2.5, mbls_lambda=0.1)(LOGITS, LABELS, INDEX).item() == pytest.approx(BCE, rel=1e-6)


@pytest.mark.parametrize("name", [name for name in OBJECTIVES if name != "ASLP"])
def test_gradients_are_finite_for_saturated_logits(name):
    logits = torch.tensor([50.0, -50.0, 50.0, -50.0, 50.0, -50.0]).view(1, 1, 2, 3).requires_grad_()
    gt = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5]).view(1, 1, 2, 3)
    loss = build(name, dl_alpha=0.5, slp_alpha=0.5)(logits, gt, INDEX)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["ASLP", "SLP"])
def test_perturb_noise_reaches_the_perturbing_objectives(name):
    overrides = {"slp_alpha": 1.0} if name == "SLP" else {}
    quiet, noisy = build(name, **overrides), build(name, perturb_noise=True, **overrides)
    if name == "ASLP":
        for objective in (quiet, noisy):
            objective.alpha.alpha.fill_(1.0)  # perturb every image
    logits, labels = torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    # Every pixel's target is -1 without noise, so BCE = softplus(1) + 1; noise moves the target.
    assert quiet(logits, labels, INDEX).item() == pytest.approx(softplus(1.0) + 1.0)
    assert noisy(logits, labels, INDEX).item() != pytest.approx(softplus(1.0) + 1.0, abs=1e-6)


def test_a_checkpoint_records_the_constants_its_objective_is_built_from():
    assert objective_constants("BCE") == ()
    assert objective_constants("SLP") == ("SLP_ALPHA", "BETA", "PERTURB_NOISE")
    assert set(objective_constants("ASLP")) == {"ASLP_MODE", "BETA", "ETA", "LAMBDA", "START_EPOCH", "PERTURB_NOISE"}


@pytest.mark.parametrize("method, overrides, epochs, says", [
    ("ASLP", {"start_epoch": 5}, 5, "--epochs=7 or more"), ("ASLP", {"eta": 0.0}, 30, "--eta=0"),
    ("SLP", {"slp_alpha": 0.0}, 30, "--slp_alpha=0"), ("DisturbLabel", {"dl_alpha": 0.0}, 30, "--dl_alpha=0"),
])
def test_a_perturbation_that_never_happens_is_named(method, overrides, epochs, says):
    assert says in inert_reason(method, *groups(**overrides), epochs)
    assert inert_reason(method, *groups(), epochs + 1) is None
    assert inert_reason("BCE", *groups(**overrides), epochs) is None


def test_aslp_with_one_epoch_from_epoch_zero_runs_but_says_no_label_is_perturbed():
    assert inert_reason("ASLP", *groups(start_epoch=0), 1) is None
    assert "trains exactly as BCE" in training_note("ASLP", *groups(start_epoch=0), 1)
    assert training_note("ASLP", *groups(start_epoch=0), 2) is None and training_note("BCE", *groups(), 1) is None


def aslp_draws_a_positive_alpha(start_epoch: int, epochs: int, eta: float = 0.002) -> bool:
    """Whether an ASLP run of `epochs` epochs over 4 images ever draws a label with alpha > 0, i.e.
    can perturb one: the training loop's order (draw, step, update), with statistics that raise alpha."""
    objective = build("ASLP", start_epoch=start_epoch, eta=eta)
    gt, logits = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    for epoch in range(1, epochs + 1):
        for image in range(4):
            index = torch.tensor([image])
            if objective.alpha_of(index).item() > 0:
                return True
            objective(logits, gt, index)
            objective.after_step(index, torch.zeros(1), torch.ones(1), epoch, torch.tensor(0.5))
    return False


def suggested(message: str) -> list[dict[str, int]]:
    """The settings an ASLP message suggests: "--epochs=N or more" and "--start_epoch=N or less"."""
    return ([{"epochs": int(n)} for n in re.findall(r"--epochs=(\d+) or more", message)]
            + [{"start_epoch": int(n)} for n in re.findall(r"--start_epoch=(\d+) or less", message)])


@pytest.mark.parametrize("start_epoch, epochs", [(6, 3), (5, 5), (0, 1), (3, 1), (1, 2), (6, 7), (2, 1)])
def test_every_value_the_aslp_advice_suggests_perturbs_labels(start_epoch, epochs):
    # START_EPOCH=6 with --epochs=3 (the old demo's) used to suggest --epochs=7 / --start_epoch=2, under
    # which alpha moves only after each image's last draw: no label is perturbed.
    message = inert_reason("ASLP", *groups(start_epoch=start_epoch), epochs) or training_note(
        "ASLP", *groups(start_epoch=start_epoch), epochs)
    assert message and not aslp_draws_a_positive_alpha(start_epoch, epochs)
    fixes = suggested(message)
    assert fixes and any("epochs" in fix for fix in fixes)
    for fix in fixes:
        values = {"start_epoch": start_epoch, "epochs": epochs, **fix}
        assert aslp_draws_a_positive_alpha(**values), (message, fix)
        # The bound is tight: one step past it does not perturb.
        tighter = {"epochs": values["epochs"] - 1} if "epochs" in fix else {"start_epoch": values["start_epoch"] + 1}
        assert not aslp_draws_a_positive_alpha(**{**values, **tighter}), (message, fix)
        assert inert_reason("ASLP", *groups(start_epoch=values["start_epoch"]), values["epochs"]) is None
        assert training_note("ASLP", *groups(start_epoch=values["start_epoch"]), values["epochs"]) is None
    if epochs == 1:
        assert not any("start_epoch" in fix for fix in fixes)  # no START_EPOCH >= 0 perturbs in one epoch


def test_eta_zero_advice_names_the_epochs_it_also_needs():
    message = inert_reason("ASLP", *groups(start_epoch=2, eta=0.0), 3)
    assert "--eta=0" in message and suggested(message) == [{"epochs": 4}, {"start_epoch": 1}]
    assert not aslp_draws_a_positive_alpha(2, 4, eta=0.0) and aslp_draws_a_positive_alpha(2, 4)
    assert suggested(inert_reason("ASLP", *groups(start_epoch=2, eta=0.0), 30)) == []
