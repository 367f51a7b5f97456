"""bench_train.py --against-authors times the same work on both sides: the authors' step, built from
their code in ../shared/reference/authors_code, and ours compute the same loss, per-image statistics
and alpha update from the same weights and batch. Nothing here is timed."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import PROJECT_ROOT, SHARED_REFERENCE

AUTHORS_CODE = SHARED_REFERENCE / "authors_code"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_train", PROJECT_ROOT / "benchmarks" / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def authors(bench):
    if not (AUTHORS_CODE / "model" / "ResNet_models.py").is_file():
        pytest.skip(f"the authors' code is not in {AUTHORS_CODE}")
    return bench.import_authors_code(AUTHORS_CODE)


def test_their_modules_are_imported_without_displacing_ours(authors):
    import model

    assert sys.modules["model"] is model and hasattr(model, "build_model")
    assert Path(authors.ResNet_models.__file__).parent == AUTHORS_CODE / "model"
    assert "utils" not in sys.modules or sys.modules["utils"] is not authors.utils


def test_missing_authors_code_names_the_folder_and_the_option(bench, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}.*--authors-code"):
        bench.import_authors_code(tmp_path)


def test_their_step_and_ours_compute_the_same_loss_statistics_and_alpha_update(bench, authors):
    device = torch.device("cpu")
    their_network, our_network = bench.matching_networks(authors, 8, device)
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = their_network(images)
    # Image 0's mask agrees with the prediction, so its alpha rises; image 1's disagrees, so its
    # update goes negative and is clamped to 0.
    gts = torch.stack([logits[0] > 0, logits[1] <= 0]).float()
    index = torch.tensor([1, 4])
    batch = bench.Batch(images, gts, index, [bench.image_name(i) for i in index.tolist()])
    theirs = bench.AuthorsStep(authors, their_network, 6, device)
    ours = bench.OurStep("ASLP", our_network, 6, device)
    cuda = torch.Tensor.cuda

    their_loss, their_bce, their_entropy = theirs(batch)
    our_loss, our_bce, our_entropy, *_ = ours(batch)

    assert torch.Tensor.cuda is cuda
    assert torch.allclose(their_loss, our_loss, rtol=1e-5)
    assert torch.allclose(their_bce, our_bce, rtol=1e-5)
    assert torch.allclose(their_entropy, our_entropy, rtol=1e-5)
    their_alpha = torch.stack([theirs.alpha[name] for name in batch.names])
    assert their_alpha[0] > 0 and their_alpha[1] == 0
    assert torch.allclose(their_alpha, ours.objective.alpha_of(index), rtol=1e-4, atol=0)
