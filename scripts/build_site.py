"""Build the course website into build/site/ from the student copy's stored outputs, offline.

    python scripts/build_site.py            (or: ./course site)

Nothing is executed and nothing is downloaded: Sphinx with myst-nb renders ``student/*.ipynb`` as they are
stored (the exercises unsolved, the outputs the student copy keeps), the README becomes the landing page and
the notebooks' titles and objectives the syllabus page. Each live figure becomes a static slider over the
frames ``./course notebooks`` rendered (``site/frames/``, ``course_lib/frames.py``); a live figure without
frames stays the static picture stored in the notebook. Widget state and widget views are dropped (they need
a kernel, and their JavaScript would come from a CDN). Every page has launch buttons (Binder, Colab) that open
its student copy, and shows the stacks the course was last verified on (``scripts/stacks.py``).

Every figure carries its description as its alt text: a picture's ``text/plain`` (the description the notebook
stored; a bare ``<Figure size ...>`` repr is no description) and a static slider's ``alts`` per frame (its
index.json). Prints the build time, the site's size and how many live figures became sliders.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import links
import nbformat

import stacks

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"  # conf.py, _static/ (the slider's script and style) and frames/
SOURCE = ROOT / "build" / "site_src"
OUT = ROOT / "build" / "site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BADGE_LINK = re.compile(r"\[!\[(?P<alt>[^\]]*)\]\([^)]*\)\]\((?P<url>[^)]*)\)")  # [![alt](image)](url)
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")


def notebooks() -> list[Path]:
    return sorted((ROOT / links.STUDENT_DIR).glob("[0-9][0-9]*_*.ipynb"))


# ----------------------------------------------------------------------------- pages

def landing_page(readme: str, repo: str) -> str:
    """The README as the site's first page: badges become plain links, links to the student copy point at the
    site's pages, and other files of the repository at GitHub."""
    text = BADGE_LINK.sub(lambda m: f"[{m['alt']}]({m['url']})", readme)

    def relink(m: re.Match) -> str:
        target = m["target"]
        if re.match(r"^[a-z]+:|^#", target):
            return m[0]
        if target.startswith(f"{links.STUDENT_DIR}/") and target.endswith(".ipynb"):
            return f"[{m['text']}]({Path(target).stem}.ipynb)"
        return f"[{m['text']}]({repo}/blob/{links.BRANCH}/{target})"

    text = LINK.sub(relink, text)
    pages = "\n".join(p.stem for p in notebooks())
    return (text.rstrip() + "\n\n```{toctree}\n:hidden:\n:maxdepth: 1\n:caption: Notebooks\n\n" + pages +
            "\n```\n\n```{toctree}\n:hidden:\n:caption: About\n\nsyllabus\n```\n")


def objectives(nb) -> tuple[str, list[str]]:
    """A notebook's title and learning objectives, from its first markdown cell."""
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    title = next((line.lstrip("# ").strip() for line in first.splitlines() if line.startswith("# ")), "")
    items = re.findall(r"^\d+\. (.+)$", first.split("Learning objectives")[-1], re.M)
    return title, items


def syllabus_page(nbs: dict[str, nbformat.NotebookNode]) -> str:
    lines = ["# Syllabus", "",
             "What each notebook teaches: its learning objectives, as the notebook states them. Notebooks with a "
             "letter (01b, 06b, 07b) are optional: each extends the lesson before it, and no later notebook needs "
             "it.", ""]
    for stem, nb in nbs.items():
        title, items = objectives(nb)
        lines += [f"## [{title}]({stem}.ipynb)", ""] + [f"{i}. {item}" for i, item in enumerate(items, 1)] + [""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- descriptions (alt text)

IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}
NOT_A_DESCRIPTION = re.compile(r"^\s*$|^<Figure size |^LiveFigure\(")


def description(output) -> str | None:
    """What an image output describes itself as: its ``text/plain``, unless that is empty or a bare repr."""
    text = output.get("data", {}).get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else text
    return None if NOT_A_DESCRIPTION.match(text) else " ".join(text.split())


def figure_html(src: str, alt: str) -> str:
    return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}" class="course-figure" loading="lazy">'


