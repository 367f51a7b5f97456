"""Records that can be checked (evaluate/records.py): maps changed after their maps.json was written are
scored as maps as given, naming how many; a record of stretched maps whose maps are not is set aside."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.layout import MAPS_RECORD
from evaluate.runner import _pair_all, _score_paired, scoring_of
from predict import Inference, write_maps_record
from protocol import STRETCHED_MAPS, get_protocol, stretched_map

N = 3


def _folder(root: Path) -> tuple[Path, Path]:
    """Stretched maps with their record (as the test stage writes them), and masks."""
    rng = np.random.default_rng(1)
    pred, gt = root / "pred", root / "GT"
    for folder in (pred, gt):
        folder.mkdir(parents=True)
    for index in range(N):
        mask = np.zeros((20, 20), np.uint8)
        mask[5:15, 5:15] = 255
        Image.fromarray(mask).save(gt / f"{index}.png")
        Image.fromarray(stretched_map(rng.random((20, 20), dtype=np.float32))).save(pred / f"{index}.png")
    write_maps_record(pred, STRETCHED_MAPS, get_protocol("paper"), Inference("cpu", 32, 1, 0), N, {"network": "w"})
    return pred, gt


def _score(pred: Path, gt: Path) -> dict:
    """The set's results.json entry, and its notes (as results.md and the printed table give them) under
    "notes"."""
    scoring = scoring_of(protocol="paper", workers=1, trust_map_levels=True)
    score = _score_paired(_pair_all([("pred", pred, gt)], None, scoring.protocol), scoring)[0]
    return {**score.metrics, "notes": score.notes}


def _notes(metrics: dict) -> str:
    return "\n".join(metrics["notes"])


def test_maps_as_written_are_scored_as_recorded(tmp_path: Path) -> None:
    metrics = _score(*_folder(tmp_path))
    assert metrics["maps"] == STRETCHED_MAPS.word


@pytest.mark.parametrize("replaced", [1, N])
def test_maps_changed_after_their_record_are_scored_as_given_naming_how_many(tmp_path: Path, replaced: int) -> None:
    pred, gt = _folder(tmp_path)
    for index in range(replaced):  # probability maps copied over the stretched ones: levels 106..120 only
        Image.fromarray(np.full((20, 20), 106, np.uint8) + np.eye(20, dtype=np.uint8) * 14).save(pred / f"{index}.png")
    metrics = _score(pred, gt)
    assert metrics["maps"] == "as_given"
    assert f"{replaced} map{'s' if replaced > 1 else ''} of {pred} changed after" in _notes(metrics)


def test_an_old_record_of_stretched_maps_that_are_not_is_set_aside(tmp_path: Path) -> None:
    pred, gt = _folder(tmp_path)
    record = json.loads((pred / MAPS_RECORD).read_text())
    del record["digests"], record["digest"]  # as written before digests were kept
    (pred / MAPS_RECORD).write_text(json.dumps(record))
    assert _score(pred, gt)["maps"] == STRETCHED_MAPS.word  # old record, maps as written: trusted
    Image.fromarray(np.full((20, 20), 106, np.uint8) + np.eye(20, dtype=np.uint8) * 14).save(pred / "0.png")
    metrics = _score(pred, gt)
    assert metrics["maps"] == "as_given"
    assert "1 map of" in _notes(metrics) and "not stretched" in _notes(metrics)
    assert "predates map digests" in _notes(metrics)


def test_the_suggested_command_keeps_every_option_of_the_run() -> None:
    from evaluate.records import rewrite_command

    run = ["python", "main_ASLP.py", "--demo", "--experiment=x", "--stages=train,test,eval", "--protocol=paper",
           "--resume", "--dataset_root=my data", "--compare=BCE,TS"]
    assert rewrite_command({"command": run}, "calibrated") == (
        "python main_ASLP.py --demo --experiment=x '--dataset_root=my data' --compare=BCE,TS --stages=test,eval "
        "--protocol=calibrated")
    assert rewrite_command({"network": "run/M.pth"}, "paper") == (  # a record without the command (older)
        "python main_ASLP.py --weights=run/M.pth --stages=test,eval --protocol=paper")
