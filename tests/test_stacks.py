"""The stacks the course is verified on (stacks/*.txt, scripts/stacks.py): each is well formed, the oldest is what
pyproject.toml declares, the workflow runs them all, and the README shows what the last runs verified."""

import json
import re
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import stacks  # noqa: E402


def requirements(name: str) -> dict[str, str]:
    """``{package: pinned version or ''}`` of a stack's file (comments and options left out)."""
    found = {}
    for line in (stacks.STACKS / f"{name}.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name_, _, version = line.partition("==")
            found[name_.strip().lower().replace("_", "-")] = version.strip()
    return found


def declared() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.match(r"[A-Za-z0-9_.\-]+", d)[0].lower(): re.search(r">=([\d.]+)", d)[1] for d in deps}


@pytest.mark.parametrize("name", stacks.NAMES)
def test_every_stack_names_its_python_and_installs_the_course_dependencies(name):
    assert re.fullmatch(r"3\.\d+", stacks.python_of(stacks.stack_file(name)))
    if name != "pins":
        assert set(declared()) <= set(requirements(name)), "a stack must say which version of each dependency"


def test_the_oldest_stack_is_what_pyproject_declares_on_its_oldest_python():
    oldest = requirements("oldest")
    for package, minimum in declared().items():
        assert oldest[package] == minimum or oldest[package].startswith(minimum + "."), (package, minimum)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=" + stacks.python_of(stacks.stack_file("oldest"))


def test_colab_pins_every_version_and_says_when_they_were_read():
    text = (stacks.STACKS / "colab.txt").read_text()
    assert re.search(r"Read on \d{4}-\d{2}-\d{2}", text)
    assert all(requirements("colab").values()), "Colab's stack is a snapshot: every version pinned"


def test_latest_pins_nothing():
    assert not any(requirements("latest").values())


def test_an_unknown_stack_is_a_clear_error():
    with pytest.raises(SystemExit, match=r"no stack named 'colab2'.*colab, latest, oldest, pins"):
        stacks.stack_file("colab2")


def test_the_workflow_runs_every_stack_weekly_on_its_python():
    text = (ROOT / ".github" / "workflows" / "stacks.yml").read_text()
    assert "schedule:" in text and "workflow_dispatch:" in text
    for name in stacks.NAMES:
        python = stacks.python_of(stacks.stack_file(name))
        assert f'{{stack: {name}, python: "{python}"}}' in text, name


def test_the_verified_line_lists_each_passed_stack_with_its_versions_and_date(tmp_path, monkeypatch):
    monkeypatch.setattr(stacks, "VERIFIED", tmp_path)
    record = {"stack": "colab", "date": "2026-12-06", "passed": True, "python_exact": True,
              "versions": {"python": "3.12.1", "torch": "2.10.0", "numpy": "2.0.2", "ipywidgets": "7.7.1"}}
    (tmp_path / "colab.json").write_text(json.dumps(record))
    (tmp_path / "latest.json").write_text(json.dumps({**record, "stack": "latest", "passed": False}))
    line = stacks.verified_line()
    assert line.startswith("Verified with: **colab** (Python 3.12.1, torch 2.10.0, numpy 2.0.2, ipywidgets 7.7.1;")
    assert "2026-12-06" in line and "latest" not in line, "a failed run verifies nothing"


def test_the_readme_shows_the_recorded_runs():
    readme = (ROOT / "README.md").read_text()
    shown = readme.split(stacks.README_START)[1].split(stacks.README_END)[0].strip()
    assert shown == stacks.verified_line()
    for path in stacks.VERIFIED.glob("*.json"):
        record = json.loads(path.read_text())
        if record["passed"]:
            assert f"**{record['stack']}**" in shown and record["date"] in shown
            assert f"torch {record['versions']['torch']}" in shown
