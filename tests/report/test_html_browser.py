"""report.html in a real browser: headless Chromium through selenium (Debian's chromium and chromium-driver;
.ci/run installs them). One browser for the module, no network; the pages are tiny sets scored in-process."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from report.html import PAGE, write_comparison_page
from report.names import IMAGES_CSV
from tests.report.scored_sets import NAMES, score_set, write_set

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
if not (CHROMIUM.is_file() and DRIVER.is_file()):
    pytest.skip(f"{CHROMIUM} or {DRIVER} is absent (Debian: apt-get install chromium chromium-driver; .ci/run does)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ECE_COLUMN = "0"  # data-column of the first value column: the image's ECE


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return score_set(write_set(tmp_path_factory.mktemp("set")))


def _open(driver, page: Path) -> None:
    driver.get_log("browser")  # forget what earlier pages said
    driver.get(page.as_uri())
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rows tr"))


def _errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _unloaded_images(driver) -> list[str]:
    """The images of the rows shown that did not load, each scrolled into view first (they load lazily)."""
    images = driver.find_elements(By.CSS_SELECTOR, "#rows img")
    assert images
    for image in images:
        driver.execute_script("arguments[0].scrollIntoView()", image)
    WebDriverWait(driver, 20).until(lambda d: all(d.execute_script("return arguments[0].complete", i) for i in images))
    return [image.get_attribute("src") for image in images
            if not driver.execute_script("return arguments[0].naturalWidth", image)]


def _shown_names(driver) -> list[str]:
    return [row.find_element(By.CSS_SELECTOR, "td").text for row in driver.find_elements(By.CSS_SELECTOR, "#rows tr")]


def _sort(driver, column: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#images th[data-column="{column}"]').click()


def test_the_page_opens_without_errors_and_every_image_loads(browser, scored: Path):
    _open(browser, scored / PAGE)
    assert not _unloaded_images(browser)
    assert not _errors(browser)


def test_sorting_by_ece_gives_the_order_of_images_csv(browser, scored: Path):
    _open(browser, scored / PAGE)
    with (scored / IMAGES_CSV).open(encoding="utf-8") as handle:
        expected = [row["image"] for row in csv.DictReader(handle)]
    _sort(browser, "name")
    assert _shown_names(browser) == sorted(NAMES)
    _sort(browser, ECE_COLUMN)  # first click: worst first
    assert _shown_names(browser) == expected
    _sort(browser, ECE_COLUMN)
    assert _shown_names(browser) == expected[::-1]


def test_the_filter_keeps_the_names_holding_its_text(browser, scored: Path):
    _open(browser, scored / PAGE)
    browser.find_element(By.ID, "filter").send_keys("Č")
    assert _shown_names(browser) == ["čaj ü"]


def test_the_summary_numbers_are_those_of_results_json(browser, scored: Path):
    _open(browser, scored / PAGE)
    results = json.loads((scored / "results.json").read_text())
    cells = browser.find_elements(By.CSS_SELECTOR, "#summary td[data-value]")
    shown = {(cell.get_attribute("data-set"), cell.find_element(By.XPATH, "..").get_attribute("data-key")):
             json.loads(cell.get_attribute("data-value")) for cell in cells}
    expected = {("tiny set", key): value for key, value in results["tiny set"].items()
                if key not in ("protocol", "maps") and value is not None}
    assert shown == expected


def test_the_page_works_after_its_folder_is_moved(browser, tmp_path: Path):
    out = score_set(write_set(tmp_path / "scored", NAMES[:3]))
    moved = tmp_path / "moved here, ü"
    shutil.move(out, moved)
    shutil.rmtree(tmp_path / "scored")  # the photos, masks and maps it was made from are gone too
    _open(browser, moved / PAGE)
    assert not _unloaded_images(browser)
    assert not _errors(browser)


def test_a_comparison_sorts_by_the_difference_of_two_methods(browser, tmp_path: Path):
    runs = {method: score_set(write_set(tmp_path / method, NAMES[:4], seed=seed))
            for seed, method in enumerate(("BCE", "ASLP"))}
    page = write_comparison_page(tmp_path / "compare", runs)
    _open(browser, page)
    assert not _unloaded_images(browser)
    browser.find_element(By.ID, "difference").click()  # ECE of BCE minus ECE of ASLP, largest first
    payload = browser.execute_script("return data.rows")
    difference = {row["n"]: row["v"][0] - row["v"][1] for row in payload}
    assert _shown_names(browser) == sorted(difference, key=lambda name: -difference[name])
    assert not _errors(browser)
