"""The course website (scripts/build_site.py): built offline from the student copy, nothing loaded from elsewhere,
static sliders whose frames are what the live widget draws, launch buttons to the student copy, and a real
browser (Debian's Chromium via Playwright, as in test_browser.py) that moves a static slider and searches.
Accessibility: every figure's alt text is its description (a static slider's, each frame's), and axe-core
(the axe-playwright-python package's copy) finds nothing serious or critical against WCAG 2.0/2.1 A and AA on
any page, served on 127.0.0.1, where no page logs an error either. Every page says which stacks the course was
verified on. Screenshots go to ``artifacts/site/``.
"""

import functools
import html.parser
import http.server
import io
import json
import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import links  # noqa: E402
from test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

import stacks  # noqa: E402

ARTIFACTS = ROOT / "artifacts" / "site"
EXTERNAL = re.compile(r"""<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc=["'](?:https?:)?//"""
                      r"""|<link\b[^>]*\bhref=["'](?:https?:)?//[^"']*["'][^>]*>""", re.I)
CSS_EXTERNAL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])(?:https?:)?//""", re.I)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
COLOUR_RULES = ("color-contrast", "link-in-text-block")  # the WCAG rules whose result depends on the colour mode
MIN_ALT_WORDS = 8
# A record as scripts/stacks.py writes it, for the footer's test while no stack run has written one.
EXAMPLE_RECORD = {"stack": "pins", "passed": True, "date": "2026-12-06", "python_exact": True,
                  "versions": {"python": "3.11.7", "torch": "2.13.0", "numpy": "2.4.1", "scikit-learn": "1.8.0",
                               "matplotlib": "3.11.2", "ipywidgets": "8.1.8", "ipykernel": "7.1.0"}}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built into a temporary folder. Its footers show stacks/verified/ where a stack run recorded a pass;
    else an example record (in a temporary folder, never in stacks/verified/), so that the footer is checked."""
    out = tmp_path_factory.mktemp("site") / "html"
    verified = stacks.VERIFIED
    if not stacks.verified_line():
        verified = tmp_path_factory.mktemp("verified")
        (verified / "pins.json").write_text(json.dumps(EXAMPLE_RECORD))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stacks, "VERIFIED", verified)
        report = build_site.build(out)
    print(f"site: {report}")
    return out, report | {"verified_dir": verified}


def html_pages(out: Path) -> list[Path]:
    """Every page of the site: the notebooks, the landing page, the syllabus, search, the index, the
    instructor's pages."""
    return sorted(p for p in out.rglob("*.html") if not {"_static", "_sources", "_images"} & set(p.parts))


class Images(html.parser.HTMLParser):
    """Each ``<img>`` of a page, its attributes and whether it is in the page's article (its content) or in the
    theme's chrome around it (the launch buttons' logos)."""

    def __init__(self):
        super().__init__()
        self.depth, self.found = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "article":
            self.depth += 1
        elif tag == "img":
            self.found.append((dict(attrs), self.depth > 0))

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth -= 1


def images(page: Path) -> list[tuple[dict, bool]]:
    parser = Images()
    parser.feed(page.read_text())
    return parser.found


def alt_problem(alt: str | None, words: int = MIN_ALT_WORDS) -> str | None:
    """Why ``alt`` is no description of a figure, or None: missing or empty, a file name, a repr (what a figure
    without a description shows), or fewer than ``words`` words."""
    text = " ".join((alt or "").split())
    if not text:
        return "no alt text"
    if re.search(r"\.(?:png|jpe?g|gif|svg|webp)\b|_images/", text, re.I):
        return "a file name"
    if text.startswith(("<Figure", "LiveFigure(")):
        return "a repr, not a description"
    if len(text.split()) < words:
        return f"fewer than {words} words"
    return None


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
                if c["cell_type"] == "code" and any("image/png" in o.get("data", {}) and build_site.is_live_figure(o)
                                                    for o in c.get("outputs", [])))
    assert report["sliders"] + len(report["left_static"]) == shown
    assert report["sliders"] >= 5, report["left_static"]
    page = (out / "04_forward_diffusion.html").read_text()
    assert 'class="course-frames"' in page and "application/vnd.jupyter.widget" not in page


