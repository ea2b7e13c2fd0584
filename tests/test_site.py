"""The course website (scripts/build_site.py): built offline from the student copy, nothing loaded from elsewhere,
static sliders whose frames are what the live widget draws, launch buttons to the student copy, and a real
browser (Debian's Chromium via Playwright, as in test_browser.py) that moves a static slider and searches.
Screenshots go to ``artifacts/site/``.
"""

import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import links  # noqa: E402
from test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

ARTIFACTS = ROOT / "artifacts" / "site"
EXTERNAL = re.compile(r"""<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc=["'](?:https?:)?//"""
                      r"""|<link\b[^>]*\bhref=["'](?:https?:)?//[^"']*["'][^>]*>""", re.I)
CSS_EXTERNAL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "html"
    report = build_site.build(out)
    print(f"site: {report}")
    return out, report


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_every_student_notebook_has_a_page_and_no_solution(site):
    out, report = site
    for path in build_site.notebooks():
        page = (out / f"{path.stem}.html").read_text()
        assert "BEGIN SOLUTION" not in page and "✅ Correct" not in page, path.name
    assert (out / "index.html").exists() and (out / "syllabus.html").exists() and (out / "search.html").exists()
    assert report["pages"] == len(build_site.notebooks()) + 2
    assert "TODO: your code here" in (out / "01_vanishing_gradients.html").read_text()  # the exercises, unsolved


