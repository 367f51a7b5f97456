"""The training loop: lr schedule, exact resume, non-finite losses, atomic checkpoints, DDP, and the
validation pass (accuracy and calibration) with the perturbation log."""
import csv
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from torch import nn

import train as train_module
from dataclasses import replace

from data.datasets import pair_split
from data.loaders import inference_loader, training_loader
from evaluate import score_dataset
from loss import OBJECTIVES, build_objective
from loss.aslp import ASLPLoss
from loss.bce import BCELoss
from loss.slp import SLPLoss
from model import build_model, load_weights
from model import CheckpointError
from predict import write_predictions
from protocol import get_protocol, probability_map

from tests.tiny import ASLP, BASELINES, CPU, OPTIMISATION, PAPER, SPEED, load_or_make_split, tiny_run
from common.layout import CHECKPOINT_NAME
from train import (
    CALIBRATION_PLOT_NAME, LOG_COLUMNS, TrainingError, TrainingInterrupted, append_row, atomic_save,
    decay_lr, perturbation_summary, run_record, seed_everything, train, validate,
)

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def test_lr_decay_compounds_after_every_epoch():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    lrs = []
    for epoch in range(1, 31):
        decay_lr(optimizer, epoch, 0.95, 10)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[8] == 1.0  # after epoch 9
    assert lrs[9] == pytest.approx(0.95)  # after epoch 10
    assert lrs[18] == pytest.approx(0.95 ** 10)  # after epoch 19
    assert lrs[19] == pytest.approx(0.95 ** 10 * 0.95 ** 2)  # after epoch 20


class CrashingASLP(ASLPLoss):
    """Dies in the middle of `crash_epoch`, like a killed job."""

    crash_epoch = 3

    def after_step(self, index, bce, entropy, epoch, accuracy):
        if epoch == self.crash_epoch:
            raise KeyboardInterrupt("simulated kill")
        super().after_step(index, bce, entropy, epoch, accuracy)


class NaNInSecondEpoch(ASLPLoss):
    """A loss that turns NaN on the first step of epoch 2 (20 images in batches of 8: 3 steps an epoch)."""

    calls = 0

    def __call__(self, logits, gt, index):
        type(self).calls += 1
        loss = super().__call__(logits, gt, index)
        return loss * float("nan") if self.calls == 4 else loss


def tiny_training(demo_root, out_dir, epochs, objective_class=ASLPLoss, resume=False, num_workers=0, run=None,
                  feat_channel=8):
    """The tiny configuration, built the way main_ASLP.py builds it; returns (network, objective)."""
    seed_everything(1)
    network = build_model(feat_channel)
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    train_stems, val_stems = load_or_make_split(demo_root, image_dir, 4, 1)
    pairs, val_pairs = pair_split(image_dir, mask_dir, train_stems, val_stems)
    loader = training_loader(pairs, 32, 8, num_workers, False, 1)
    val_loader = inference_loader([p for _, p, _ in val_pairs], 32, 4, 0, False, [m for _, _, m in val_pairs])
    generator = torch.Generator().manual_seed(1)
    objective = objective_class(ASLP, len(pairs), generator, "cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    train(network, objective, loader, val_loader, tiny_run(out_dir, [s for s, _, _ in pairs], generator, resume, run),
          replace(OPTIMISATION, epochs=epochs), SPEED, PAPER)
    return network, objective


