"""A real browser: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright. For notebooks 01 and 04:
run all cells up to the first live figure (the notebook is opened without the cells after it, which the slider
does not need: nbval and the student-copy test run those), wait for the kernel to finish, move the first slider of
that live figure, check that its figure changed, and time it: from the key press to the new image in the page (a
MutationObserver on the image's ``src``), over several moves.

Screenshots go to ``artifacts/browser/``, the timings to ``artifacts/browser/slider_timing.json``. The test
starts and stops everything itself, and fails (never skips) when Chromium is missing: ``.ci/run`` installs it
with apt.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from course_lib.widgets import is_live_figure

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NOTEBOOKS = ["01_vanishing_gradients.ipynb", "04_forward_diffusion.ipynb"]
MOVES = 9


def up_to_first_live_figure(nb):
    """``nb`` without the cells after its first live figure's cell (found by its stored output)."""
    for i, cell in enumerate(nb.cells):
        if any(is_live_figure(out) for out in cell.get("outputs", [])):
            nb.cells = nb.cells[:i + 1]
            return nb
    raise AssertionError("the notebook has no live figure")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install -y chromium) "
                    f"or set CHROMIUM=/path/to/chromium. The browser test does not skip.")
    root = tmp_path_factory.mktemp("lab")
    folder = root / "notebooks"
    folder.mkdir()
    for name in NOTEBOOKS:
        nbformat.write(up_to_first_live_figure(nbformat.read(ROOT / "notebooks" / name, as_version=4)),
                       folder / name)
    # render every cell (JupyterLab 4 otherwise detaches cells scrolled out of view)
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"), "OMP_NUM_THREADS": "2"}
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root",
         f"--ServerApp.root_dir={folder}"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start; its log:\n{(root / 'lab.log').read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_all(page, attempts: int = 3) -> None:
    """Run > Run All Cells, retried while the kernel is still starting (the first click can be lost)."""
    for _ in range(attempts):
        time.sleep(3)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_selector(".jp-OutputArea-output", timeout=30_000)
            return
        except Exception:
            page.keyboard.press("Escape")
    pytest.fail("Run All Cells produced no output")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_slider_redraws_the_figure(lab, name):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = name.removesuffix(".ipynb")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab}/lab/workspaces/{stem}/tree/{name}?reset")  # a fresh workspace per notebook
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            run_all(page)
            page.wait_for_function(  # every cell has run: no prompt shows [*]
                "() => ![...document.querySelectorAll('.jp-InputArea-prompt')].some(e => e.textContent.includes('*'))",
                timeout=600_000, polling=500)
            widget = page.locator(".live-figure").first
            image = widget.locator("img").first
            image.wait_for(timeout=120_000)
            widget.scroll_into_view_if_needed()
            before = image.get_attribute("src")
            page.screenshot(path=str(ARTIFACTS / f"{stem}-before.png"))
            handle = widget.locator(".widget-slider .noUi-handle").first
            handle.focus()
            times = []
            for _ in range(MOVES):
                page.evaluate("""(img) => {
                    window.__redrawn = null;
                    window.__watch && window.__watch.disconnect();
                    window.__watch = new MutationObserver(() => { window.__redrawn ??= performance.now(); });
                    window.__watch.observe(img, {attributes: true, attributeFilter: ["src"]});
                    window.__pressed = performance.now();
                }""", image.element_handle())
                handle.press("ArrowRight")
                page.wait_for_function("window.__redrawn !== null", timeout=120_000, polling="raf")
                times.append(page.evaluate("window.__redrawn - window.__pressed"))
            page.screenshot(path=str(ARTIFACTS / f"{stem}-after.png"))
            assert image.get_attribute("src") != before, "moving the slider did not redraw the figure"
            record = {"notebook": stem, "moves": MOVES, "ms": [round(t, 1) for t in times],
                      "median_ms": round(sorted(times)[len(times) // 2], 1)}
            timing = ARTIFACTS / "slider_timing.json"
            results = json.loads(timing.read_text()) if timing.exists() else {}
            timing.write_text(json.dumps(results | {stem: record}, indent=1) + "\n")
            print(f"{stem}: slider to figure {record['median_ms']} ms (median of {MOVES} moves)")
        finally:
            browser.close()