def test_instructor_pages_are_built_apart_from_the_student_pages(site):
    out, report = site
    assert report["plans"] == len(build_site.notebooks())
    for path in build_site.notebooks():
        plan = (out / "instructor" / f"{path.stem}.html").read_text()
        assert "Timeline" in plan and "Common mistakes" in plan, path.stem
    assert (out / "instructor" / "index.html").exists()
    for page in out.glob("*.html"):  # no student page, the landing page or the syllabus links to them
        assert not re.search(r"""href=["'][^"']*instructor/""", page.read_text()), page.name
    text = (out / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    hidden = {i for i, name in enumerate(index["docnames"]) if name.startswith("instructor/")}
    found = [term for kind in ("terms", "titleterms") for term, docs in index[kind].items()
             if hidden & set(docs if isinstance(docs, list) else [docs])]
    assert hidden and not found, f"the search finds the instructor's pages through {found[:5]}"


def test_nothing_is_loaded_from_elsewhere(site):
    out, _ = site
    offenders = []
    for path in out.rglob("*.html"):
        offenders += [f"{path.name}: {m}" for m in EXTERNAL.findall(path.read_text())]
    for path in out.rglob("*.css"):
        offenders += [f"{path.name}: {m}" for m in CSS_EXTERNAL.findall(path.read_text(errors="ignore"))]
    assert not offenders, offenders[:10]
    assert (out / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert 'src="_static/mathjax/tex-chtml.js"' in (out / "04_forward_diffusion.html").read_text()


def test_launch_buttons_open_the_student_copy(site):
    out, _ = site
    for path in build_site.notebooks():
        page = (out / f"{path.stem}.html").read_text()
        assert links.colab_url(path.name, links.repo_url()) in page, path.name
        assert f"mybinder.org/v2/gh/{links.slug(links.repo_url())}/{links.BRANCH}" in page, path.name
        assert f"{links.STUDENT_DIR}/{path.name}" in page


def test_live_figures_become_static_sliders(site):
    out, report = site
    shown = sum(1 for p in build_site.notebooks() for c in json.loads(p.read_text())["cells"]
                if c["cell_type"] == "code" and any("image/png" in o.get("data", {}) and "".join(
                    o["data"].get("text/plain", "")).startswith("LiveFigure(") for o in c.get("outputs", [])))
    assert report["sliders"] + len(report["left_static"]) == shown
    assert report["sliders"] >= 5, report["left_static"]
    page = (out / "04_forward_diffusion.html").read_text()
    assert 'class="course-frames"' in page and "application/vnd.jupyter.widget" not in page


def test_a_shipped_frame_is_what_the_live_widget_draws():
    """04's widget, built as the notebook builds it, drawn at a frame's values, against the stored frame."""
    from ipywidgets import Dropdown, IntSlider

    from course_lib.frames import png_for_web
    from course_lib.lessons import forward_diffusion, setup_notebook
    from course_lib.widgets import LiveFigure

    setup_notebook(seed=0)  # the notebook's plot defaults (figure size and resolution)
    folder = build_site.SITE / "frames" / "04_forward_diffusion" / "0"
    index = json.loads((folder / "index.json").read_text())
    T = 1000
    live = LiveFigure(forward_diffusion.ForwardView(), t=IntSlider(value=T // 10, min=0, max=T - 1, step=T // 100),
                      schedule=Dropdown(options=["linear", "cosine", "sigmoid", "quadratic"], value="linear"),
                      T=Dropdown(options=[50, 100, 250, 500, 1000], value=T))
    names = [c["name"] for c in index["controls"]]
    key = next(k for k in index["frames"] if k.split("|")[names.index("schedule")] == "cosine")
    for name, value in zip(names, key.split("|")):
        live.controls[name].value = value if name == "schedule" else int(value)
    drawn = pixels(png_for_web(live.render()))
    stored = pixels((folder / index["frames"][key]).read_bytes())
    assert drawn.shape == stored.shape
    assert np.abs(drawn - stored).mean() < 1.0, "the stored frame differs from what the widget draws"


def test_export_frames_plans_every_value_and_restores_the_controls(tmp_path):
    from ipywidgets import Dropdown, FloatSlider

    from course_lib.frames import control_values, export_frames
    from course_lib.lessons import start_here
    from course_lib.widgets import LiveFigure

    live = LiveFigure(start_here.WaveView(), frequency=FloatSlider(value=2.0, min=0.5, max=5.0, step=0.5),
                      damping=FloatSlider(value=0.5, min=0.0, max=3.0, step=0.5))
    index = export_frames(live, tmp_path)
    assert len(index["frames"]) == 1 + 9 + 6  # 10 x 7 combinations > MAX_FRAMES: one control at a time
    assert live.values() == {"frequency": 2.0, "damping": 0.5}
    assert index["frames"]["2.0|0.5"] and (tmp_path / index["frames"]["2.0|0.5"]).exists()
    assert control_values(Dropdown(options=["a", "b"], value="b")) == ("select", ["a", "b"])
    kind, values = control_values(FloatSlider(value=0.3, min=0.0, max=9.9, step=0.1))
    assert kind == "slider" and len(values) <= 26 and values[0] == 0.0 and values[-1] == 9.9 and 0.3 in values


def test_browser_moves_a_static_slider_and_searches(site):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: the browser test does not skip.")
    out, _ = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        try:
            page.goto((out / "04_forward_diffusion.html").as_uri())
            box = page.locator(".course-frames").first
            box.scroll_into_view_if_needed()
            image = box.locator("img")
            page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            before = image.get_attribute("src")
            page.screenshot(path=str(ARTIFACTS / "04-slider-before.png"))
            slider = box.locator("input[type=range]").first
            slider.focus()
            for _ in range(3):
                slider.press("ArrowRight")
            page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            page.screenshot(path=str(ARTIFACTS / "04-slider-after.png"))
            assert image.get_attribute("src") != before, "moving the static slider did not change the frame"

            page.goto((out / "search.html").as_uri() + "?q=alpha_bar")
            page.wait_for_selector("#search-results li", timeout=30_000)
            results = page.locator("#search-results li").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / "search-alpha_bar.png"))
            assert any("forward" in r.lower() or "diffusion" in r.lower() for r in results), results
            external = [u for u in requests if not u.startswith("file://")]
            assert not external, external
        finally:
            browser.close()
