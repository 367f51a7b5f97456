"""The checkpoint: atomic saving, what it records, and the resumes it refuses."""
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import training.checkpoint as checkpoint_module
from common.layout import CHECKPOINT_NAME
from model import CheckpointError, build_model, load_weights
from tests.tiny import tiny_training
from training.checkpoint import TrainingError, atomic_save, run_record


def test_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"epoch": 1}, path)

    def full_disk(obj, handle):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
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
