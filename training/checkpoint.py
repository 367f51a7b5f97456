"""A training run's checkpoint: what it records, how it is written (atomically, every epoch), and how a
`--resume` reads it back (refusing another configuration), with every random stream of the run.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from common import atomic
from common.configurator import format_value
from common.distributed import is_distributed, is_main_process
from common.errors import UserFacingError
from common.text import counted
from loss import Objective, objective_constants
from model.checkpoint import check_state_dict, read_checkpoint

# The constants every checkpoint records besides its objective's own (`loss.objective_constants`);
# --resume refuses a run that differs in any of them. EPOCHS is not among them: a run may be continued
# to more epochs (the lr schedule does not depend on the total). PROTOCOL sets the validation accuracy
# that steers ASLP's alpha and is logged for every method.
RUN_CONSTANTS = ("TRAIN_SET", "FEAT_CHANNEL", "TRAIN_SIZE", "BATCH_SIZE", "LR", "DECAY_RATE", "DECAY_EPOCH", "SEED",
                 "PROTOCOL")


class TrainingError(UserFacingError, RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training. Still a KeyboardInterrupt, so it stops the program as one does; the
    message says which checkpoint a `--resume` continues from (`resumable` is False before the first)."""

    def __init__(self, message: str, resumable: bool) -> None:
        super().__init__(message)
        self.resumable = resumable


def run_record(constants: dict[str, object], method: str) -> dict[str, object]:
    """What a run of `method` is trained with, as stored in its checkpoint: METHOD, RUN_CONSTANTS and
    the constants its objective is built from (taken from `constants`, e.g. main_ASLP.py's)."""
    names = (*RUN_CONSTANTS, *objective_constants(method))
    return {"METHOD": method, **{name: constants[name] for name in names}}


def check_resumable(checkpoint_path: Path, state: dict, record: dict[str, object] | None, epochs: int) -> None:
    """Refuse to continue a checkpoint under another configuration, or past the epochs asked for."""
    recorded = state.get("run")
    if record is not None and recorded is not None:
        # Another METHOD brings other method constants: only the constants both record are compared.
        differ = sorted(name for name in record.keys() & recorded.keys() if record[name] != recorded[name])
        if differ:
            def options(values: dict) -> str:
                return " ".join(f"--{name.lower()}={format_value(values[name])}" for name in differ)
            raise TrainingError(f"{checkpoint_path} was trained with {options(recorded)}, but this run has "
                                f"{options(record)}; resume with the checkpoint's values, or train afresh into a "
                                "new --experiment")
    if state["epoch"] > epochs:
        raise TrainingError(f"{checkpoint_path} is already at epoch {state['epoch']}, beyond --epochs={epochs}; "
                            f"resume with --epochs={state['epoch']} or more, or train afresh into a new "
                            "--experiment")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def atomic_save(obj: object, path: Path) -> None:
    """torch.save `obj` whole or not at all (`common.atomic`): a crash or a full disk mid-write leaves the
    previous file intact."""
    try:
        with atomic.opened(path, "wb") as handle:
            torch.save(obj, handle)
    except atomic.WriteError as error:
        raise TrainingError(str(error)) from error


def rng_state(generator: torch.Generator | None) -> dict:
    """Every random stream of this process, in types that `torch.load(weights_only=True)` accepts."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(), "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "objective": generator.get_state() if generator is not None else None,
    }


def restore_rng_state(state: dict, generator: torch.Generator | None) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and state["objective"] is not None:
        generator.set_state(state["objective"])


@dataclass(frozen=True)
class Progress:
    """Where a run stands after an epoch: what a checkpoint holds besides the weights and the states."""

    epoch: int  # the last finished epoch (0 before the first)
    best_accuracy: float
    accuracy: torch.Tensor | None  # the last validation accuracy, on the training device: it steers ASLP's alpha


@dataclass(frozen=True)
class Checkpoint:
    """The run's checkpoint file, the record a resume must match, and the objective's random stream."""

    path: Path
    record: dict[str, object]
    generator: torch.Generator | None

    def resume(self, network: nn.Module, optimizer: torch.optim.Optimizer, objective: Objective, epochs: int,
               device: torch.device) -> Progress:
        """Load the checkpoint into the network, optimiser, objective and random streams; returns where
        it stands. Refuses a checkpoint of another configuration or past `epochs`."""
        state = read_checkpoint(self.path, device, "--resume cannot continue from it: delete it to train afresh, "
                                                   "or put back a good copy")
        check_resumable(self.path, state, self.record, epochs)
        network.load_state_dict(check_state_dict(network, state["model"], source=str(self.path)))
        optimizer.load_state_dict(state["optimizer"])
        objective.load_state_dict(state["objective"])
        rank = dist.get_rank() if is_distributed() else 0
        if len(state["rng"]) == (dist.get_world_size() if is_distributed() else 1):
            restore_rng_state(state["rng"][rank], self.generator)
        elif is_main_process():
            print("Warning: the checkpoint was written by a different number of processes; random streams "
                  "restart from their seeds, so the continuation is not bit-identical.")
        accuracy = None if state["accuracy"] is None else torch.tensor(state["accuracy"], device=device)
        if is_main_process():
            print(f"Resuming from {self.path} after epoch {state['epoch']}"
                  + (f" (it was started for {counted(state['epochs'], 'epoch')}, now {epochs})"
                     if state.get("epochs", epochs) != epochs else ""))
        return Progress(state["epoch"], state["best_accuracy"], accuracy)

    def save(self, network: nn.Module, optimizer: torch.optim.Optimizer, objective: Objective, progress: Progress,
             epochs: int, rng_states: list[dict]) -> None:
        """Write the checkpoint of `progress` atomically; `rng_states`: every process's random streams."""
        atomic_save({
            "model": network.state_dict(), "optimizer": optimizer.state_dict(),
            "objective": objective.state_dict(), "epoch": progress.epoch, "lr": optimizer.param_groups[0]["lr"],
            "best_accuracy": progress.best_accuracy, "accuracy": float(progress.accuracy), "rng": rng_states,
            "epochs": epochs, "run": self.record,
        }, self.path)

    def interrupted(self, saved_epoch: int) -> TrainingInterrupted:
        """The error of a Ctrl-C after the checkpoint of `saved_epoch` was written (0: none yet)."""
        where = (f"the last checkpoint is {self.path} (after epoch {saved_epoch})" if saved_epoch
                 else "no checkpoint was written yet (interrupted in the first epoch)")
        return TrainingInterrupted(f"training interrupted; {where}", resumable=saved_epoch > 0)
