"""The training loop: SC-BCE (or any `loss.Objective`) with Adam, the authors' lr schedule, one
validation pass every epoch (the accuracy that steers the alpha controller, and the calibration of
the validation probability maps, logged for every method), and an atomic checkpoint every epoch.
"""
from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from common import atomic
from common.configurator import format_value
from common.distributed import all_reduce, broadcast_buffers, gather_objects, is_distributed, is_main_process
from common.errors import UserFacingError
from common.layout import CHECKPOINT_NAME, final_weights_name
from loss import Objective, image_statistics, objective_constants
from metrics.boundary import BOUNDARY_WIDTH, boundary_band
from metrics.calibration import (
    N_BINS, N_LEVELS, expected_calibration_error, joint_histogram, overconfidence_error, pixel_accuracy,
)
from model.checkpoint import check_state_dict, read_checkpoint
from predict import Inference, predict_maps
from protocol import PROBABILITY_PROTOCOL, Protocol, probability_map
from common.settings import OptimisationSettings, SpeedSettings
from common.text import counted, plural
from train_plots import plot_alpha_history, plot_calibration_history

ALPHA_LOG_NAME = "alpha_log.csv"
# alpha_used_mean: the mean alpha the epoch's steps drew their perturbations with (each before that
# step's update); alpha_log.csv holds the distribution after the epoch's last update.
# perturbed_share, perturbed_labels: the share and the number of the epoch's image-steps that trained
# on a perturbed label (methods that perturb labels; an ASLP run whose alphas are still near 0 shows 0
# here and trains as BCE would). val_accuracy: under the run's protocol (it steers ASLP's alpha).
# val_ECE, val_OE, val_ECE_boundary: the validation probability maps round(255 p) under the
# calibrated protocol's rule (masks thresholded at 128), as the test stage scores them; the last in
# the masks' boundary bands (NaN where no validation mask has a boundary).
LOG_COLUMNS = ("epoch", "loss", "bce", "entropy", "alpha_used_mean", "perturbed_share", "perturbed_labels",
               "val_accuracy", "val_ECE", "val_OE", "val_ECE_boundary", "lr")
CALIBRATION_PLOT_NAME = "calibration_history.png"

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


