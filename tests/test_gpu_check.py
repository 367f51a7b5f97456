"""benchmarks/gpu_check.py keeps what each step measured and reports a failed step without stopping.
The steps themselves run on a GPU machine; here they are stand-in commands."""
import importlib.util
import sys

import pytest

from tests.conftest import PROJECT_ROOT



@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", PROJECT_ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_only_measured_lines_are_kept(gpu_check, tmp_path):
    printed = "\n".join([
        "plain BCE          :    12.56 images/s",
        "overhead of ASLP   : -1.28% per step (target <= 2%)",
        "Demo configuration: test_datasets=('DEMO-SOD',)",
        "Calibration, paper protocol (the authors' ECE_EW on the maps as written)",
    ])
    step = gpu_check.Step("bench", [sys.executable, "-c", f"print({printed!r})"])
    gpu_check.run(step, tmp_path, timeout=60)
    assert step.status == "ok"
    assert step.figures == ["plain BCE          :    12.56 images/s",
                            "overhead of ASLP   : -1.28% per step (target <= 2%)"]


def test_a_failed_step_says_why(gpu_check, tmp_path):
    step = gpu_check.Step("broken", [sys.executable, "-c", "import sys; sys.exit('error: no CUDA device')"])
    gpu_check.run(step, tmp_path, timeout=60)
    assert step.status == "failed (1): error: no CUDA device" and step.figures == []