def test_every_figure_has_a_description(site):
    """Every picture in a page's content (static pictures, a static slider's first frame) has its description as
    alt text; the theme's own images (the launch buttons' logos, named by their link's text) at least no file
    name. Fails while the notebooks' stored outputs are older than their descriptions (./course notebooks)."""
    out, report = site
    bad, figures = [], 0
    for page in html_pages(out):
        for attrs, content in images(page):
            figures += content
            problem = alt_problem(attrs.get("alt"), MIN_ALT_WORDS if content else 1)
            if problem:
                bad.append(f"{page.relative_to(out)}: {attrs.get('src')}: {problem}: {attrs.get('alt')!r:.80}")
    assert figures >= 10
    assert not bad, (f"{len(bad)} images without a description (pictures described: {report['described']}, "
                     f"not: {report['undescribed']}):\n" + "\n".join(bad[:25]))


def test_every_slider_frame_has_a_description(site):
    """Each static slider's index has a description per frame (``alts``, parallel to ``frames``), and its first
    frame shows the default frame's description; checked for every index in site/frames/ and every slider of a
    page."""
    out, _ = site
    bad = []

    def check(where: str, index: dict) -> None:
        alts = index.get("alts")
        if not isinstance(alts, dict):
            bad.append(f"{where}: no alts")
            return
        if set(alts) != set(index["frames"]):
            bad.append(f"{where}: frames without an alt: {sorted(set(index['frames']) - set(alts))[:3]}, "
                       f"alts without a frame: {sorted(set(alts) - set(index['frames']))[:3]}")
        bad.extend(f"{where} frame {key}: {problem}: {alt!r:.80}" for key, alt in alts.items()
                   if (problem := alt_problem(alt)))

    indexes = sorted((build_site.SITE / "frames").glob("*/*/index.json"))
    assert indexes
    for path in indexes:
        check(str(path.relative_to(ROOT)), json.loads(path.read_text()))
    sliders = 0
    for page in html_pages(out):
        for data, alt in re.findall(r'<div class="course-frames"[^>]*><script type="application/json">(.*?)</script>'
                                    r'<img [^>]*alt="([^"]*)"', page.read_text(), re.S):
            sliders += 1
            index = json.loads(data.replace("<\\/", "</"))
            check(f"{page.name} slider {sliders}", index)
            default = "|".join(c["default"] for c in index["controls"])
            want = index.get("alts", {}).get(default)
            if want and html.unescape(alt) != want:
                bad.append(f"{page.name}: a slider's first alt is not its default frame's description")
    assert sliders >= 5
    assert not bad, f"{len(bad)} problems:\n" + "\n".join(bad[:25])


def test_every_page_says_which_stacks_the_course_was_verified_on(site):
    """The footer of every page: each verified stack's name, Python and library versions, and the date."""
    out, report = site
    records = {p.stem: json.loads(p.read_text()) for p in sorted(report["verified_dir"].glob("*.json"))}
    records = {name: r for name, r in records.items() if r["passed"] and name in stacks.NAMES}
    assert records, "no passing record to show"
    for page in html_pages(out):
        found = re.search(r'<p class="course-verified">(.*?)</p>', page.read_text(), re.S)
        assert found, f"{page.relative_to(out)}: no 'Verified with' line"
        line = html.unescape(re.sub(r"<[^>]+>", "", found[1]))
        assert line.startswith("Verified with:"), line
        for name, record in records.items():
            versions = record["versions"]
            want = [name, f"Python {versions['python']}", record["date"]] + [
                f"{lib} {versions[lib]}" for lib in ("torch", "numpy", "matplotlib") if lib in versions]
            missing = [w for w in want if w not in line]
            assert not missing, f"{page.relative_to(out)}: the footer lacks {missing}: {line}"


@pytest.fixture(scope="module")
def served(site):
    """The built site on http://127.0.0.1 (as GitHub Pages serves it: not from file://)."""
    out, _ = site

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", [str(p.relative_to(out)) for p in html_pages(out)]
    finally:
        server.shutdown()
        server.server_close()


AXE_PAGES_AT_ONCE = 3  # pages checked at the same time: one's network wait overlaps another's axe run


