"""Shared fixtures: the synthetic demo data, generated once per test session."""
import json
from pathlib import Path

import pytest

from data.demo import make_demo_dataset

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_dataset(tmp_path_factory.mktemp("demo_data"), seed=0, n_train=24, n_test=6, n_texture=4)


@pytest.fixture(scope="session")
def released_layout() -> dict[str, list[int]]:
    """Key -> shape of the authors' released checkpoint (shared/reference, beside the project)."""
    path = SHARED_REFERENCE / "official_checkpoint_keys.json"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text())
