"""The tiny training configuration the tests build, as main_ASLP.py builds its settings groups."""
from __future__ import annotations

from pathlib import Path

import torch

import main_ASLP
from data.split import read_or_draw_split, save_split
from predict import Inference
from protocol import get_protocol
from common.settings import ASLPSettings, BaselineSettings, OptimisationSettings, SpeedSettings, from_constants
from train import TrainingRun

ASLP = ASLPSettings(aslp_mode="MC", perturb_noise=False, beta=2.0, eta=0.05, lambda_=2000.0, start_epoch=1)
OPTIMISATION = OptimisationSettings(epochs=2, lr=1e-3, batch_size=8, decay_rate=0.5, decay_epoch=1)
SPEED = SpeedSettings(amp=False, channels_last=False, log_every=2, eval_workers=1)
BASELINES = from_constants(BaselineSettings, main_ASLP.CONSTANTS)  # the comparison methods' defaults
PAPER = get_protocol("paper")
CPU = Inference(torch.device("cpu"), size=32, batch_size=4, num_workers=0)


def tiny_run(out_dir: Path, names: list[str], generator: torch.Generator | None, resume: bool = False,
             record: dict | None = None, seed: int = 1, inference: Inference = CPU) -> TrainingRun:
    return TrainingRun(out_dir, inference, seed, generator, record or {}, names, resume)


def load_or_make_split(list_dir: Path, image_dir: Path, validation_size: int, seed: int, train_set: str = "DUTS-TR",
                       report: bool = True) -> tuple[list[str], list[str]]:
    """(train stems, validation stems) as the pipeline gets them, without its checks of the pairs between
    drawing and saving the split (data.split)."""
    split = read_or_draw_split(list_dir, image_dir, validation_size, seed, train_set, report)
    save_split(split)
    return split.train, split.validation