def test_every_page_passes_axe_and_logs_no_error(served):
    """axe-core in Chromium on every page: no finding of impact serious or critical, in the light colour mode, and
    in the dark one for the rules that depend on colour (the same page, switched to dark as a reader's system
    setting switches it); and no page logs an error to the console, throws, or asks for a file that is not there
    (the page loaded and the network idle, before axe runs: axe's own requests are not the page's). A few pages
    are open at once, each in its own tab."""
    import asyncio

    from axe_playwright_python.base import AXE_SCRIPT  # axe-core's axe.min.js, as the package ships it
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: the browser test does not skip.")
    base, pages = served
    findings, errors, counts = [], [], {}

    async def run_axe(page, name, scheme, rules):
        results = await page.evaluate("(options) => axe.run(document, options)", {
            "runOnly": {"type": "rule", "values": rules}, "resultTypes": ["violations"], "preload": False})
        for v in results["violations"]:
            counts[v["id"], v["impact"]] = counts.get((v["id"], v["impact"]), 0) + len(v["nodes"])
            if v["impact"] in ("serious", "critical"):
                findings.extend(f"{v['id']} ({v['impact']}) {name} ({scheme}): {', '.join(map(str, n['target']))}"
                                for n in v["nodes"])

    async def check(context, name, at_once):
        async with at_once:
            page = await context.new_page()
            logged = []
            page.on("console", lambda m: m.type == "error" and logged.append(
                f"console: {m.text} ({m.location.get('url')})"))
            page.on("pageerror", lambda e: logged.append(f"uncaught: {e}"))
            page.on("response", lambda r: r.status >= 400 and logged.append(f"HTTP {r.status}: {r.url}"))
            await page.goto(base + name, wait_until="load")
            await page.wait_for_load_state("networkidle")
            await page.evaluate(AXE_SCRIPT)
            # axe-core's rules for WCAG 2.0 and 2.1, A and AA, the experimental ones included (axe leaves those out
            # unless named: label-content-name-mismatch, WCAG 2.5.3, is one)
            rules = await page.evaluate("(tags) => axe.getRules(tags).map(r => r.ruleId)", WCAG)
            assert "label-content-name-mismatch" in rules and set(COLOUR_RULES) <= set(rules)
            assert await page.evaluate("document.documentElement.dataset.theme") == "light"
            await run_axe(page, name, "light", rules)
            # the theme follows the system setting ("auto" mode); its colours change through CSS transitions,
            # which axe would catch half-way on a busy machine: switched off first, the switch is immediate
            await page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
            await page.emulate_media(color_scheme="dark")
            await page.wait_for_function("document.documentElement.dataset.theme === 'dark'", timeout=10_000)
            await run_axe(page, name, "dark", list(COLOUR_RULES))
            errors.extend(f"{name}: {m}" for m in logged)
            await page.close()

    async def check_all():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = await browser.new_context(viewport={"width": 1300, "height": 1000}, color_scheme="light")
                at_once = asyncio.Semaphore(AXE_PAGES_AT_ONCE)
                await asyncio.gather(*(check(context, name, at_once) for name in pages))
                await context.close()
            finally:
                await browser.close()

    asyncio.run(check_all())
    assert len(pages) > 20, pages
    print(f"axe findings by rule and impact (nodes): {counts}")
    assert not errors, f"{len(errors)} errors logged:\n" + "\n".join(errors[:20])
    assert not findings, f"{len(findings)} serious or critical axe findings:\n" + "\n".join(findings[:40])


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
            index = json.loads(box.locator("script[type='application/json']").text_content())
            shown = box.get_attribute("data-shown")
            key = next(k for k, f in index["frames"].items() if f == shown)
            alt = image.get_attribute("alt")
            if "alts" in index:  # the frame's description follows the frame
                assert alt == index["alts"][key], (alt, key)
            else:  # outputs older than the descriptions: the controls' values
                assert alt == ", ".join(f"{c['name']} = {v}" for c, v in zip(index["controls"], key.split("|"))), alt

            page.goto((out / "search.html").as_uri() + "?q=alpha_bar")
            page.wait_for_selector("#search-results li", timeout=30_000)
            results = page.locator("#search-results li").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / "search-alpha_bar.png"))
            assert any("forward" in r.lower() or "diffusion" in r.lower() for r in results), results
            external = [u for u in requests if not u.startswith("file://")]
            assert not external, external
        finally:
            browser.close()
