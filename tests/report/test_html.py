"""report.html and images.csv without a browser: the rows, their order and values, n/a images, one image,
unusual names, maps as given, a comparison, and 5,000 images (paged, the page's size bounded)."""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from metrics.table import result_key
from protocol import get_protocol
from report.html import PAGE, PAGE_DATA, ROWS_PER_PAGE, write_comparison_page, write_run_page
from report.names import IMAGES_CSV, PICTURES_FOLDER, picture_file
from report.rows import PICTURES, ROW_COLUMNS, ImageRow
from report.tables import DatasetScore, is_report_output
from tests.conftest import ALL_METHODS
from tests.report.scored_sets import NAMES, score_set, write_set


def _csv(out: Path) -> list[dict]:
    with (out / IMAGES_CSV).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _payload(out: Path) -> dict:
    html = (out / PAGE).read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return score_set(write_set(tmp_path_factory.mktemp("set")))


def test_rows_are_worst_first_and_their_ece_is_the_per_image_ece_of_results_json(scored: Path):
    rows = _csv(scored)
    assert [row["image"] for row in rows] != sorted(NAMES)  # the order is the values', not the names'
    ece = [float(row["ECE"]) for row in rows]
    assert ece == sorted(ece, reverse=True) and {row["image"] for row in rows} == set(NAMES)
    results = json.loads((scored / "results.json").read_text())["tiny set"]
    assert np.mean(ece) == pytest.approx(results[result_key("ECE", "image", "mean")], rel=1e-12)
    assert np.median(ece) == pytest.approx(results[result_key("ECE", "image", "median")], rel=1e-12)
    assert list(rows[0]) == ["set", "image", *(column.key for column in ROW_COLUMNS), "notes"]


def test_every_row_has_its_five_thumbnails_whatever_its_name(scored: Path):
    page = json.loads((scored / PICTURES_FOLDER / PAGE_DATA).read_text(encoding="utf-8"))
    entry = page["sets"]["tiny set"]
    assert {row["name"] for row in entry["rows"]} == set(NAMES)
    for row in entry["rows"]:
        assert row["photo"]
        for picture in PICTURES:
            thumbnail = cv2.imread(str(scored / entry["folder"] / picture_file(row["stem"], picture)))
            assert thumbnail is not None and max(thumbnail.shape[:2]) <= 128
    assert _payload(scored)["rows"][0]["n"] == _csv(scored)[0]["image"]  # names kept exactly in the page


def test_maps_without_a_record_are_titled_as_given_and_with_one_are_not(scored: Path, tmp_path: Path):
    assert "<title>Maps as given:" in (scored / PAGE).read_text(encoding="utf-8")
    root = write_set(tmp_path, NAMES[:2])
    (root / "pred" / "maps.json").write_text(json.dumps({"maps": "probabilities", "protocol": "calibrated"}))
    html = (score_set(root) / PAGE).read_text(encoding="utf-8")
    assert "Maps as given" not in html and "<title>evaluation report (calibrated protocol)" in html


def test_an_image_whose_metrics_are_na_says_why_in_its_row(tmp_path: Path):
    # Paper protocol: a map of another size than its mask leaves the calibration (ECE n/a); on an empty mask
    # F is kept, noted.
    root = write_set(tmp_path, ("resized", "empty", "fine"))
    cv2.imwrite(str(root / "pred" / "resized.png"), np.full((20, 20), 200, np.uint8))
    cv2.imwrite(str(root / "GT" / "empty.png"), np.zeros((44, 56), np.uint8))
    rows = {row["image"]: row for row in _csv(score_set(root, protocol="paper"))}
    assert rows["resized"]["ECE"] == "" and "resized" in rows["resized"]["notes"]
    assert rows["empty"]["F"] == "0.0" and "recall" in rows["empty"]["notes"]
    assert [row["image"] for row in _csv(root / "out")][-1] == "resized"  # n/a last
    payload = _payload(root / "out")
    resized = next(row for row in payload["rows"] if row["n"] == "resized")
    assert resized["v"][0] is None and resized["t"]


def test_a_set_of_one_image_with_an_empty_mask_and_no_photograph(tmp_path: Path):
    root = write_set(tmp_path, ("only",), photos=False)
    cv2.imwrite(str(root / "GT" / "only.png"), np.zeros((40, 56), np.uint8))
    out = score_set(root)  # calibrated protocol: F is undefined on an empty mask
    payload = _payload(out)
    assert len(payload["rows"]) == 1 and payload["rows"][0]["p"] is False
    [row] = _csv(out)
    assert row["F"] == "" and row["ECE"] != "" and row["notes"]


def _score_of(name: str, rows: list[ImageRow]) -> DatasetScore:
    return DatasetScore(name=name, metrics={}, diagrams=[], curves=None, notes=[], pred_dir=Path("p"),
                        gt_dir=Path("g"), images=rows)


