"""Sphinx configuration of the course website (scripts/build_site.py writes the pages next to this file in
build/site_src/ and runs Sphinx there). Nothing is executed: myst-nb shows the student copy's stored outputs.
Nothing is loaded from elsewhere when a page is viewed: the theme bundles its styles, scripts and fonts,
MathJax is copied from the sphinx-mathjax-offline package, and the static sliders are plain JavaScript.
Accessibility (tests/test_site.py runs axe-core on every page): the colour mode is set ("auto": the reader's
system setting; the theme logs an error on every page when it is left empty), the site has its own icon (else
the browser asks for /favicon.ico and logs a 404), and _templates/ replaces the theme's search button, whose
aria-label ("Search") did not contain its visible text ("Search Ctrl+K"); a table whose first header cell is
empty gets row headers (row_headers below). Every page's footer says which stacks
the course was last verified on (scripts/stacks.py, through settings.json)."""

import json
import shutil
from importlib.metadata import distribution
from pathlib import Path

SETTINGS = json.loads((Path(__file__).parent / "settings.json").read_text())  # written by build_site.py

project = "From residual connections to diffusion models"
author = "the course's authors"
copyright = "the course's authors"
html_title = project
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the stored outputs of the student copy: no training when the site is built
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
exclude_patterns = ["_build", "frames", "settings.json", "_templates"]
templates_path = ["_templates"]
suppress_warnings = ["myst.header", "misc.highlighting_failure", "mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["frames.css"]
html_js_files = ["frames.js"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False  # the notebooks are a click away on GitHub, Binder and Colab
html_context = {"default_mode": "auto"}  # pydata-sphinx-theme's colour mode: the reader's system setting
html_theme_options = {
    "repository_url": SETTINGS["repository_url"],
    "repository_branch": SETTINGS["branch"],
    "path_to_docs": SETTINGS["student_dir"],  # a page's launch buttons open student/<page>.ipynb
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
    "extra_footer": SETTINGS.get("verified_html", ""),
}

# MathJax 3 from the sphinx-mathjax-offline package: the renderer, its fonts and the TeX extensions it loads on
# demand (about 3 MB; the package's speech engine is left out).
mathjax_path = "mathjax/tex-chtml.js"
MATHJAX = Path(str(distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline/static/mathjax")))
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


def copy_mathjax(app, exc) -> None:
    if exc is not None:
        return
    out = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = MATHJAX / part, out / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def row_headers(app, doctree) -> None:
    """A table whose header row starts with an empty cell names its rows in its first column (03's "residual
    connection vs long skip" table): make that column the rows' headers (``<th class="stub">``), so that each data
    cell has a header (axe-core's td-has-header, WCAG 1.3.1)."""
    from docutils import nodes

    for tgroup in doctree.findall(nodes.tgroup):
        head = next(iter(tgroup.findall(nodes.thead)), None)
        colspecs = [c for c in tgroup.children if isinstance(c, nodes.colspec)]
        first = next(iter(head.findall(nodes.entry)), None) if head is not None else None
        if colspecs and first is not None and not first.astext().strip():
            colspecs[0]["stub"] = 1


def setup(app) -> None:
    app.connect("doctree-read", row_headers)
    app.connect("build-finished", copy_mathjax)
