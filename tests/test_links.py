"""Binder and Colab links, the Colab cell of every notebook, and the fork command agree with pyproject.toml."""

import builtins
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import links  # noqa: E402

URL = links.repo_url()
NOTEBOOKS = links.notebooks()
LINK = re.compile(r"https://(?:github\.com|colab\.research\.google\.com/github|mybinder\.org/v2/gh)/([\w.\-]+/[\w.\-]+)")


def first_code_cell(path: Path) -> str:
    return next(c.source for c in jupytext.read(path).cells if c.cell_type == "code")


def test_repository_address_is_a_github_repository():
    assert links.slug(URL).count("/") == 1
    with pytest.raises(ValueError, match=r"url: expected https://github.com/OWNER/NAME.*got 'gitlab.com/a/b'"):
        links.slug("gitlab.com/a/b")


def test_readme_has_a_binder_badge_on_notebook_00_and_a_colab_badge_per_notebook():
    readme = (ROOT / "README.md").read_text()
    assert links.binder_badge("00_start_here.ipynb", URL) in readme
    assert "urlpath=lab/tree/student/00_start_here.ipynb" in links.binder_url("00_start_here.ipynb", URL)
    assert "/blob/main/student/00_start_here.ipynb" in links.colab_url("00_start_here.ipynb", URL)
    row = re.compile(r"\| \d\d[a-z]? \| \[.*?\]\(student/(\S+)\)")
    rows = {m[1]: line for line in readme.splitlines() if (m := row.match(line))}
    assert sorted(rows) == [p.name for p in NOTEBOOKS], "the README's table lists every notebook"
    for name, row in rows.items():
        assert links.colab_badge(name, URL) in row, f"{name}: Colab badge missing from its README row"


def test_readme_links_the_website_where_pages_publishes_it():
    assert f"<{links.site_url(links.repo_url())}>" in (ROOT / "README.md").read_text()
    assert links.site_url("https://github.com/Some-Org/course") == "https://some-org.github.io/course/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_colab_cell(path):
    assert first_code_cell(path) == links.colab_cell(URL)
    assert first_code_cell(path.with_suffix(".py")) == links.colab_cell(URL)


def test_no_link_points_at_another_repository():
    for path in [ROOT / "README.md", *NOTEBOOKS]:
        found = set(LINK.findall(path.read_text())) - {"OWNER/NAME"}  # the README's set-repo example
        assert found <= {links.slug(URL)}, f"{path.name} links to {found}"


def run_cell(monkeypatch, on_colab: bool):
    """Execute the Colab cell; on 'Colab' record the pip command and the widget-manager call instead."""
    calls = []
    if on_colab:
        output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widget manager"))
        colab = types.ModuleType("google.colab")
        colab.output = output
        monkeypatch.setitem(sys.modules, "google.colab", colab)
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
        sys.modules["google"].colab = colab
        monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    printed = []
    monkeypatch.setattr(builtins, "print", lambda *a: printed.append(" ".join(map(str, a))))
    exec(links.colab_cell(URL), {})
    return calls, printed


def test_colab_cell_does_nothing_elsewhere_and_says_so(monkeypatch):
    calls, printed = run_cell(monkeypatch, on_colab=False)
    assert calls == [] and printed == []


def test_colab_cell_installs_course_lib_from_the_repository_and_enables_widgets(monkeypatch):
    calls, printed = run_cell(monkeypatch, on_colab=True)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", f"course_lib @ git+{URL}"], "widget manager"]
    assert printed == []


def test_nbgitpuller_link_clones_the_repository_and_opens_notebook_00():
    parts = urlsplit(links.nbgitpuller_url("https://hub.example.edu/", URL))
    assert (parts.netloc, parts.path) == ("hub.example.edu", "/hub/user-redirect/git-pull")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    name = links.slug(URL).split("/")[1]
    assert query == {"repo": URL, "branch": "main", "urlpath": f"lab/tree/{name}/student/00_start_here.ipynb"}


def test_set_repo_moves_every_link_to_a_fork(tmp_path, monkeypatch):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(ROOT / "README.md", tmp_path)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    monkeypatch.setattr(links, "ROOT", tmp_path)
    fork = "https://github.com/a-teacher/course-fork"
    changed = links.set_repo(fork)
    assert len(changed) == 2 + 3 * len(NOTEBOOKS)  # README, pyproject, each notebook's .ipynb, .py and student copy
    assert links.repo_url() == fork
    readme = (tmp_path / "README.md").read_text()
    assert links.binder_badge("00_start_here.ipynb", fork) in readme
    assert "https://a-teacher.github.io/course-fork/" in readme and "course-lib.github.io" not in readme
    for path in links.notebooks():
        assert first_code_cell(path) == links.colab_cell(fork)
        assert set(LINK.findall(path.read_text())) == {"a-teacher/course-fork"}
        student = tmp_path / "student" / path.name
        assert first_code_cell(student) == links.colab_cell(fork), "the student copy follows the fork"