def test_five_thousand_images_are_paged_and_the_page_stays_small(tmp_path: Path):
    # The page writer alone, on rows as the scoring makes them (no image files: it reads none).
    rng = np.random.default_rng(0)
    rows = [ImageRow(f"image {index:04d}", {c.key: float(rng.random()) for c in ROW_COLUMNS}, ["a note"],
                     f"stem{index}") for index in range(5000)]
    rows[0].name = "</script><b>not markup</b>"  # a name the page's data must carry as text, not HTML
    (tmp_path / "results.json").write_text(json.dumps({"DUTS-TE": {"protocol": "calibrated", "maps": "as_given",
                                                                   "ECE": 0.1, "n_images": 5000}}))
    write_run_page(tmp_path, [_score_of("DUTS-TE", rows)], 10, get_protocol("calibrated"))
    html = (tmp_path / PAGE).read_text(encoding="utf-8")
    payload = _payload(tmp_path)
    assert payload["per_page"] == ROWS_PER_PAGE <= 100 and len(payload["rows"]) == 5000
    assert len(html.encode()) < 5000 * 300  # ~1.5 MB at most: rows as data, drawn a page at a time
    assert html.count("<img") <= 10  # only the figures are written as <img>; the script draws the rows' images
    assert rows[0].name in {row["n"] for row in payload["rows"]} and "<b>not" not in html
    assert [row["n"] for row in payload["rows"][:3]] == [r.name for r in sorted(
        rows, key=lambda r: -r.values["ECE"])[:3]]


def test_a_comparison_shows_one_map_and_one_ece_column_per_method(tmp_path: Path):
    runs = {}
    for seed, method in enumerate(("BCE", "ASLP")):
        runs[method] = score_set(write_set(tmp_path / method, NAMES[:3] if seed else NAMES[:4], seed=seed))
    page = write_comparison_page(tmp_path / "table", runs)
    payload = _payload(tmp_path / "table")
    assert [p["title"] for p in payload["pictures"]] == ["photo", "mask", "map: BCE", "map: ASLP"]
    assert [c["key"] for c in payload["columns"]] == ["ECE:BCE", "ECE:ASLP"]
    assert len(payload["rows"]) == 4
    missing = next(row for row in payload["rows"] if row["n"] == NAMES[3])
    assert missing["v"][1] is None and 3 in missing["a"]  # not scored by ASLP: no map, ECE n/a
    for row in payload["rows"]:
        for index, picture in enumerate(payload["pictures"]):
            if index not in row["a"]:
                assert (page.parent / picture["folders"][row["s"]] / picture_file(row["k"], picture["picture"])).is_file()
    assert not any(os.path.isabs(folder) for p in payload["pictures"] for folder in p["folders"])


def test_the_report_files_are_outputs_of_the_evaluator():
    assert is_report_output(PAGE) and is_report_output(IMAGES_CSV)


def test_the_demo_writes_a_page_per_run_and_one_for_the_comparison(demo_comparison):
    out, result = demo_comparison
    run = _payload(out / "ASLP_MC")
    assert len(run["rows"]) == 10 and all(row["p"] for row in run["rows"])  # 6 + 4 test images, with photos
    assert "curves/pr_DEMO-SOD.png" in (out / "ASLP_MC" / PAGE).read_text(encoding="utf-8")  # drawn after scoring
    compared = _payload(out)
    assert [p["title"] for p in compared["pictures"]][2:] == [f"map: {method}" for method in ALL_METHODS]
    for row in compared["rows"]:
        for picture in compared["pictures"]:
            assert (out / picture["folders"][row["s"]] / picture_file(row["k"], picture["picture"])).is_file()
    assert str(Path("experiments") / "demo" / PAGE) in result.out


def test_the_command_line_takes_the_photographs_from_photos_and_refuses_a_missing_folder(tmp_path: Path, capsys):
    from evaluate.__main__ import main

    root = write_set(tmp_path / "set", NAMES[:2])
    (root / "Image").rename(tmp_path / "elsewhere")  # not beside the masks: found only through --photos
    arguments = [f"--pred={root / 'pred'}", f"--gt={root / 'GT'}", "--workers=1", f"--out={tmp_path / 'out'}"]
    assert main([*arguments, f"--photos={tmp_path / 'elsewhere'}"]) == 0
    assert all(row["p"] for row in _payload(tmp_path / "out")["rows"])
    assert main(arguments) == 0
    assert not any(row["p"] for row in _payload(tmp_path / "out")["rows"])
    capsys.readouterr()
    assert main([*arguments, f"--photos={tmp_path / 'nowhere'}"]) == 2
    assert f"photo folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
