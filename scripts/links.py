"""Where the course opens: Binder and Colab links, the Colab set-up cell, the nbgitpuller link.

    python scripts/links.py [--hub HUB]       every notebook's Binder and Colab links (or: ./course links)
                                              and, for a JupyterHub at HUB, the nbgitpuller link for a class
    python scripts/links.py set-repo URL      point everything at another repository (or: ./course set-repo URL)

Every link opens the **student copy** (``student/``, written by ``./course build`` from the instructor copy in
``notebooks/``): exercises as TODOs, no solutions.

The repository's public address is written once, in ``pyproject.toml`` (``[project.urls] Repository``).
The README's badges and the first code cell of every notebook are derived from it and
``tests/test_links.py`` checks that they agree, so a fork (an instructor's copy, say) runs
``./course set-repo https://github.com/OWNER/NAME`` and every badge and Colab cell follows.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlencode

import tomllib

ROOT = Path(__file__).resolve().parents[1]
BRANCH = "main"
STUDENT_DIR = "student"  # what students open (scripts/build_course.py writes it)
GITHUB = re.compile(r"^https://github\.com/(?P<slug>[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+)$")
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repo_url() -> str:
    """The repository's address, from pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def slug(url: str) -> str:
    """``https://github.com/OWNER/NAME`` -> ``OWNER/NAME``; anything else is refused."""
    match = GITHUB.match(url.rstrip("/"))
    if not match:
        raise ValueError(f"url: expected https://github.com/OWNER/NAME (Binder and Colab open GitHub repositories), "
                         f"got {url!r}")
    return match["slug"]


def site_url(url: str) -> str:
    """Where GitHub Pages publishes the course website of the repository at ``url`` (.github/workflows/pages.yml)."""
    owner, name = slug(url).split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))


def colab_url(notebook: str, url: str) -> str:
    return f"https://colab.research.google.com/github/{slug(url)}/blob/{BRANCH}/{STUDENT_DIR}/{notebook}"


def binder_url(notebook: str, url: str) -> str:
    """Binder builds the repository from ``binder/`` and opens JupyterLab on the student copy of ``notebook``."""
    return f"https://mybinder.org/v2/gh/{slug(url)}/{BRANCH}?urlpath=lab/tree/{STUDENT_DIR}/{notebook}"


def colab_badge(notebook: str, url: str) -> str:
    return f"[![Open in Colab]({COLAB_BADGE})]({colab_url(notebook, url)})"


def binder_badge(notebook: str, url: str) -> str:
    return f"[![Binder]({BINDER_BADGE})]({binder_url(notebook, url)})"


def nbgitpuller_url(hub: str, url: str, notebook: str = "00_start_here.ipynb") -> str:
    """A link that clones (later: updates) the repository into a JupyterHub user's home and opens ``notebook``."""
    query = urlencode({"repo": url, "branch": BRANCH,
                       "urlpath": f"lab/tree/{slug(url).split('/')[1]}/{STUDENT_DIR}/{notebook}"})
    return f"https://{hub.removeprefix('https://').rstrip('/')}/hub/user-redirect/git-pull?{query}"


def colab_cell(url: str) -> str:
    """The first code cell of every notebook: on Colab, install course_lib and turn on the widget manager."""
    return f'''\
# On Colab only: install course_lib and turn on widgets. Anywhere else this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course_lib @ git+{url}"], check=True)
    from google.colab import output
    output.enable_custom_widget_manager()'''


def set_repo(new_url: str) -> list[Path]:
    """Replace the repository's address everywhere it appears (the student copy is rebuilt from the instructor
    copy's new Colab cells); returns the files changed."""
    old, new = slug(repo_url()), slug(new_url)
    old_site, new_site = site_url(repo_url()), site_url(new_url)
    files = [ROOT / "pyproject.toml", ROOT / "README.md", *notebooks(), *(p.with_suffix(".py") for p in notebooks())]
    changed = []
    for path in files:
        text = path.read_text()
        if old in text or old_site in text:
            path.write_text(text.replace(old_site, new_site).replace(old, new))
            changed.append(path)
    if changed:
        import build_course  # scripts/, next to this file
        changed += build_course.build(out=ROOT / STUDENT_DIR, source=ROOT / "notebooks")
    return changed


def main(argv: list[str]) -> int:
    if argv[:1] == ["set-repo"] and len(argv) == 2:
        for path in set_repo(argv[1]):
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    hub = argv[1] if argv[:1] == ["--hub"] and len(argv) == 2 else None
    if argv and not hub:
        print(__doc__)
        return 2
    url = repo_url()
    print(f"repository: {url}")
    for nb in notebooks():
        print(f"{nb.name}\n  Colab:  {colab_url(nb.name, url)}\n  Binder: {binder_url(nb.name, url)}")
    if hub:
        print(f"nbgitpuller link for {hub}:\n  {nbgitpuller_url(hub, url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
