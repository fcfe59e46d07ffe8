"""Notebook 06 in JupyterLab under headless Chromium, driven by Selenium (``make test-browser``).

Runs notebook 06 on the smoke run (``runs/smoke``), checks that its viewer renders as live
widgets (the ipympl canvas and the ipywidgets controls, not a text fallback), that *next*, *zoom
in* and a click on a catalog row each change the view (the state text and the canvas pixels),
that hovering the canvas gives the pixel value in ADU and sigma, that the viewer fits a
1000-pixel-high window, and that no cell output holds an error or stderr text and the browser
console no severe message. Screenshots go to ``runs/browser/``. JupyterLab is always shut down.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE_RUN = REPO / "runs" / "smoke"
OUT = REPO / "runs" / "browser"
NOTEBOOK = "06_damic_inference"
WINDOW = (1600, 1000)
#: The viewer must fit one 1000-pixel-high screen beside JupyterLab's own bars.
MAX_VIEWER_HEIGHT = 860
RUN_ALL_TIMEOUT = 420


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare_notebook() -> Path:
    """Notebook 06 with the smoke profile's parameters injected (papermill, not executed)."""
    import papermill

    from ccdnb.reproduce.profiles import notebook_parameters

    OUT.mkdir(parents=True, exist_ok=True)
    parameters = dict(notebook_parameters("smoke", NOTEBOOK), run_dir=str(SMOKE_RUN),
                      figures_dir=str(OUT / "figures"), profile="smoke")
    target = OUT / f"{NOTEBOOK}.ipynb"
    papermill.execute_notebook(str(REPO / "notebooks" / f"{NOTEBOOK}.ipynb"), str(target),
                               parameters=parameters, prepare_only=True, progress_bar=False)
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 (a free port, a random token); shut down at the end."""
    if not (SMOKE_RUN / "model" / "model.keras").is_file():
        pytest.fail(f"{SMOKE_RUN} has no model: run `ccdnb reproduce --profile smoke` first")
    notebook = _prepare_notebook()
    home = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), secrets.token_hex(16)
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), TF_CPP_MIN_LOG_LEVEL="2")
    log = open(OUT / "jupyterlab.log", "w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser",
         "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}", "--allow-root",
         f"--ServerApp.root_dir={REPO}", "--LabApp.expose_app_in_browser=True",
         f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not start: see {OUT / 'jupyterlab.log'}") from None
                time.sleep(0.5)
        yield dict(base=base, token=token, notebook=notebook.relative_to(REPO).as_posix())
    finally:
        try:
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            process.wait(timeout=30)
        except Exception:
            pass
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s: {message}")


def _shot(driver, name):
    path = OUT / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _canvas_digest(canvas) -> str:
    return hashlib.sha256(canvas.screenshot_as_png).hexdigest()


def _settled(driver, canvas, state, before_state, before_canvas, what):
    """Wait until both the state text and the canvas pixels differ from before."""
    changed = _wait(lambda: state.text != before_state and state.text, 20,
                    f"{what}: the state text did not change")
    # ipympl redraws asynchronously: wait for the new image, then for it to settle
    _wait(lambda: _canvas_digest(canvas) != before_canvas, 20,
          f"{what}: the canvas did not change")
    time.sleep(1.0)
    return changed


def _problems(driver) -> list[str]:
    """Error and stderr outputs of the notebook's cells: from the notebook model (cells out of
    view are not all in the page) and from the page."""
    return driver.execute_script("""
        const found = [];
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
        for (let i = 0; i < cells.length; i++) {
          const cell = cells.get(i);
          if (cell.type !== 'code') continue;
          for (const out of cell.toJSON().outputs || []) {
            if (out.output_type === 'error') {
              found.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
            } else if (out.name === 'stderr') {
              found.push(`cell ${i} stderr: ${[].concat(out.text).join('').slice(0, 400)}`);
            }
          }
        }
        for (const el of document.querySelectorAll('.jp-OutputArea-output')) {
          const mime = el.getAttribute('data-mime-type') || '';
          if (mime.includes('error') || mime.includes('stderr')) {
            found.push(mime + ': ' + el.textContent.slice(0, 400));
          }
        }
        return found;""")


def _all_run(driver) -> bool:
    """Every code cell has an execution count and the kernel is idle."""
    return driver.execute_script("""
        const w = window.jupyterapp.shell.currentWidget;
        const cells = w.content.model.cells;
        for (let i = 0; i < cells.length; i++) {
          const cell = cells.get(i);
          if (cell.type === 'code' && cell.executionCount == null) return false;
        }
        return w.sessionContext.session.kernel.status === 'idle';""")


def test_notebook_06_viewer_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{lab['base']}/lab/tree/{lab['notebook']}?token={lab['token']}&reset")
    _wait(lambda: driver.execute_script(
        "return window.jupyterapp && document.querySelector('.jp-NotebookPanel .jp-Cell')"),
          120, "JupyterLab did not open the notebook")
    _wait(lambda: driver.execute_script("""
        const w = window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session &&
               w.sessionContext.session.kernel &&
               w.sessionContext.session.kernel.status === 'idle';"""), 120,
          "the kernel did not start")
    started = time.monotonic()
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    try:
        _wait(lambda: _all_run(driver) or _problems(driver), RUN_ALL_TIMEOUT, "run all cells")
    except AssertionError:
        _shot(driver, "00_run_all_timeout")
        raise
    print(f"run all cells: {time.monotonic() - started:.0f} s")
    problems = _problems(driver)
    viewer = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".ccdnb-viewer"), 30,
                   "the viewer did not render as widgets")[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", viewer)
    time.sleep(1.0)
    _shot(driver, "01_after_run_all")
    assert not problems, "errors or stderr in cell outputs:\n" + "\n".join(problems)

    # live widgets, not the text fallback ("HBox(children=...)")
    output_text = driver.execute_script(
        "return arguments[0].closest('.jp-OutputArea').innerText", viewer)
    assert "HBox(" not in output_text and "VBox(" not in output_text
    canvas = _wait(lambda: viewer.find_elements(By.CSS_SELECTOR, ".ccdnb-canvas canvas"), 30,
                   "no ipympl canvas")[0]
    assert viewer.find_elements(By.CSS_SELECTOR, ".jupyter-matplotlib-toolbar button")
    for css in (".ccdnb-next", ".ccdnb-zoom-in", ".ccdnb-catalog select", ".ccdnb-layer",
                ".ccdnb-legend", ".ccdnb-save"):
        assert viewer.find_elements(By.CSS_SELECTOR, css), f"no {css} in the viewer"
    _wait(lambda: canvas.size["height"] > 300, 30, "the canvas has no size")
    height = viewer.size["height"]
    print(f"viewer: {viewer.size['width']} x {height} px")
    assert height <= MAX_VIEWER_HEIGHT, f"viewer {height} px high: over one screen"
    state = viewer.find_element(By.CSS_SELECTOR, ".ccdnb-state")
    _wait(lambda: len(set(canvas.screenshot_as_png)) > 0 and state.text, 30, "no state text")
    time.sleep(2.0)  # the first draw
    viewer.screenshot(str(OUT / "02_viewer.png"))

    # hover: the pixel value in ADU and sigma in the canvas footer
    ActionChains(driver).move_to_element(canvas).move_by_offset(5, 5).perform()
    footer = _wait(lambda: next((el.text for el in viewer.find_elements(
        By.CSS_SELECTOR, ".jupyter-matplotlib-footer") if "ADU" in el.text), ""), 20,
        "hovering the canvas shows no pixel value")
    assert "σ" in footer and "mask:" in footer and "[" not in footer, footer
    print(f"hover: {footer}")

    steps = [("next", ".ccdnb-next"), ("zoom", ".ccdnb-zoom-in")]
    for number, (what, css) in enumerate(steps, start=3):
        before_state, before_canvas = state.text, _canvas_digest(canvas)
        viewer.find_element(By.CSS_SELECTOR, css).click()
        _settled(driver, canvas, state, before_state, before_canvas, what)
        viewer.screenshot(str(OUT / f"{number:02d}_after_{what}.png"))
        print(f"{what}: {state.text.splitlines()[0]}")

    options = viewer.find_elements(By.CSS_SELECTOR, ".ccdnb-catalog select option")
    assert options, "the cluster catalog is empty"
    before_state, before_canvas = state.text, _canvas_digest(canvas)
    options[0].click()
    _settled(driver, canvas, state, before_state, before_canvas, "catalog row")
    assert "cluster " in state.text
    viewer.screenshot(str(OUT / "05_after_catalog_row.png"))
    print(f"catalog row: {state.text.splitlines()[0]}")
    _shot(driver, "06_window")

    assert not _problems(driver), "errors after interaction:\n" + "\n".join(_problems(driver))
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    (OUT / "console.json").write_text(json.dumps(severe, indent=1))
    assert not severe, "severe browser console messages:\n" + "\n".join(
        entry["message"] for entry in severe)
