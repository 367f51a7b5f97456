"""Where a run writes its files: one rule, asked by training, testing, scoring and the study.

    experiments/<EXPERIMENT or method>/             one method, one seed
    experiments/<EXPERIMENT or compare>/<method>/   a comparison (--compare) with one seed
    experiments/<EXPERIMENT or compare>/seed<s>/<method>/   with several seeds

Inside a run folder: the final network `Model_<EPOCHS>_Gen.pth` (the authors' name), `checkpoint.pth`,
the test maps in `predictions/<set>/` and, where the protocol's test maps are not probabilities, the
probability maps in `probabilities/<set>/`; each folder of maps holds `maps.json`, the record of what
its maps are (`predict.write_predictions`), which the scoring reads. ASLP folders carry the mode (ASLP_MC, ASLP_MC+TS). A
comparison's tables and plots go to the folder above its runs.
Standard library only.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from common.methods import network_method

if TYPE_CHECKING:
    from protocol import Protocol

EXPERIMENTS = Path("experiments")  # relative to the working directory
COMPARISON = "compare"  # the experiment name of a comparison given no --experiment
CHECKPOINT_NAME = "checkpoint.pth"
FINAL_WEIGHTS_PATTERN = "Model_*_Gen.pth"
TEST_MAPS_FOLDER, PROBABILITY_MAPS_FOLDER = "predictions", "probabilities"
MAPS_RECORD = "maps.json"  # in each folder of maps the test stage writes: what the maps are and where from
VALIDATION_PLOT = "validation_calibration.png"  # a comparison's runs' validation calibration over epochs


def final_weights_name(epochs: int) -> str:
    """The authors' file name for the final network, e.g. `Model_30_Gen.pth`."""
    return f"Model_{epochs}_Gen.pth"


def weights_file_problem(weights: str | Path) -> str | None:
    """What is wrong with `weights` as a `--weights` path (a folder, or no such file), or None for a file:
    one message for main_ASLP.py and predict.py."""
    path = Path(weights)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pth"))
        holds = f"it holds {', '.join(found[:5])}" + (" ..." if len(found) > 5 else "") if found else "it holds no .pth file"
        return (f"--weights={weights} is a folder; pass the checkpoint file inside it (e.g. "
                f"{path / final_weights_name(30)}); {holds}")
    if not path.is_file():
        return (f"--weights={weights}: no such file; pass a checkpoint written by main_ASLP.py "
                f"({FINAL_WEIGHTS_PATTERN.replace('*', '<EPOCHS>')}) or the authors' {final_weights_name(30)}")
    return None


def experiment_dir(experiment: str, method: str, aslp_mode: str, comparing: bool, seed: int | None = None) -> Path:
    """The run folder of `method` (see the module docstring); `seed` only when several seeds are run."""
    auto = method.replace("ASLP", f"ASLP_{aslp_mode}", 1) if network_method(method) == "ASLP" else method
    if not comparing:
        return EXPERIMENTS / (experiment or auto)
    return EXPERIMENTS / (experiment or COMPARISON) / ("" if seed is None else f"seed{seed}") / auto


def experiment_root(run_dir: Path) -> Path:
    """The experiment folder `run_dir` lies in (its folder right under EXPERIMENTS): one run writes there
    at a time (`common.lock`)."""
    return EXPERIMENTS / run_dir.relative_to(EXPERIMENTS).parts[0]


def comparison_dir(experiment: str) -> Path:
    """Where a comparison's tables go: the folder above its runs."""
    return EXPERIMENTS / (experiment or COMPARISON)


def map_folders(run_dir: Path, protocol: Protocol) -> tuple[Path, Path]:
    """The folders of a run's (test maps, probability maps), one `<set>/` in each per test set. The
    probability maps have their own folder where the protocol's test maps are something else (paper);
    otherwise they are the test maps."""
    test_maps = run_dir / TEST_MAPS_FOLDER
    return test_maps, (run_dir / PROBABILITY_MAPS_FOLDER if protocol.writes_probability_maps else test_maps)


def previous_run(run_dir: Path) -> list[Path]:
    """The files an earlier training run left in `run_dir`: final weights and the checkpoint."""
    if not run_dir.is_dir():
        return []
    return sorted([*run_dir.glob(FINAL_WEIGHTS_PATTERN), *run_dir.glob(CHECKPOINT_NAME)])
