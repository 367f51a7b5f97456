"""The epoch lines, log.csv and the closing words: the perturbed labels counted, and the validation calibration."""
from dataclasses import replace

import pytest
import torch

from loss import OBJECTIVES, build_objective
from loss.bce import BCELoss
from loss.slp import SLPLoss
from tests.tiny import ASLP, BASELINES, read_log, tiny_training
from training.log import LOG_COLUMNS, append_row, perturbation_summary
from training.plots import CALIBRATION_PLOT_NAME


class RecordingSLP(SLPLoss):
    """SLP at alpha 0.5 that keeps every draw, built as tiny_training builds its objective."""

    def __init__(self, aslp, num_images, generator, device):
        super().__init__(slp_alpha=0.5, beta=2.0, generator=generator)
        self.draws = []

    def __call__(self, logits, gt, index):
        loss = super().__call__(logits, gt, index)
        self.draws.append(self.last_perturbed.clone())
        return loss


def test_the_log_counts_the_labels_each_epoch_perturbed(demo_root, tmp_path, capsys):
    _, objective = tiny_training(demo_root, tmp_path, epochs=2, objective_class=RecordingSLP)
    rows = read_log(tmp_path / "log.csv")
    assert list(rows[0]) == list(LOG_COLUMNS)
    per_epoch = len(objective.draws) // 2
    drawn = [torch.cat(objective.draws[i * per_epoch:(i + 1) * per_epoch]) for i in range(2)]
    assert [float(row["perturbed_share"]) for row in rows] == pytest.approx([d.float().mean().item() for d in drawn])
    assert [int(row["perturbed_labels"]) for row in rows] == [int(d.sum()) for d in drawn]
    assert 0 < sum(int(d.sum()) for d in drawn) < sum(d.numel() for d in drawn)  # alpha 0.5 draws both kinds
    printed = capsys.readouterr().out
    # Each epoch line says what a perturbed label is; the closing line, how many there were and when.
    assert f"{int(drawn[0].sum())} of {drawn[0].numel()} labels perturbed (to -1 on foreground, 2 on background)" \
        in printed
    counts = ", ".join(f"{epoch} ({int(d.sum())})" for epoch, d in enumerate(drawn, start=1) if d.any())
    assert (f"Labels perturbed (-1 on foreground, 2 on background): {sum(int(d.sum()) for d in drawn)} image-steps "
            f"in all, in epochs {counts} ") in printed
    assert "no label was perturbed" not in printed


def test_a_run_that_perturbed_no_label_says_it_trained_as_bce(demo_root, tmp_path, capsys):
    _, objective = tiny_training(demo_root, tmp_path, epochs=2)  # alpha first moves after epoch 1's draws
    rows = read_log(tmp_path / "log.csv")
    assert [(row["perturbed_share"], row["perturbed_labels"]) for row in rows] == [("0", "0")] * 2
    assert objective.state_dict()["alpha"].gt(0).any()
    printed = capsys.readouterr().out
    assert "no label was perturbed in any epoch" in printed and "image-steps in all" not in printed


class PlainBCE(BCELoss):
    """BCE, built as tiny_training builds its objective: a method that perturbs no label."""

    def __init__(self, aslp, num_images, generator, device):
        pass


def test_every_method_logs_its_validation_calibration_and_plots_it(demo_root, tmp_path, capsys):
    tiny_training(demo_root, tmp_path, epochs=2, objective_class=PlainBCE)
    rows = read_log(tmp_path / "log.csv")
    assert [row["perturbed_share"] + row["perturbed_labels"] + row["alpha_used_mean"] for row in rows] == ["", ""]
    values = [[float(row[name]) for name in ("val_ECE", "val_OE", "val_ECE_boundary")] for row in rows]
    assert all(0 <= value <= 1 for epoch in values for value in epoch)
    printed = capsys.readouterr().out
    for epoch, (ece, oe, band) in enumerate(values, start=1):
        assert f"probability maps ECE {100 * ece:.2f}%, OE {100 * oe:.2f}%, boundary ECE {100 * band:.2f}%" in printed
    assert "labels perturbed" not in printed.lower() and "no label was perturbed" not in printed
    assert (tmp_path / CALIBRATION_PLOT_NAME).stat().st_size > 10_000
    assert not (tmp_path / "alpha_history.png").exists()


# ---- the perturbation, in words, and the log ---------------------------------------------------

@pytest.mark.parametrize("method, noise, words", [
    ("ASLP", False, "-1 on foreground, 2 on background"),
    ("SLP", False, "-1 on foreground, 2 on background"),
    ("SLP", True, "-1 on foreground, 2 on background, plus noise in [-0.25, 0.25] per pixel"),
    ("DisturbLabel", False, "0 on foreground, 1 on background"),
])
def test_each_perturbing_method_says_what_its_perturbed_label_is(method, noise, words):
    objective = build_objective(method, replace(ASLP, perturb_noise=noise), BASELINES,
                                num_images=4, generator=torch.Generator(), device="cpu")
    assert objective.perturbed_label() == words


def test_methods_that_perturb_no_label_have_no_words_for_one():
    kept = {"ASLP", "SLP", "DisturbLabel"}
    for method in set(OBJECTIVES) - kept:
        objective = build_objective(method, ASLP, BASELINES, num_images=4,
                                    generator=torch.Generator(), device="cpu")
        assert objective.perturbed_label() is None, method


def test_a_log_begun_with_fewer_columns_is_rewritten_under_the_new_header(tmp_path):
    """A run resumed from a checkpoint written before perturbed_labels and val_* were logged: earlier
    rows keep their values and get empty cells, so every row lines up with the header."""
    log = tmp_path / "log.csv"
    log.write_text("epoch,perturbed_share,val_accuracy,lr\n1,0.25,0.9,0.001\n")
    append_row(log, {"epoch": 2, "perturbed_share": 0.5, "perturbed_labels": 3, "val_accuracy": 0.95,
                     "val_ECE": 0.02, "lr": 0.001})
    append_row(log, {"epoch": 3, "perturbed_share": 0.0, "perturbed_labels": 0, "val_accuracy": 0.96,
                     "val_ECE": 0.01, "lr": 0.001})
    rows = read_log(log)
    assert list(rows[0]) == ["epoch", "perturbed_share", "perturbed_labels", "val_accuracy", "val_ECE", "lr"]
    assert [(row["epoch"], row["perturbed_labels"], row["val_ECE"]) for row in rows] == [
        ("1", "", ""), ("2", "3", "0.02"), ("3", "0", "0.01")]
    assert perturbation_summary(log, "x") == (
        f"Labels perturbed (x): 3 image-steps in all, in epoch 2 (3); also in epoch 1, logged before the count "
        f"was ({log}, perturbed_labels)")
