"""Post-hoc calibrators: fitted on the validation split after training, applied to the frozen network's logits.

One table, `CALIBRATORS`: each entry says what it is fitted on and fits it (`Calibrator.fit`); the fit
returns a temperature, one value or one per pixel, that the network's logits are divided by. The test
stage resizes the logits and the temperature to the image before dividing, and T > 0, so no decision
(p >= 0.5) ever changes: a calibrated row keeps its network's accuracy on the probability maps.
`<network>+<name>` in --compare calibrates that network (`methods`); a name alone calibrates BCE.
Adding a calibrator is one entry here, its module and its test.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from calibrators.inputs import validation_batch, validation_pixels
from calibrators.local_temperature import fit_local_temperature
from calibrators.selective import fit_selective_scaling
from calibrators.temperature import fit_temperature
from predict import Inference, Temperature
from common.settings import PostHocSettings
from common import atomic


@dataclass(frozen=True)
class FittedCalibrator:
    """What a fit produced: the temperature to divide the logits by, what to record, and one line for the log."""

    temperature: Temperature
    record: dict[str, Any]  # written to <name>_fit.json
    description: str
    module: nn.Module | None = None  # weights worth keeping, written to <name>_fit.pth


# (frozen network, validation loader with masks, how to run the network, settings, seed) -> the fit
FitFunction = Callable[[nn.Module, DataLoader, Inference, PostHocSettings, int], FittedCalibrator]


@dataclass(frozen=True)
class Calibrator:
    """One post-hoc calibrator: its name in --compare, what it does, what it is fitted on, and its fit."""

    name: str
    description: str
    fitted_on: str
    fit: FitFunction


def _temperature_scaling(
    network: nn.Module, loader: DataLoader, inference: Inference, settings: PostHocSettings, seed: int
) -> FittedCalibrator:
    logits, labels = validation_pixels(network, loader, inference, settings.ts_pixels_per_image, seed)
    fit = fit_temperature(logits, labels)
    return FittedCalibrator(lambda logits, images: fit.temperature, asdict(fit), fit.describe())


def _local_temperature_scaling(
    network: nn.Module, loader: DataLoader, inference: Inference, settings: PostHocSettings, seed: int
) -> FittedCalibrator:
    logits, images, labels = validation_batch(network, loader, inference)
    fit = fit_local_temperature(logits, images, labels, epochs=settings.lts_epochs, lr=settings.lts_lr,
                                batch_size=inference.batch_size, seed=seed, device=inference.device)
    record = {item.name: getattr(fit, item.name) for item in fields(fit) if item.name != "module"}
    record["converged"] = fit.converged
    module = fit.module.to(inference.device)
    return FittedCalibrator(module, record, fit.describe(), module)


def _selective_scaling(context: Callable[[PostHocSettings], int]) -> FitFunction:
    """The SEL fit whose detector reads a `context(settings)`-wide patch of logits (1: the pixel alone)."""

    def fit_function(
        network: nn.Module, loader: DataLoader, inference: Inference, settings: PostHocSettings, seed: int
    ) -> FittedCalibrator:
        logits, _, labels = validation_batch(network, loader, inference)
        fit = fit_selective_scaling(logits, labels, context=context(settings), seed=seed, device=inference.device)
        record = {item.name: getattr(fit, item.name) for item in fields(fit) if item.name != "module"}
        record.update(converged=fit.converged, context=fit.module.context)
        module = fit.module.to(inference.device)
        return FittedCalibrator(module, record, fit.describe(), module)

    return fit_function


_SEL_FITTED_ON = ("every validation image at network resolution: a seeded 70 % trains the detector of "
                  "mispredicted pixels, the other 30 % chooses its epoch, T2 and its threshold by NLL")

CALIBRATORS: dict[str, Calibrator] = {
    calibrator.name: calibrator
    for calibrator in (
        Calibrator("TS", "temperature scaling (Guo et al. 2017): one temperature for every pixel",
                   "TS_PIXELS_PER_IMAGE sampled pixels of each validation image, at image size",
                   _temperature_scaling),
        Calibrator("LTS", "local temperature scaling (Ding et al. 2021): a small network predicts a temperature "
                   "per pixel from the logits and the image", "every validation image at network resolution "
                   "(a seeded fifth held out to stop early)", _local_temperature_scaling),
        Calibrator("SEL", "selective scaling (Wang et al. 2023): pixels a detector flags as mispredicted get a large "
                   "temperature T2, the others none; the paper's detector, which sees the pixel's own logit",
                   _SEL_FITTED_ON, _selective_scaling(lambda settings: 1)),
        Calibrator("SEL-context", "selective scaling whose detector sees the SEL_CONTEXT x SEL_CONTEXT patch of "
                   "logits around the pixel", _SEL_FITTED_ON, _selective_scaling(lambda settings: settings.sel_context)),
    )
}


def fit_calibrator(
    name: str, network: nn.Module, loader: DataLoader, inference: Inference, settings: PostHocSettings, seed: int,
    out_dir: Path, weights: Path,
) -> Temperature:
    """Fit the calibrator `name` on the validation images of `loader` (all of them, not a DDP shard) with
    the network frozen; write `<name>_fit.json` (and `<name>_fit.pth` for one with weights) into `out_dir`,
    print what was fitted and return the temperature."""
    fitted = CALIBRATORS[name].fit(network, loader, inference, settings, seed)
    print(f"{name} on {weights}: {fitted.description}")
    stem = name.lower()
    if fitted.module is not None:
        with atomic.replacing(out_dir / f"{stem}_fit.pth") as temporary:
            torch.save(fitted.module.state_dict(), temporary)
    record = {**fitted.record, "weights": str(weights), "description": fitted.description}
    atomic.write_text(out_dir / f"{stem}_fit.json", json.dumps(record, indent=1) + "\n")
    return fitted.temperature