def described_images(nb, static: Path) -> tuple[int, int]:
    """Give each picture the notebook stored its description as alt text: the picture is written to
    ``_static/figures/<sha256>.<ext>`` and the output becomes an ``<img>`` with that alt (myst-nb would use the
    file name). A picture without a description is left to myst-nb (its alt stays the file name, which
    tests/test_site.py rejects). Returns how many pictures were described and how many were not."""
    described = undescribed = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            kind = next((k for k in IMAGE_TYPES if k in data), None)
            if kind is None or "text/html" in data:
                continue
            alt = description(output)
            if alt is None:
                undescribed += 1
                continue
            raw = base64.b64decode("".join(data[kind]) if isinstance(data[kind], list) else data[kind])
            name = f"{hashlib.sha256(raw).hexdigest()}.{IMAGE_TYPES[kind]}"
            (static / "figures").mkdir(parents=True, exist_ok=True)
            (static / "figures" / name).write_bytes(raw)
            output["data"] = {"text/html": figure_html(f"_static/figures/{name}", alt), "text/plain": alt}
            described += 1
    return described, undescribed


# ----------------------------------------------------------------------------- static sliders

def slider_html(index: dict, base: str, title: str) -> str:
    """A static slider: the index (controls, frames and, where the notebook run wrote them, each frame's
    description in ``alts``) for frames.js, and the default frame with its description as alt text."""
    default = "|".join(c["default"] for c in index["controls"])
    key = default if default in index["frames"] else next(iter(index["frames"]))
    alt = index.get("alts", {}).get(key) or title
    data = json.dumps(index).replace("</", "<\\/")
    return (f'<div class="course-frames" data-base="{html.escape(base)}">'
            f'<script type="application/json">{data}</script>'
            f'<img src="{html.escape(base + index["frames"][key])}" alt="{html.escape(alt)}" loading="lazy"></div>')


def is_live_figure(output) -> bool:
    """A ``LiveFigure``'s output: a widget view with a picture of its figure (``LiveFigure.mimebundle``); before
    the notebooks stored descriptions, its plain text also named it."""
    data = output.get("data", {})
    text = data.get("text/plain", "")
    return (WIDGET_VIEW in data and "image/png" in data) or \
        ("".join(text) if isinstance(text, list) else text).startswith("LiveFigure(")


def live_figure_cells(instructor) -> list[int]:
    """Indices of the cells whose output is a live figure, in the order the kernel showed them (the k-th is the
    one ``course_lib.frames`` exported as ``<k>/``)."""
    return [i for i, cell in enumerate(instructor.cells) if cell.cell_type == "code"
            for o in cell.get("outputs", []) if is_live_figure(o)]


def static_sliders(nb, instructor, stem: str, frames_root: Path, static: Path) -> tuple[int, list[str]]:
    """Replace each live figure the student copy shows by a static slider over its frames; returns how many were
    replaced and what was left static (and why)."""
    replaced, left = 0, []
    by_id = {c.get("id"): c for c in nb.cells}  # the student copy drops the instructor's plan: match cells by id
    for k, i in enumerate(live_figure_cells(instructor)):
        cell = by_id.get(instructor.cells[i].get("id"))
        if cell is None:
            continue
        shown = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not shown:
            continue  # cleared in the student copy (it would give an answer away)
        index_path = frames_root / stem / str(k) / "index.json"
        if not index_path.exists():
            left.append(f"{stem} live figure {k}: no frames (run ./course notebooks)")
            continue
        index = json.loads(index_path.read_text())
        dest = static / "frames" / stem / str(k)
        shutil.copytree(index_path.parent, dest, dirs_exist_ok=True)
        (dest / "index.json").unlink()
        title = description(shown[0]) or "".join(shown[0]["data"].get("text/plain", "live figure"))
        cell.outputs = [nbformat.v4.new_output("display_data", data={
            "text/html": slider_html(index, f"_static/frames/{stem}/{k}/", title), "text/plain": title})]
        replaced += 1
    return replaced, left


def without_widgets(nb) -> None:
    """Drop widget state and widget views: a static page has no kernel for them."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


# ----------------------------------------------------------------------------- the instructor's pages

PLAN_TAG = "instructor"


def plan_of(instructor) -> str:
    """The instructor's plan of a notebook: its cells tagged ``instructor`` (dropped from the student copy)."""
    return "\n\n".join(c.source for c in instructor.cells if PLAN_TAG in c.get("metadata", {}).get("tags", []))


