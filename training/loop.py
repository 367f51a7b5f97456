"""The training loop: SC-BCE (or any `loss.Objective`) with Adam, the authors' lr schedule, one
validation pass every epoch (the accuracy that steers the alpha controller, and the calibration of
the validation probability maps, logged for every method), and an atomic checkpoint every epoch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from common.distributed import broadcast_buffers, gather_objects, is_main_process
from common.layout import CHECKPOINT_NAME, final_weights_name
from common.settings import OptimisationSettings, SpeedSettings
from loss import Objective
from predict import Inference
from training.checkpoint import Checkpoint, Progress, atomic_save, rng_state
from training.epoch import Trainer, seed_epoch
from training.log import (
    ALPHA_LOG_NAME, ALPHA_TABLE_NAME, LOG_NAME, EpochResult, log_epoch, perturbation_summary, write_alpha_table,
)
from training.plots import ALPHA_PLOT_NAME, CALIBRATION_PLOT_NAME, plot_alpha_history, plot_calibration_history
from training.step import decay_lr
from training.validation import ValidationPass


@dataclass(frozen=True)
class TrainingRun:
    """One training run: where it writes, how it is seeded, and what its checkpoint records."""

    out_dir: Path
    inference: Inference            # device, and how validation images are run (size, batch, workers, AMP)
    seed: int
    generator: torch.Generator | None  # the objective's random stream (label perturbation), saved for resume
    record: dict[str, object]       # `run_record`: resuming under another configuration is refused
    image_names: list[str]          # training images in dataset-index order (for alpha.json)
    resume: bool = False

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.out_dir / CHECKPOINT_NAME, self.record, self.generator)


def train(
    network: nn.Module,
    objective: Objective,
    train_loader: DataLoader,
    validation: ValidationPass,
    run: TrainingRun,
    optimisation: OptimisationSettings,
    speed: SpeedSettings,
) -> Path:
    """Train for `optimisation.epochs` epochs into `run.out_dir`; returns the path of the final weights.

    `validation` says how the validation accuracy, which sets ASLP's penalty, counts soft mask pixels
    (its protocol), and with which bins and boundary band the validation calibration is logged every
    epoch (the test stage's N_BINS and BOUNDARY_WIDTH). Under DDP (torchrun) the network is wrapped
    here; only rank 0 writes files and shows progress. Ctrl-C raises TrainingInterrupted, naming the
    checkpoint to resume from.
    """
    epochs, checkpoint = optimisation.epochs, run.checkpoint
    trainer = Trainer.build(network, objective, run.inference.device, speed, optimisation.lr)
    progress = _start(trainer, run, epochs)
    saved_epoch = progress.epoch  # the epoch the checkpoint on disk holds
    try:
        for epoch in range(progress.epoch + 1, epochs + 1):
            seed_epoch(train_loader, run.seed, epoch)
            sums, diagnostics = trainer.run_epoch(train_loader, epoch, epochs, progress.accuracy, checkpoint.path)
            broadcast_buffers(network)
            validated = validation.run(network, run.inference)
            progress = Progress(epoch, max(progress.best_accuracy, float(validated.accuracy)), validated.accuracy)
            result = EpochResult(epoch, sums.reduced(), float(validated.accuracy), progress.best_accuracy,
                                 validated.calibration(validation.n_bins), diagnostics, trainer.lr)
            decay_lr(trainer.optimizer, epoch, optimisation.decay_rate, optimisation.decay_epoch)
            rng_states = gather_objects(rng_state(run.generator))
            if is_main_process():
                log_epoch(run.out_dir, result, epochs, objective.perturbed_label())
                checkpoint.save(network, trainer.optimizer, objective, progress, epochs, rng_states)
            saved_epoch = epoch
        return _finish(network, objective, run, epochs, validation)
    except KeyboardInterrupt as interrupt:
        raise checkpoint.interrupted(saved_epoch) from interrupt


def _start(trainer: Trainer, run: TrainingRun, epochs: int) -> Progress:
    """Where the run starts: from its checkpoint under --resume, else from epoch 1 with the logs of an
    earlier run in its folder removed."""
    checkpoint = run.checkpoint
    if run.resume and checkpoint.path.is_file():
        return checkpoint.resume(trainer.network, trainer.optimizer, trainer.objective, epochs, trainer.device)
    if is_main_process():
        if run.resume:
            print(f"RESUME is set but {checkpoint.path} does not exist: starting from epoch 1")
        for stale in (run.out_dir / LOG_NAME, run.out_dir / ALPHA_LOG_NAME):
            stale.unlink(missing_ok=True)
    return Progress(0, 0.0, None)


def _finish(
    network: nn.Module, objective: Objective, run: TrainingRun, epochs: int, validation: ValidationPass,
) -> Path:
    """Write the final weights and, on rank 0, the closing line on perturbed labels, the calibration
    plot and, for methods with alpha, the alpha table and plot; returns the final weights' path."""
    out_dir = run.out_dir
    final_path = out_dir / final_weights_name(epochs)
    if is_main_process():
        atomic_save(network.state_dict(), final_path)
        perturbed_label = objective.perturbed_label()
        if perturbed_label is not None:
            print(perturbation_summary(out_dir / LOG_NAME, perturbed_label))
        plot_calibration_history(out_dir / LOG_NAME, out_dir / CALIBRATION_PLOT_NAME, validation.n_bins,
                                 validation.boundary_width)
        alpha = objective.state_dict().get("alpha")
        if alpha is not None:
            write_alpha_table(alpha.cpu(), run.image_names, out_dir / ALPHA_TABLE_NAME)
            plot_alpha_history(out_dir / ALPHA_LOG_NAME, out_dir / ALPHA_PLOT_NAME)
    return final_path
