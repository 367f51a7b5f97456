"""Time training steps with plain BCE and with SC-BCE + AdaptiveAlpha on the same batches.

    python benchmarks/bench_train.py                       # the paper's configuration (GPU)
    python benchmarks/bench_train.py --size=96 --batch=4   # a size a CPU manages

Prints images/s for both and the overhead ratio of the alpha machinery (target: at most 2%).
Both runs use `train.train_step`, the loop's own step, with alpha updates active.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loss import build_objective  # noqa: E402
from model import build_model  # noqa: E402
from train import train_step  # noqa: E402


def time_method(method: str, batches: list, args: argparse.Namespace, device: torch.device) -> float:
    """Images per second over the timed steps, after warm-up steps."""
    torch.manual_seed(0)
    network = build_model(args.feat_channel, device=device).train()
    if args.channels_last:
        network = network.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(network.parameters(), 2.5e-5)
    objective = build_objective(
        method, num_images=args.images, beta=2.0, eta=0.002, lam=2000.0, start_epoch=0, aslp_mode="MC",
        generator=torch.Generator(device).manual_seed(0), device=device,
    )
    accuracy = torch.tensor(0.9, device=device)
    for step, (images, gts, index) in enumerate(batches * ((args.warmup + args.steps) // len(batches) + 1)):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        if step == args.warmup + args.steps:
            break
        train_step(network, objective, optimizer, images, gts, index, 1, accuracy, args.amp)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--feat-channel", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each method; best kept")
    parser.add_argument("--images", type=int, default=10553, help="size of the alpha table (DUTS-TR)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    generator = torch.Generator().manual_seed(0)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    batches = [
        (torch.randn(args.batch, 3, args.size, args.size, generator=generator).to(device, memory_format=memory_format),
         (torch.rand(args.batch, 1, args.size, args.size, generator=generator) > 0.7).float().to(device),
         torch.randint(0, args.images, (args.batch,), generator=generator).to(device))
        for _ in range(4)
    ]
    results = {"BCE": [], "ASLP": []}
    for _ in range(args.repeats):
        for method in results:
            results[method].append(time_method(method, batches, args, device))
    bce, aslp = max(results["BCE"]), max(results["ASLP"])
    print(f"device {device}, {args.size}px, batch {args.batch}, amp {args.amp}, channels_last {args.channels_last}")
    print(f"plain BCE          : {bce:8.2f} images/s")
    print(f"SC-BCE + alpha     : {aslp:8.2f} images/s")
    print(f"overhead of ASLP   : {100 * (bce / aslp - 1):+.2f}% per step (target <= 2%)")


if __name__ == "__main__":
    main()
