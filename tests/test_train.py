"""The training loop: lr schedule, exact resume, non-finite losses, atomic checkpoints, DDP."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train as train_module
from dataclasses import replace

from data.datasets import pair_split
from data.loaders import inference_loader, training_loader
from data.split import load_or_make_split
from loss.aslp import ASLPLoss
from loss.slp import SLPLoss
from model import build_model, load_weights
from model import CheckpointError
from tests.tiny import ASLP, OPTIMISATION, PAPER, SPEED, tiny_run
from train import (
    CHECKPOINT_NAME, TrainingError, TrainingInterrupted, atomic_save, decay_lr, run_record, seed_everything, train,
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


@pytest.mark.parametrize("num_workers, resume_workers", [(0, 0), (2, 0)])
def test_killed_and_resumed_run_ends_exactly_like_an_uninterrupted_one(demo_root, tmp_path, deterministic, num_workers,
                                                                       resume_workers):
    """Also when resumed with another number of DataLoader workers: augmentation depends on
    (seed, epoch, image) only."""
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


def test_final_weights_load_with_load_weights(demo_root, tmp_path):
    network, _ = tiny_training(demo_root, tmp_path, epochs=1)
    other = load_weights(build_model(8), tmp_path / "Model_1_Gen.pth")
    assert torch.equal(other.output_conv[4].weight, network.output_conv[4].weight)
    assert torch.equal(load_weights(build_model(8), tmp_path / CHECKPOINT_NAME).output_conv[4].bias,
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


CONSTANTS = {"TRAIN_SET": "DUTS-TR", "FEAT_CHANNEL": 8, "TRAIN_SIZE": 32, "BATCH_SIZE": 8, "LR": 1e-3, "DECAY_RATE": 0.5,
             "DECAY_EPOCH": 1, "SEED": 1, "ASLP_MODE": "MC", "BETA": 2.0, "ETA": 0.05, "LAMBDA": 2000.0, "START_EPOCH": 1,
             "PERTURB_NOISE": False, "PROTOCOL": "paper"}


def test_resume_under_another_configuration_is_refused_naming_both(demo_root, tmp_path):
    tiny_training(demo_root, tmp_path, epochs=1, run=run_record(CONSTANTS, "ASLP"))
    other = run_record({**CONSTANTS, "FEAT_CHANNEL": 16}, "BCE")
    with pytest.raises(TrainingError) as error:
        tiny_training(demo_root, tmp_path, epochs=2, resume=True, run=other, feat_channel=16)
    message = str(error.value)
    assert str(tmp_path / CHECKPOINT_NAME) in message
    assert "--feat_channel=8 --method=ASLP" in message and "--feat_channel=16 --method=BCE" in message
    assert "--experiment" in message and not (tmp_path / "Model_2_Gen.pth").exists()


def test_resume_past_the_epochs_asked_for_is_refused_and_writes_nothing(demo_root, tmp_path):
    tiny_training(demo_root, tmp_path, epochs=2)
    with pytest.raises(TrainingError, match=r"already at epoch 2, beyond --epochs=1; resume with --epochs=2"):
        tiny_training(demo_root, tmp_path, epochs=1, resume=True)
    assert not (tmp_path / "Model_1_Gen.pth").exists()


def test_checkpoint_without_a_record_of_another_architecture_is_a_checkpoint_error(demo_root, tmp_path):
    tiny_training(demo_root, tmp_path, epochs=1)  # no run record, as an older checkpoint
    with pytest.raises(CheckpointError, match="shape mismatches"):
        tiny_training(demo_root, tmp_path, epochs=2, resume=True, feat_channel=16)


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


def test_the_log_counts_the_labels_each_epoch_perturbed(demo_root, tmp_path, capsys):
    _, objective = tiny_training(demo_root, tmp_path, epochs=2, objective_class=RecordingSLP)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
    per_epoch = len(objective.draws) // 2
    drawn = [torch.cat(objective.draws[i * per_epoch:(i + 1) * per_epoch]) for i in range(2)]
    assert [float(row["perturbed_share"]) for row in rows] == pytest.approx([d.float().mean().item() for d in drawn])
    assert 0 < sum(int(d.sum()) for d in drawn) < sum(d.numel() for d in drawn)  # alpha 0.5 draws both kinds
    printed = capsys.readouterr().out
    assert f"{int(drawn[0].sum())} of {drawn[0].numel()} labels perturbed" in printed
    assert "no label was perturbed" not in printed


def test_a_run_that_perturbed_no_label_says_it_trained_as_bce(demo_root, tmp_path, capsys):
    _, objective = tiny_training(demo_root, tmp_path, epochs=2)  # alpha first moves after epoch 1's draws
    shares = train_module.perturbed_shares(tmp_path / "log.csv")
    assert shares == [0.0, 0.0] and objective.state_dict()["alpha"].gt(0).any()
    assert "no label was perturbed in any epoch" in capsys.readouterr().out
