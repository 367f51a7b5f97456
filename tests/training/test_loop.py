"""The training loop: exact resume after a kill, non-finite losses, Ctrl-C, and DDP."""
import math
import subprocess
import sys

import pytest
import torch

from common.layout import CHECKPOINT_NAME
from loss.aslp import ASLPLoss
from model import build_model
from tests.conftest import PROJECT_ROOT
from tests.tiny import CPU, PAPER, read_log, tiny_training, validation_loader
from training.checkpoint import TrainingError, TrainingInterrupted
from training.validation import validate

WORKER = PROJECT_ROOT / "tests" / "ddp_worker.py"


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


def test_interrupt_in_the_first_epoch_says_there_is_no_checkpoint(demo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(CrashingASLP, "crash_epoch", 1)
    with pytest.raises(TrainingInterrupted, match="no checkpoint was written yet") as interrupt:
        tiny_training(demo_root, tmp_path, epochs=2, objective_class=CrashingASLP)
    assert not interrupt.value.resumable
