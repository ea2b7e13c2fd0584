"""The set-up files agree: environment.yml pins what requirements.txt pins; pyproject stays loose."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return dict(re.match(r"\s*-?\s*([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
                for line in lines if re.match(r"\s*-?\s*[A-Za-z0-9_.\-]+==", line))


def test_environment_yml_matches_requirements():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    env = pins((ROOT / "environment.yml").read_text().splitlines())
    assert req["torch"] == "2.13.0"
    assert env == req


def test_pyproject_ranges_are_loose_and_cover_the_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any("==" in d for d in deps), "users (e.g. Colab) must keep their own torch"
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    for d in deps:
        name, low = re.match(r"([A-Za-z0-9_.\-]+)>=([\d.]+)", d).groups()
        assert tuple(map(int, req[name].split(".")[:2])) >= tuple(map(int, low.split(".")[:2])), d


def test_binder_installs_the_pinned_requirements_with_cpu_torch():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    binder = pins(lines)
    assert binder.pop("torch") == req.pop("torch") + "+cpu"
    assert binder == req
    assert "-e ." in lines, "Binder must install course_lib itself"
    assert any(line.startswith("--extra-index-url") and "/whl/cpu" in line for line in lines)


def test_files_the_notebooks_read_ship_inside_the_package():
    """On Colab a notebook is opened alone: what it reads must come with ``pip install course_lib``."""
    from course_lib.checkpoints import SHIPPED
    from course_lib.variants import CURVES as RESULTS

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["course_lib"]
    shipped = {p for pattern in patterns for p in (ROOT / "course_lib").glob(pattern)}
    assert {RESULTS, SHIPPED / "digits_unet.pt"} <= shipped
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]*_*.py"):
        code = "\n".join(line for line in notebook.read_text().splitlines() if not line.startswith("#"))
        found = re.findall(r"\bopen\(|Path\(|np\.load\(|torch\.load\(|\"results/", code)
        assert not found, f"{notebook.name} reads a file next to it ({found}), which Colab will not have"


def test_nbval_runs_the_notebooks_on_the_device_of_their_stored_outputs():
    """``./course test`` pins the notebooks to the CPU configuration their outputs were made with, so a machine
    with a GPU passes nbval too: COURSE_DEVICE=cpu must win over a GPU that is present."""
    import subprocess
    import sys

    script = (ROOT / "course").read_text()
    branch = script[script.index("    test)"):script.index(";;", script.index("    test)"))]
    assert "export COURSE_DEVICE=cpu" in branch and "unset COURSE_CONFIG COURSE_MAX_STEPS" in branch
    assert branch.index("export COURSE_DEVICE=cpu") < branch.index("pytest")
    probe = ("import torch; torch.cuda.is_available = lambda: True\n"
             "from course_lib.lessons import setup_notebook; setup_notebook()")
    unset = ("COURSE_CONFIG", "COURSE_MAX_STEPS", "COURSE_DEVICE")
    env = {k: v for k, v in __import__("os").environ.items() if k not in unset}
    gpu = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    pinned = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={**env, "COURSE_DEVICE": "cpu"})
    assert "device: cuda" in gpu.stdout, gpu.stderr  # what an unpinned run prints on a GPU machine
    assert pinned.stdout.strip() == "device: cpu", pinned.stderr  # what the stored outputs say