def instructor_pages(out: Path) -> int:
    """``instructor/<notebook>.md`` (each notebook's plan) and ``instructor/index.md``, as orphan pages: built,
    but in no table of contents, linked from no student page and left out of the search index. Returns how many
    plans were written."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["---", "orphan: true", "nosearch: true", "---", "", "# Instructor's guide", "",
             "One plan per notebook, for a 50-minute class: the timeline, what to live-code, where the class "
             "predicts, the mistakes the checks diagnose, and two questions to ask. The student pages do not link "
             "here; each plan is also at the top of the instructor copy (`notebooks/`, `./course instructor`).", ""]
    count = 0
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb")):
        plan = plan_of(nbformat.read(path, as_version=4))
        if not plan:
            continue
        (out / f"{path.stem}.md").write_text(f"---\norphan: true\nnosearch: true\n---\n\n{plan}\n")
        lines.append(f"- [{path.stem}]({path.stem}.md)")
        count += 1
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return count


# ----------------------------------------------------------------------------- "verified with"

def markdown_line_html(line: str) -> str:
    """One line of markdown as HTML, as ``stacks.verified_line`` writes it: text, ``**bold**`` and ``code``."""
    text = html.escape(line, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def verified_html() -> str:
    """The stacks the course was last verified on (``stacks/verified/``), for every page's footer; "" if none."""
    line = stacks.verified_line()
    return f'<p class="course-verified">{markdown_line_html(line)}</p>' if line else ""


# ----------------------------------------------------------------------------- build

def write_source(frames_root: Path = SITE / "frames") -> dict:
    """Write build/site_src/: conf.py and static files, the landing page, the syllabus, the notebooks."""
    shutil.rmtree(SOURCE, ignore_errors=True)
    shutil.copytree(SITE, SOURCE, ignore=shutil.ignore_patterns("frames", "__pycache__"))
    repo = links.repo_url()
    (SOURCE / "settings.json").write_text(json.dumps({
        "repository_url": repo, "branch": links.BRANCH, "student_dir": links.STUDENT_DIR,
        "verified_html": verified_html()}))
    (SOURCE / "index.md").write_text(landing_page((ROOT / "README.md").read_text(), repo))
    nbs, report = {}, {"sliders": 0, "left_static": [], "described": 0, "undescribed": 0}
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        without_widgets(nb)
        instructor = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        replaced, left = static_sliders(nb, instructor, path.stem, frames_root, SOURCE / "_static")
        report["sliders"] += replaced
        report["left_static"] += left
        described, undescribed = described_images(nb, SOURCE / "_static")
        report["described"] += described
        report["undescribed"] += undescribed
        nbformat.write(nb, SOURCE / path.name)
        nbs[path.stem] = nb
    (SOURCE / "syllabus.md").write_text(syllabus_page(nbs))
    report["plans"] = instructor_pages(SOURCE / "instructor")
    report["pages"] = len(nbs) + 2
    return report


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def build(out: Path = OUT, quiet: bool = True) -> dict:
    start = time.perf_counter()
    report = write_source()
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-j", "2", "-W", "--keep-going", str(SOURCE), str(out)]
    result = subprocess.run(cmd + (["-q"] if quiet else []), capture_output=quiet, text=True)
    if result.returncode:
        raise RuntimeError(f"sphinx-build failed:\n{result.stdout or ''}{result.stderr or ''}")
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ as it is
    report.update(seconds=round(time.perf_counter() - start, 1), size_mb=round(size_mb(out), 1),
                  frames_mb=round(size_mb(out / "_static" / "frames"), 1) if (out / "_static" / "frames").exists()
                  else 0.0, out=str(out))
    return report


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--verbose", action="store_true", help="show Sphinx's output")
    args = p.parse_args(argv)
    report = build(args.out, quiet=not args.verbose)
    print(f"built {report['pages']} pages into {report['out']} in {report['seconds']} s: {report['size_mb']} MB "
          f"({report['frames_mb']} MB of frames); {report['sliders']} live figures as static sliders")
    for line in report["left_static"]:
        print(f"  left static: {line}")
    if report["undescribed"]:
        print(f"  {report['undescribed']} of {report['described'] + report['undescribed']} pictures have no "
              f"description (their alt text is a file name): run ./course notebooks")
    print(f"published at {links.site_url(links.repo_url())} by .github/workflows/pages.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
