"""The tiny training configuration the tests build, as main_ASLP.py builds its settings groups."""
from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import torch

import main_ASLP
from common.settings import ASLPSettings, BaselineSettings, OptimisationSettings, SpeedSettings, from_constants
from data.datasets import pair_split
from data.loaders import inference_loader, training_loader
from data.split import read_or_draw_split, save_split
from loss.aslp import ASLPLoss
from model import build_model
from predict import Inference
from protocol import get_protocol
from training.checkpoint import seed_everything
from training.loop import TrainingRun, train
from training.validation import ValidationPass

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
    train(network, objective, loader, ValidationPass(val_loader, PAPER),
          tiny_run(out_dir, [s for s, _, _ in pairs], generator, resume, run), replace(OPTIMISATION, epochs=epochs),
          SPEED)
    return network, objective


def read_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def validation_loader(demo_root: Path, masks: list[Path] | None = None, batch_size: int = 4):
    """The tiny configuration's validation loader (split and sizes of tiny_training), optionally with
    other masks for its images."""
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    _, val_pairs = pair_split(image_dir, mask_dir, *load_or_make_split(demo_root, image_dir, 4, 1))
    return inference_loader([p for _, p, _ in val_pairs], 32, batch_size, 0, False,
                            masks or [m for _, _, m in val_pairs])
