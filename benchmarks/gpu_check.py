"""Every stage on a CUDA GPU in a few minutes: run it whenever a GPU machine is at hand, and put the
figures it prints in docs/testing.md ("On a GPU").

    python benchmarks/gpu_check.py                        # on a machine with CUDA (about 5 minutes)
    python benchmarks/gpu_check.py --device=cpu --quick   # the same steps, tiny, to check this script

Steps, each timed; a step that fails is reported and the others still run:

1. `fp32`: the demo data at 384 px (the paper's resolution) in float32: BCE, ASLP and SVLS trained, every
   post-hoc calibrator on BCE and TS on ASLP fitted, test maps written and scored (paper protocol, with
   the probability maps beside): training, the validation calibration, the fits, inference, scoring;
2. `amp`: the same trainings with bfloat16 autocast and channels-last memory (--amp --channels_last);
3. `throughput`: training images/s with plain BCE against SC-BCE + AdaptiveAlpha at 384 px, batch 10
   (`bench_train.py`), in float32 and with AMP;
4. `authors`: the authors' ASLP step against ours on the same batches at 384 px (`bench_train.py
   --against-authors`), when their code is beside the repository (../shared/reference/authors_code).

It prints one line per step (wall time, status) and what each measured: each run's DEMO-SOD ECE of the
probability maps per method, the images/s and ratios of the benchmarks. The demo data are synthetic:
the ECE values only show that each stage ran and that AMP did not change them much. No package beyond
the requirements' is needed; PySODMetrics is not used (the paper protocol scores).
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
AUTHORS_CODE = PROJECT.parent / "shared" / "reference" / "authors_code"
METHODS = "BCE,ASLP,SVLS,TS,LTS,SEL,SEL-context,ASLP+TS"
FULL = dict(size=384, epochs=4, feat_channel=256, batch=10, steps=20)
QUICK = dict(size=32, epochs=2, feat_channel=8, batch=4, steps=2)
# What the benchmarks print that this summary keeps: their lines with a rate or a ratio (whole words:
# "calibration" and "configuration" hold "ratio").
MEASURED = re.compile(r"images/s|\bratio\b|\boverhead\b", re.IGNORECASE)


@dataclass
class Step:
    """One step of the check: its command, and what came of it."""

    name: str
    command: list[str]
    seconds: float = 0.0
    status: str = "not run"
    figures: list[str] = field(default_factory=list)


def demo_run(name: str, device: str, plan: dict, out: Path, extra: list[str]) -> Step:
    return Step(name, [
        sys.executable, str(PROJECT / "main_ASLP.py"), "--demo", f"--dataset_root={out / 'demo_data'}",
        f"--experiment=gpu_check_{name}", f"--device={device}", f"--train_size={plan['size']}",
        f"--test_size={plan['size']}", f"--feat_channel={plan['feat_channel']}", f"--epochs={plan['epochs']}",
        "--start_epoch=1", "--eta=0.05", f"--batch_size={plan['batch']}", f"--compare={METHODS}", *extra,
    ])


def bench_step(name: str, device: str, plan: dict, extra: list[str]) -> Step:
    return Step(name, [
        sys.executable, str(PROJECT / "benchmarks" / "bench_train.py"), f"--device={device}", f"--size={plan['size']}",
        f"--batch={plan['batch']}", f"--feat-channel={plan['feat_channel']}", f"--steps={plan['steps']}",
        "--warmup=2", "--repeats=3", *extra,
    ])


def demo_figures(experiment: Path) -> list[str]:
    """Each method's ECE and ACC of the probability maps on DEMO-SOD, from the comparison it wrote."""
    summary = json.loads((experiment / "comparison.json").read_text())["summary"]
    figures = []
    for method, groups in summary.items():
        cells = groups.get("DEMO-SOD", {})
        ece, acc = cells.get("probabilities_ECE"), cells.get("probabilities_ACC")
        if ece and acc:
            figures.append(f"{method}: probability maps ECE {100 * ece['mean']:.2f} %, ACC {100 * acc['mean']:.2f} %")
    return figures


def run(step: Step, cwd: Path, timeout: int) -> None:
    """Run `step` from `cwd`, timing it and keeping what it measured."""
    print(f"\n== {step.name}: {' '.join(step.command[1:])}", flush=True)
    started = time.monotonic()
    try:
        result = subprocess.run(step.command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        step.seconds, step.status = time.monotonic() - started, f"timed out after {timeout} s"
        return
    step.seconds = time.monotonic() - started
    if result.returncode != 0:
        step.status = f"failed ({result.returncode}): {(result.stderr.strip().splitlines() or ['?'])[-1]}"
        print(result.stderr[-3000:])
        return
    step.status = "ok"
    step.figures = [line.strip() for line in result.stdout.splitlines() if MEASURED.search(line)]
    experiment = cwd / "experiments" / f"gpu_check_{step.name}"
    if (experiment / "comparison.json").is_file():
        step.figures += demo_figures(experiment)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, or cpu to check the script")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    parser.add_argument("--out", type=Path, default=PROJECT, help="folder the runs write experiments/ into")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one step may take")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    steps = [
        demo_run("fp32", args.device, plan, args.out, []),
        demo_run("amp", args.device, plan, args.out, ["--amp=true", "--channels_last=true"]),
        bench_step("throughput", args.device, plan, []),
        bench_step("throughput_amp", args.device, plan, ["--amp", "--channels-last"]),
    ]
    if AUTHORS_CODE.is_dir():
        steps.append(bench_step("authors", args.device, plan, ["--against-authors"]))
    started = time.monotonic()
    for step in steps:
        run(step, args.out, args.timeout)
    print(f"\nGPU check on {args.device} ({platform.node()}), {time.monotonic() - started:.0f} s in all:")
    for step in steps:
        print(f"  {step.name:<15} {step.seconds:7.1f} s  {step.status}")
        for figure in step.figures:
            print(f"      {figure}")
    if not AUTHORS_CODE.is_dir():
        print(f"  authors          skipped: {AUTHORS_CODE} not found")
    return 0 if all(step.status == "ok" for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
