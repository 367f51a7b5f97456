"""Maps say what they are: the scorer reads the test stage's maps.json and never scores one kind as another."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate import EvaluationInputError, run_evaluation, score_dataset
from common.layout import MAPS_RECORD
from tests.conftest import write_pairs


def write_set(folder: Path, gt: Path, kind: str | None, protocol: str = "paper", levels: int = 255) -> None:
    """Three maps (values up to `levels`) and masks; with `kind`, the record the test stage writes."""
    rng = np.random.default_rng(0)
    mask = np.zeros((20, 24), np.uint8)
    mask[5:15, 6:18] = 255
    write_pairs(folder, gt, [(rng.integers(0, levels + 1, mask.shape, dtype=np.uint8), mask) for _ in range(3)])
    if kind is not None:
        (folder / MAPS_RECORD).write_text(json.dumps({"maps": kind, "protocol": protocol, "network": "run/Model.pth"}))


def test_a_record_names_the_kind_and_the_maps_are_titled_and_trusted_by_it(tmp_path: Path) -> None:
    write_set(tmp_path / "pred", tmp_path / "gt", "stretched")
    write_set(tmp_path / "probabilities", tmp_path / "gt", "probabilities", levels=1)  # a confident model's maps
    results = run_evaluation([("S", tmp_path / "pred", tmp_path / "gt")], tmp_path / "out", workers=1, protocol="paper",
                             probability_dirs={"S": tmp_path / "probabilities"})
    assert results["S"]["maps"] == "stretched" and results["S"]["n_ignored_files"] == 0  # maps.json is no stray file
    for name in ("reliability_S_stretched.png", "reliability_S_probabilities.png"):
        assert (tmp_path / "out" / name).is_file(), name
    assert "Maps as given" not in (tmp_path / "out" / "results.md").read_text()


@pytest.mark.parametrize("kind, protocol, written_under, other", [
    ("stretched", "calibrated", "paper", "--protocol=paper"),
    ("probabilities", "paper", "calibrated", "--protocol=calibrated"),
])
def test_maps_of_another_kind_than_the_protocol_scores_are_refused(tmp_path, kind, protocol, written_under, other):
    write_set(tmp_path / "pred", tmp_path / "gt", kind, written_under)
    with pytest.raises(EvaluationInputError) as error:
        score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, protocol=protocol)
    message = str(error.value)
    assert f"{tmp_path / 'pred'} holds" in message and f"the {protocol} protocol scores" in message
    assert f"score them as what they are with {other}" in message
    assert f"python main_ASLP.py --weights=run/Model.pth --stages=test,eval --protocol={protocol}" in message


def test_stretched_maps_given_as_probability_maps_are_refused(tmp_path: Path) -> None:
    write_set(tmp_path / "pred", tmp_path / "gt", "stretched")
    write_set(tmp_path / "probabilities", tmp_path / "gt", "stretched")
    with pytest.raises(EvaluationInputError, match=r"probabilities holds stretched maps .* probability maps"):
        score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1, probability_dir=tmp_path / "probabilities")


def test_a_record_that_cannot_be_read_is_an_error_naming_it(tmp_path: Path) -> None:
    write_set(tmp_path / "pred", tmp_path / "gt", None)
    (tmp_path / "pred" / MAPS_RECORD).write_text("{not json")
    with pytest.raises(EvaluationInputError, match=rf"cannot read {tmp_path / 'pred' / MAPS_RECORD}.*delete it"):
        score_dataset(tmp_path / "pred", tmp_path / "gt", workers=1)