@pytest.fixture
def deterministic():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("num_workers, resume_workers", [(2, 0)])
def test_killed_and_resumed_run_ends_exactly_like_an_uninterrupted_one(demo_root, tmp_path, deterministic, num_workers,
                                                                       resume_workers):
    """Also when resumed with another number of DataLoader workers (two DataLoader processes before the
    kill, none after): augmentation depends on (seed, epoch, image) only."""
    network, objective = tiny_training(demo_root, tmp_path / "straight", epochs=3, num_workers=num_workers)
    with pytest.raises(TrainingInterrupted, match=rf"last checkpoint is {tmp_path / 'killed' / CHECKPOINT_NAME} "
                       r"\(after epoch 2\)") as interrupt:
        tiny_training(demo_root, tmp_path / "killed", epochs=3, objective_class=CrashingASLP, num_workers=num_workers)
    assert isinstance(interrupt.value, KeyboardInterrupt) and interrupt.value.resumable
    assert torch.load(tmp_path / "killed" / CHECKPOINT_NAME, weights_only=True)["epoch"] == 2
    resumed, resumed_objective = tiny_training(demo_root, tmp_path / "killed", epochs=3, resume=True,
                                               num_workers=resume_workers)
    assert objective.state_dict()["alpha"].gt(0).any()
    assert torch.equal(objective.state_dict()["alpha"], resumed_objective.state_dict()["alpha"])
    for key, value in network.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    log = (tmp_path / "killed" / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2", "3"]
    # Every column of every epoch, validation calibration included, as the uninterrupted run logged it.
    assert log == (tmp_path / "straight" / "log.csv").read_text().splitlines()
    assert all(math.isfinite(float(row[column])) for row in read_log(tmp_path / "killed" / "log.csv")
               for column in ("val_ECE", "val_OE", "val_ECE_boundary"))


def test_non_finite_loss_stops_naming_epoch_and_step_and_keeps_the_last_good_checkpoint(demo_root, tmp_path):
    with pytest.raises(TrainingError, match=r"epoch 2, step 1\b"):
        tiny_training(demo_root, tmp_path, epochs=3, objective_class=NaNInSecondEpoch)
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=False)
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"epoch": 1}, path)

    def full_disk(obj, handle):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_module.torch, "save", full_disk)
    with pytest.raises(TrainingError, match="No space left.*previous version is intact"):
        atomic_save({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


CONSTANTS = {"TRAIN_SET": "DUTS-TR", "FEAT_CHANNEL": 8, "TRAIN_SIZE": 32, "BATCH_SIZE": 8, "LR": 1e-3, "DECAY_RATE": 0.5,
             "DECAY_EPOCH": 1, "SEED": 1, "ASLP_MODE": "MC", "BETA": 2.0, "ETA": 0.05, "LAMBDA": 2000.0, "START_EPOCH": 1,
             "PERTURB_NOISE": False, "PROTOCOL": "paper"}


@pytest.fixture(scope="module")
def finished_run(demo_root, tmp_path_factory) -> tuple[Path, nn.Module]:
    """A tiny ASLP run of two epochs with its record, trained once for the tests that read or resume it
    (each copies the folder before writing into it)."""
    out = tmp_path_factory.mktemp("finished")
    network, _ = tiny_training(demo_root, out, epochs=2, run=run_record(CONSTANTS, "ASLP"))
    return out, network


def copy_of(finished_run, tmp_path: Path) -> Path:
    shutil.copytree(finished_run[0], tmp_path / "run")
    return tmp_path / "run"


def test_final_weights_load_with_load_weights(finished_run):
    out, network = finished_run
    other = load_weights(build_model(8), out / "Model_2_Gen.pth")
    assert torch.equal(other.output_conv[4].weight, network.output_conv[4].weight)
    assert torch.equal(load_weights(build_model(8), out / CHECKPOINT_NAME).output_conv[4].bias,
                       network.output_conv[4].bias)


def test_two_gloo_processes_end_with_identical_weights_and_alpha(demo_root, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
         str(demo_root), str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert first["alpha"].gt(0).sum() > len(first["alpha"]) // 2  # each process updated its own half
    assert torch.equal(first["alpha"], second["alpha"])
    for key, value in first["model"].items():
        assert torch.equal(value, second["model"][key]), key
    # The last epoch's validation, each process on its half of the images, counted every image: the
    # final network validated alone on the whole split gives what the log holds.
    network = build_model(8)
    network.load_state_dict(first["model"])
    last = read_log(tmp_path / "log.csv")[-1]
    alone = validate(network, validation_loader(demo_root), CPU, PAPER)
    expected = {"val_accuracy": float(alone.accuracy), **alone.calibration()}
    assert {name: float(last[name]) for name in expected} == pytest.approx(expected, rel=1e-5)


def test_resume_under_another_configuration_is_refused_naming_both(demo_root, finished_run, tmp_path):
    run = copy_of(finished_run, tmp_path)
    other = run_record({**CONSTANTS, "FEAT_CHANNEL": 16}, "BCE")
    with pytest.raises(TrainingError) as error:
        tiny_training(demo_root, run, epochs=3, resume=True, run=other, feat_channel=16)
    message = str(error.value)
    assert str(run / CHECKPOINT_NAME) in message
    assert "--feat_channel=8 --method=ASLP" in message and "--feat_channel=16 --method=BCE" in message
    assert "--experiment" in message and not (run / "Model_3_Gen.pth").exists()


def test_resume_past_the_epochs_asked_for_is_refused_and_writes_nothing(demo_root, finished_run, tmp_path):
    run = copy_of(finished_run, tmp_path)
    with pytest.raises(TrainingError, match=r"already at epoch 2, beyond --epochs=1; resume with --epochs=2"):
        tiny_training(demo_root, run, epochs=1, resume=True)
    assert not (run / "Model_1_Gen.pth").exists()


def test_checkpoint_without_a_record_of_another_architecture_is_a_checkpoint_error(demo_root, finished_run, tmp_path):
    run = copy_of(finished_run, tmp_path)
    state = torch.load(run / CHECKPOINT_NAME, weights_only=True)
    del state["run"]  # as an older checkpoint
    torch.save(state, run / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        tiny_training(demo_root, run, epochs=3, resume=True, feat_channel=16)


def test_interrupt_in_the_first_epoch_says_there_is_no_checkpoint(demo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(CrashingASLP, "crash_epoch", 1)
    with pytest.raises(TrainingInterrupted, match="no checkpoint was written yet") as interrupt:
        tiny_training(demo_root, tmp_path, epochs=2, objective_class=CrashingASLP)
    assert not interrupt.value.resumable


class RecordingSLP(SLPLoss):
    """SLP at alpha 0.5 that keeps every draw, built as tiny_training builds its objective."""

    def __init__(self, aslp, num_images, generator, device):
        super().__init__(slp_alpha=0.5, beta=2.0, generator=generator)
        self.draws = []

    def __call__(self, logits, gt, index):
        loss = super().__call__(logits, gt, index)
        self.draws.append(self.last_perturbed.clone())
        return loss


def read_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


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


# ---- the validation pass -----------------------------------------------------------------------


def validation_loader(demo_root: Path, masks: list[Path] | None = None, batch_size: int = 4):
    """The tiny configuration's validation loader (split and sizes of tiny_training), optionally with
    other masks for its images."""
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    _, val_pairs = pair_split(image_dir, mask_dir, *load_or_make_split(demo_root, image_dir, 4, 1))
    return inference_loader([p for _, p, _ in val_pairs], 32, batch_size, 0, False,
                            masks or [m for _, _, m in val_pairs])


@pytest.fixture
def soft_validation(demo_root, tmp_path) -> tuple[Path, Path]:
    """The validation images in `Image/` with their masks blurred in `GT/`: soft edges, as annotators'
    masks have, where the two protocols count pixels differently (the demo's masks are binary)."""
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    _, val_pairs = pair_split(image_dir, mask_dir, *load_or_make_split(demo_root, image_dir, 4, 1))
    images, masks = tmp_path / "set" / "Image", tmp_path / "set" / "GT"
    images.mkdir(parents=True)
    masks.mkdir()
    for stem, image, mask in val_pairs:
        shutil.copy(image, images / image.name)
        Image.open(mask).filter(ImageFilter.GaussianBlur(2)).save(masks / f"{stem}.png")
    return images, masks


class Scaled(nn.Module):
    """The network with its logits multiplied by `scale`: 1 keeps an untrained network's probabilities
    near 0.5, where the decision is decided; a large scale spreads them over all levels."""

    def __init__(self, network: nn.Module, scale: float) -> None:
        super().__init__()
        self.network, self.scale = network, scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images) * self.scale


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_validation_accuracy_is_the_rule_it_replaced_under_both_protocols(demo_root, soft_validation, scale):
    """The accuracy that steers alpha, now from the joint histograms, equals bit for bit the earlier
    rule, pixel_correct(sigmoid(logit) >= 0.5, mask) summed over the maps at image size."""
    torch.manual_seed(0)
    network = Scaled(build_model(8), scale)
    loader = validation_loader(demo_root, sorted(soft_validation[1].iterdir()))
    accuracies = {}
    for name in ("paper", "calibrated"):
        protocol = get_protocol(name)
        counts = torch.zeros(2, dtype=torch.float64)  # correct, total: the earlier validation_accuracy
        for _, logit, mask in train_module.predict_maps(network, loader, CPU, show_progress=False):
            counts[0] += protocol.pixel_correct(torch.sigmoid(logit) >= 0.5, mask).sum()
            counts[1] += mask.numel()
        validation = validate(network, loader, CPU, protocol)
        assert validation.accuracy.dtype == torch.float32
        assert torch.equal(validation.accuracy, (counts[0] / counts[1]).float())
        assert validation.joint.sum() == counts[1]
        assert 0 < validation.band_joint.sum() < counts[1] and (validation.band_joint <= validation.joint).all()
        accuracies[name] = float(validation.accuracy)
    assert accuracies["paper"] < accuracies["calibrated"]  # soft mask pixels count as wrong in the paper's rule


def test_the_probability_level_decides_as_p_at_least_half_for_every_float32_near_it():
    """round(255 p) >= 128 iff p >= 0.5 for every float32 within 0.01 of 0.5; round(255 p) grows with
    p, so this holds for every p."""
    bits = np.arange(np.float32(0.49).view(np.int32), np.float32(0.51).view(np.int32) + 1, dtype=np.int32)
    p = bits.view(np.float32)
    assert p[0] == np.float32(0.49) and np.float32(0.5) in p
    np.testing.assert_array_equal(probability_map(p) >= 128, p >= 0.5)


def test_validation_calibration_is_what_the_scoring_reports_for_the_test_stage_maps(soft_validation, tmp_path):
    """ECE, OE and boundary ECE of the validation pass equal the evaluator's calibrated_* values for
    the probability maps the test stage writes of the same images (same rule, bins and band)."""
    images, masks = soft_validation
    torch.manual_seed(0)
    network = Scaled(build_model(8), 30.0)
    single = replace(CPU, batch_size=1)  # the same batches for both passes
    loader = inference_loader(sorted(images.iterdir()), 32, 1, 0, False, sorted(masks.iterdir()))
    calibration = validate(network, loader, single, PAPER, boundary_width=3).calibration(n_bins=15)
    write_predictions(network, images, tmp_path / "run", "VAL", get_protocol("calibrated"), single)
    scores = score_dataset(tmp_path / "run" / "predictions" / "VAL", masks, protocol="calibrated", n_bins=15,
                           boundary_width=3, workers=1)
    assert calibration == {"val_ECE": scores["ECE"], "val_OE": scores["OE"], "val_ECE_boundary": scores["ECE_boundary"]}
    assert 0 < calibration["val_ECE_boundary"] != calibration["val_ECE"]


def test_validation_without_any_boundary_logs_no_band_ece_and_says_so():
    """Masks all empty (or all object) have no band: its ECE is NaN in log.csv and "n/a" on the line."""
    joint = np.zeros((256, 256), dtype=np.int64)
    joint[200, 0], joint[10, 0] = 30, 70  # 30 false-positive pixels at p = 200/255, 70 right at 10/255
    validation = train_module.Validation(torch.tensor(0.7), joint, np.zeros_like(joint))
    calibration = validation.calibration(n_bins=10)
    assert calibration["val_ECE"] > 0 and math.isnan(calibration["val_ECE_boundary"])
    assert train_module.describe_calibration(calibration).endswith("boundary ECE n/a")


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
