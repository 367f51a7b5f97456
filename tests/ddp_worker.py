"""Run by tests/training/test_loop.py under torchrun (2 CPU processes, gloo): trains the tiny configuration
and saves this process's final weights and alpha table to <out>/rank<r>.pt for comparison."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataclasses import replace  # noqa: E402

from data.datasets import pair_split  # noqa: E402
from data.loaders import inference_loader, training_loader  # noqa: E402
from common.distributed import barrier, setup, teardown  # noqa: E402
from loss.aslp import ASLPLoss  # noqa: E402
from model import build_model  # noqa: E402
from tests.tiny import ASLP, CPU, OPTIMISATION, PAPER, SPEED, load_or_make_split, tiny_run  # noqa: E402
from training.checkpoint import seed_everything  # noqa: E402
from training.loop import train  # noqa: E402
from training.validation import ValidationPass  # noqa: E402


def run(demo_root: Path, out: Path) -> None:
    context = setup("cpu")
    seed_everything(1 + context.rank)
    torch.manual_seed(0)  # the same initial weights everywhere (DDP would broadcast rank 0's anyway)
    network = build_model(8)
    image_dir, mask_dir = demo_root / "Train" / "DUTS-TR" / "Image", demo_root / "Train" / "DUTS-TR" / "GT"
    if context.is_main:
        load_or_make_split(demo_root, image_dir, 4, 1)
    barrier()
    train_stems, val_stems = load_or_make_split(demo_root, image_dir, 4, 1)
    pairs, val_pairs = pair_split(image_dir, mask_dir, train_stems, val_stems)
    loader = training_loader(pairs, 32, 4, 0, False, 1, context.rank, context.world_size)
    val_loader = inference_loader([p for _, p, _ in val_pairs], 32, 4, 0, False, [m for _, _, m in val_pairs],
                                  context.rank, context.world_size)
    generator = torch.Generator().manual_seed(1 + context.rank)
    objective = ASLPLoss(ASLP, len(pairs), generator, "cpu")
    train(network, objective, loader, ValidationPass(val_loader, PAPER),
          tiny_run(out, [s for s, _, _ in pairs], generator, inference=replace(CPU, device=context.device)),
          replace(OPTIMISATION, decay_rate=0.95, decay_epoch=10), SPEED)
    torch.save({"model": network.state_dict(), "alpha": objective.state_dict()["alpha"]}, out / f"rank{context.rank}.pt")
    teardown()


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