def decay_lr(optimizer: torch.optim.Optimizer, epoch: int, decay_rate: float, decay_epoch: int) -> None:
    """After epoch `epoch` (1-based) multiply the lr by decay_rate ** (epoch // decay_epoch).

    This compounds, as in the authors' runs: with 0.95 and 10 the lr is unchanged for epochs 1-9,
    shrinks by 0.95 after each of epochs 10-19 and by 0.95**2 after each of epochs 20-29.
    """
    for group in optimizer.param_groups:
        group["lr"] *= decay_rate ** (epoch // decay_epoch)


@dataclass(frozen=True)
class Validation:
    """One validation pass, summed over the processes' shards under DDP: the joint (probability
    level, mask level) histograms of every pixel and of the boundary bands' pixels, and the pixel
    accuracy they give under the run's protocol."""

    accuracy: torch.Tensor  # float32 scalar on the training device: what steers ASLP's alpha
    joint: np.ndarray  # (256, 256) int64: pixels per (round(255 p), mask level), [v, g]
    band_joint: np.ndarray  # the same, of the pixels in the masks' boundary bands

    def calibration(self, n_bins: int = N_BINS) -> dict[str, float]:
        """val_ECE, val_OE and val_ECE_boundary (NaN where no mask has a boundary) under the
        calibrated protocol's rule, the formulas and bins of the test stage."""
        counts = PROBABILITY_PROTOCOL.counts_from_joint(self.joint)
        band = PROBABILITY_PROTOCOL.counts_from_joint(self.band_joint)
        return {"val_ECE": expected_calibration_error(counts, n_bins), "val_OE": overconfidence_error(counts, n_bins),
                "val_ECE_boundary": expected_calibration_error(band, n_bins) if band.any() else math.nan}


@torch.no_grad()
def validate(
    network: nn.Module, loader: DataLoader, inference: Inference, protocol: Protocol,
    boundary_width: int = BOUNDARY_WIDTH,
) -> Validation:
    """Run the validation images once, at their original size, and count their pixels by
    (probability level, mask level), overall and in each mask's boundary band of `boundary_width`.

    Every number comes from these counts through the formulas the scoring uses: the accuracy under
    `protocol` (which pixels count as correct, soft mask pixels included) and the calibration of the
    probability maps. The maps are the test stage's, `probability_map` of sigmoid(logit), so the
    decision level >= 128 is p >= 0.5, the authors' decision on the maps they write.
    """
    joints = np.zeros((2, N_LEVELS, N_LEVELS), dtype=np.int64)  # all pixels, band pixels
    for _, logit, mask in predict_maps(network, loader, inference, desc="Validation", show_progress=is_main_process()):
        levels, gt = probability_map(torch.sigmoid(logit).cpu().numpy()), mask.cpu().numpy()
        band = boundary_band(gt, boundary_width)
        joints[0] += joint_histogram(levels, gt)
        joints[1] += joint_histogram(levels[band], gt[band])
    # The processes' counts are added on the device, as the collective backend (NCCL) needs.
    joint, band_joint = all_reduce(torch.from_numpy(joints).to(inference.device)).cpu().numpy()
    accuracy = pixel_accuracy(protocol.counts_from_joint(joint))
    return Validation(torch.tensor(accuracy, dtype=torch.float32, device=inference.device), joint, band_joint)


def train_step(
    network: nn.Module, objective: Objective, optimizer: torch.optim.Optimizer, images: torch.Tensor,
    gts: torch.Tensor, index: torch.Tensor, epoch: int, accuracy: torch.Tensor | None, amp: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """One optimiser step; returns the detached loss, per-image clean BCE and entropy, the sum of the
    batch's alphas before their update and the number of its images trained on a perturbed label
    (each None for methods without). Nothing here waits for the device."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = network(images)
    logits = logits.float()
    loss = objective(logits, gts, index)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    # Statistics of the logits of this step (before the update), as the alpha rule prescribes.
    bce, entropy = image_statistics(logits.detach(), gts)
    alpha = objective.alpha_of(index)
    alpha_sum = alpha.sum() if alpha is not None else None
    perturbed = objective.last_perturbed
    perturbed_count = perturbed.sum() if perturbed is not None else None
    objective.after_step(index, bce, entropy, epoch, accuracy)
    return loss.detach(), bce, entropy, alpha_sum, perturbed_count


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


def describe_alpha(summary: dict[str, float]) -> str:
    return (f"alpha mean {summary['mean']:.4f} median {summary['q50']:.4f} max {summary['q100']:.4f}, "
            f"{100 * summary['at_zero']:.1f}% at 0, {100 * summary['at_ceiling']:.1f}% at the upper clamp")


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of the CSV at `path`."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def describe_calibration(calibration: dict[str, float]) -> str:
    """The epoch line's words for `Validation.calibration` (fractions shown in percent)."""
    def percent(key: str) -> str:
        return f"{100 * calibration[key]:.2f}%" if math.isfinite(calibration[key]) else "n/a"
    return (f"probability maps ECE {percent('val_ECE')}, OE {percent('val_OE')}, "
            f"boundary ECE {percent('val_ECE_boundary')}")


def append_row(path: Path, row: dict[str, float | int | str]) -> None:
    """Append `row` to the CSV at `path`, writing the header first if the file is new.

    A file begun with other columns (a run resumed from a checkpoint written before a column was
    added) is first rewritten under the union of both headers, its rows' new cells left empty, so
    that every row lines up with the header.
    """
    columns = list(row)
    if path.exists():
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
        if header != columns:
            _, rows = read_rows(path)
            columns += [name for name in header if name not in columns]
            with atomic.opened(path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
    new = not path.exists()
    with atomic.appending(path, newline="") as handle:  # a row is cut off again when it cannot be written whole
        writer = csv.DictWriter(handle, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})


def perturbation_summary(log_path: Path, perturbed_label: str) -> str:
    """The run's closing line on perturbed labels, from its log.csv (every epoch, also those before a
    resume): how many image-steps drew one in all, and in which epochs; or, where none did, a note
    that the run trained as BCE would."""
    _, rows = read_rows(log_path)
    shares = [float(row["perturbed_share"]) for row in rows if row.get("perturbed_share")]
    if not any(shares):
        return (f"Note: no label was perturbed in any epoch ({log_path}, perturbed_share), so this run trained "
                "exactly as BCE would; train longer or with a larger perturbation probability.")
    counts = {int(row["epoch"]): int(row["perturbed_labels"]) for row in rows if row.get("perturbed_labels")}
    listed = [f"{epoch} ({count})" for epoch, count in counts.items() if count]
    # Rows of a log begun before perturbed_labels was logged have only the share.
    uncounted = [row["epoch"] for row in rows
                 if float(row.get("perturbed_share") or 0) and not row.get("perturbed_labels")]
    epochs = f"{plural('epoch', len(listed))} {', '.join(listed)}" if listed else "no counted epoch"
    also = (f"; also in {plural('epoch', len(uncounted))} {', '.join(uncounted)}, logged before the count "
            "was" if uncounted else "")
    total = sum(counts.values())
    return (f"Labels perturbed ({perturbed_label}): {counted(total, 'image-step')} in all, in "
            f"{epochs}{also} ({log_path}, perturbed_labels)")


def write_alpha_table(alpha: torch.Tensor, names: list[str], path: Path) -> None:
    """Image name -> alpha, highest first: the images the model found most ambiguous lead."""
    values = alpha.tolist()
    order = sorted(range(len(names)), key=lambda i: (-values[i], names[i]))
    atomic.write_text(path, json.dumps({names[i]: values[i] for i in order}, indent=1) + "\n")


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


def train(
    network: nn.Module,
    objective: Objective,
    train_loader: DataLoader,
    val_loader: DataLoader,
    run: TrainingRun,
    optimisation: OptimisationSettings,
    speed: SpeedSettings,
    protocol: Protocol,
    n_bins: int = N_BINS,
    boundary_width: int = BOUNDARY_WIDTH,
) -> Path:
    """Train for `optimisation.epochs` epochs into `run.out_dir`; returns the path of the final weights.

    The protocol decides how the validation accuracy, which sets ASLP's penalty, counts soft mask
    pixels. The same validation pass gives the validation calibration logged every epoch (`n_bins`
    equal-width bins, the boundary band of `boundary_width` mask pixels: the test stage's N_BINS and
    BOUNDARY_WIDTH). Under DDP (torchrun) the network is wrapped here; only rank 0 writes files and
    shows progress. Ctrl-C raises TrainingInterrupted, naming the checkpoint to resume from.
    """
    out_dir, device, generator, seed = run.out_dir, run.inference.device, run.generator, run.seed
    epochs, amp = optimisation.epochs, speed.amp
    main_process = is_main_process()
    memory_format = torch.channels_last if speed.channels_last else torch.contiguous_format
    network.to(device, memory_format=memory_format).train()
    model = network
    if is_distributed():
        model = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(network.parameters(), optimisation.lr)
    first_epoch, best_accuracy, accuracy = 1, 0.0, None
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if run.resume and checkpoint_path.is_file():
        state = read_checkpoint(checkpoint_path, device, f"--resume cannot continue from it: delete it to train "
                                "afresh, or put back a good copy")
        check_resumable(checkpoint_path, state, run.record, epochs)
        network.load_state_dict(check_state_dict(network, state["model"], source=str(checkpoint_path)))
        optimizer.load_state_dict(state["optimizer"])
        objective.load_state_dict(state["objective"])
        rank = dist.get_rank() if is_distributed() else 0
        if len(state["rng"]) == (dist.get_world_size() if is_distributed() else 1):
            restore_rng_state(state["rng"][rank], generator)
        elif main_process:
            print("Warning: the checkpoint was written by a different number of processes; random streams "
                  "restart from their seeds, so the continuation is not bit-identical.")
        first_epoch, best_accuracy = state["epoch"] + 1, state["best_accuracy"]
        accuracy = None if state["accuracy"] is None else torch.tensor(state["accuracy"], device=device)
        if main_process:
            print(f"Resuming from {checkpoint_path} after epoch {state['epoch']}"
                  + (f" (it was started for {counted(state['epochs'], 'epoch')}, now {epochs})"
                     if state.get("epochs", epochs) != epochs else ""))
    elif run.resume and main_process:
        print(f"RESUME is set but {checkpoint_path} does not exist: starting from epoch 1")

    log_path = out_dir / "log.csv"
    if first_epoch == 1 and main_process:
        for stale in (log_path, out_dir / ALPHA_LOG_NAME):
            stale.unlink(missing_ok=True)
    saved_epoch = first_epoch - 1  # the epoch the checkpoint on disk holds
    try:
        for epoch in range(first_epoch, epochs + 1):
            # Seeding the loader per epoch fixes its shuffle and worker seeds, so a resumed run sees
            # exactly the batches of an uninterrupted one.
            train_loader.generator.manual_seed(seed + epoch)
            train_loader.dataset.set_epoch(epoch)
            if isinstance(train_loader.sampler, DistributedSampler):
                train_loader.sampler.set_epoch(epoch)
            sums = torch.zeros(5, dtype=torch.float64, device=device)  # loss, bce, entropy, alpha, perturbed
            first_bad_step = torch.full((), -1, dtype=torch.int64, device=device)
            images_seen = 0
            bar = tqdm(train_loader, desc=f"Epoch {epoch}/{epochs}", unit="batch", disable=not main_process)
            for step, (images, gts, index) in enumerate(bar, start=1):
                images = images.to(device, non_blocking=True, memory_format=memory_format)
                gts = gts.to(device, non_blocking=True)
                index = index.to(device, non_blocking=True)
                loss, bce, entropy, alpha_sum, perturbed_count = train_step(
                    model, objective, optimizer, images, gts, index, epoch, accuracy, amp)
                n = images.shape[0]
                images_seen += n
                sums[:3] += torch.stack([loss * n, bce.sum(), entropy.sum()]).double()
                if alpha_sum is not None:
                    sums[3] += alpha_sum
                if perturbed_count is not None:
                    sums[4] += perturbed_count
                first_bad_step.masked_fill_((first_bad_step < 0) & ~torch.isfinite(loss), step)
                if step % speed.log_every == 0 or step == len(train_loader):
                    # The only host synchronisation of the loop, every `log_every` steps.
                    bad_step = int(all_reduce(first_bad_step.clone(), dist.ReduceOp.MAX))
                    if bad_step >= 0:
                        raise TrainingError(
                            f"non-finite loss in epoch {epoch}, step {bad_step}; the last good "
                            f"checkpoint is {checkpoint_path if checkpoint_path.exists() else 'none (first epoch)'}"
                        )
                    means = (sums / images_seen).tolist()
                    shown = dict(loss=f"{means[0]:.4f}", bce=f"{means[1]:.4f}", entropy=f"{means[2]:.3f}")
                    if alpha_sum is not None:
                        shown["alpha"] = f"{means[3]:.4f}"
                    bar.set_postfix(shown, lr=f"{optimizer.param_groups[0]['lr']:.2e}")
            diagnostics = objective.diagnostics()
            if diagnostics:
                bar.set_postfix_str(f"{bar.postfix}, {describe_alpha(diagnostics)}")
            bar.close()
            broadcast_buffers(network)

            validation = validate(network, val_loader, run.inference, protocol, boundary_width)
            accuracy, calibration = validation.accuracy, validation.calibration(n_bins)
            best_accuracy = max(best_accuracy, float(accuracy))
            lr_used = optimizer.param_groups[0]["lr"]
            decay_lr(optimizer, epoch, optimisation.decay_rate, optimisation.decay_epoch)
            totals = all_reduce(sums)
            seen = float(all_reduce(torch.tensor(float(images_seen), device=device)))
            means = (totals / max(seen, 1.0)).tolist()
            rng_states = gather_objects(rng_state(generator))
            if main_process:
                perturbed = "" if perturbed_count is None else (
                    f", {int(totals[4])} of {counted(int(seen), 'label')} perturbed (to "
                    f"{objective.perturbed_label()})")
                print(f"Epoch {epoch}/{epochs}: loss {means[0]:.4f}, clean BCE {means[1]:.4f}{perturbed}, validation "
                      f"accuracy {float(accuracy):.4f} (best {best_accuracy:.4f}), {describe_calibration(calibration)}")
                if diagnostics:
                    print(f"  alpha: {describe_alpha(diagnostics)}")
                    append_row(out_dir / ALPHA_LOG_NAME, {"epoch": epoch, **diagnostics})
                values = {
                    "epoch": epoch, "loss": means[0], "bce": means[1], "entropy": means[2],
                    # Empty for methods without alpha, or without perturbed labels.
                    "alpha_used_mean": "" if alpha_sum is None else means[3],
                    "perturbed_share": "" if perturbed_count is None else means[4],
                    "perturbed_labels": "" if perturbed_count is None else int(totals[4]),
                    "val_accuracy": float(accuracy), **calibration, "lr": lr_used,
                }
                append_row(log_path, {name: values[name] for name in LOG_COLUMNS})
                atomic_save({
                    "model": network.state_dict(), "optimizer": optimizer.state_dict(),
                    "objective": objective.state_dict(), "epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                    "best_accuracy": best_accuracy, "accuracy": float(accuracy), "rng": rng_states,
                    "epochs": epochs, "run": run.record,
                }, checkpoint_path)
            saved_epoch = epoch

        final_path = out_dir / final_weights_name(epochs)
        if main_process:
            atomic_save(network.state_dict(), final_path)
            perturbed_label = objective.perturbed_label()
            if perturbed_label is not None:
                print(perturbation_summary(log_path, perturbed_label))
            plot_calibration_history(log_path, out_dir / CALIBRATION_PLOT_NAME, n_bins, boundary_width)
            alpha = objective.state_dict().get("alpha")
            if alpha is not None:
                write_alpha_table(alpha.cpu(), run.image_names, out_dir / "alpha.json")
                plot_alpha_history(out_dir / ALPHA_LOG_NAME, out_dir / "alpha_history.png")
    except KeyboardInterrupt as interrupt:
        where = (f"the last checkpoint is {checkpoint_path} (after epoch {saved_epoch})" if saved_epoch
                 else "no checkpoint was written yet (interrupted in the first epoch)")
        raise TrainingInterrupted(f"training interrupted; {where}", resumable=saved_epoch > 0) from interrupt
    return final_path
