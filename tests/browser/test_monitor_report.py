"""``ccdnb monitor``'s HTML report in headless Chromium (``make test-browser``).

Monitors a small simulated run, opens ``report.html`` from disk (``file://``, no
server), and checks that the page loads with no severe console message, that
the trend plot and the defect map are images the browser decoded and shows at
a useful size, and that the outlier table names the bad frame. A screenshot
goes to ``runs/browser/monitor_report.png``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "runs" / "browser"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import ccdnb
    from ccdnb.simulation.run import simulate_run

    folder = tmp_path_factory.mktemp("monitor")
    run = simulate_run(10, 128, seed=17, n_amplifiers=2)
    files = run.write(folder / "frames", "f")
    return run, ccdnb.monitor(files, folder / "report", progress=False)


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    browser = webdriver.Chrome(options=options, service=service)
    try:
        yield browser
    finally:
        browser.quit()


def _shown(driver, element_id):
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); const r = e.getBoundingClientRect();"
        "return [e.complete, e.naturalWidth, e.naturalHeight, r.width, r.height,"
        " getComputedStyle(e).visibility, getComputedStyle(e).display];", element_id)


def test_the_report_opens_from_disk_with_its_plots_and_outliers(report, driver):
    from selenium.webdriver.common.by import By

    run, result = report
    driver.get(Path(result.paths["html"]).resolve().as_uri())
    assert "ccdnb run report" in driver.title
    for element_id in ("trends", "defect-map"):
        complete, natural_w, natural_h, width, height, visibility, display = _shown(
            driver, element_id)
        assert complete and natural_w > 300 and natural_h > 300, element_id
        assert width > 300 and height > 200 and visibility == "visible" and display != "none"
    text = driver.find_element(By.TAG_NAME, "body").text
    bad = run.bad.index("noise jump")
    assert "noise jump" in text and f"f_{bad:04d}.fits" in text
    OUT.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(OUT / "monitor_report.png"))
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe
