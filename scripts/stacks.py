"""The stacks the course is verified on: build one's environment, run the course on it, record the result.

    python scripts/stacks.py test NAME      (or: ./course test --stack NAME)
    python scripts/stacks.py readme         rewrite the README's "verified with" line from stacks/verified/

A stack is a requirements file, ``stacks/NAME.txt``, whose header names its Python (``# python: 3.12``):

* ``pins``: what ``./course test`` installs; the whole suite, nbval included (``./course test`` itself);
* ``latest``: the newest release of everything, as a plain ``pip install`` on a laptop brings;
* ``colab``: Google Colab's versions, read from its published ``pip freeze`` (the file says when);
* ``oldest``: the minimums ``pyproject.toml`` declares.

Each gets its own virtual environment in ``.stacks/NAME`` (the course package installed editable, without its
dependencies: the stack's file decides every version). On it run the unit tests (less those that check the pinned
set-up itself, tests/conftest.py) and every notebook top to bottom, the instructor copy as
committed and the student copy, failing on any error or warning a cell prints. Where the stack's Python is not on
this machine, the machine's own Python stands in and the record says so. The result, with the versions that ran
and the date, goes to ``stacks/verified/NAME.json``; the README and every page of the website show it.
.github/workflows/stacks.yml runs every stack weekly and on demand.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "stacks"
VERIFIED = STACKS / "verified"
ENVS = ROOT / ".stacks"
NAMES = ("pins", "latest", "colab", "oldest")
# What the record lists: the course's own dependencies and the notebook machinery they run in.
SHOWN = ("torch", "numpy", "scikit-learn", "matplotlib", "tqdm", "ipywidgets", "ipykernel", "jupytext", "nbclient")
README_START, README_END = "<!-- verified-with -->", "<!-- /verified-with -->"


def stack_file(name: str) -> Path:
    path = STACKS / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in STACKS.glob("*.txt"))
        raise SystemExit(f"--stack: no stack named {name!r}; the stacks are {', '.join(known)} (files in stacks/)")
    return path


def python_of(path: Path) -> str:
    """The Python version a stack's file names in its header (``# python: 3.12``)."""
    found = re.search(r"^# python: (\d+\.\d+)\s*$", path.read_text(), re.M)
    if not found:
        raise SystemExit(f"{path}: the header must name the stack's Python, e.g. '# python: 3.12'")
    return found.group(1)


def find_python(version: str) -> tuple[str, bool]:
    """An interpreter of ``version`` on this machine (PATH, then pyenv's versions), or this one as a stand-in.

    Returns (path, exact): exact is False when the machine's own Python stands in for a version it lacks."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        run = subprocess.run([str(candidate), "-c", "import sys, venv; print(sys.version_info[:2])"],
                             capture_output=True, text=True)
        if run.returncode == 0 and run.stdout.strip() == str(tuple(map(int, version.split(".")))):
            return str(candidate), True
    return sys.executable, False


def build(name: str) -> Path:
    """Create (or reuse, if its file is unchanged) the stack's virtual environment; return its Python."""
    path = stack_file(name)
    if name == "pins":  # the course's own environment, as ./course test sets it up
        subprocess.run([str(ROOT / "course"), "setup", "test"], check=True)
        return ROOT / ".venv" / "bin" / "python"
    version = python_of(path)
    interpreter, exact = find_python(version)
    env = ENVS / name
    python = env / "bin" / "python"
    want = json.dumps([path.read_text(), (ROOT / "pyproject.toml").read_text()])
    stamp, made_by = env / "stack.stamp", env / "stack.python"
    if python.exists() and stamp.is_file() and stamp.read_text() == want:
        return python
    if not (python.exists() and made_by.is_file() and made_by.read_text() == interpreter):
        shutil.rmtree(env, ignore_errors=True)  # a new environment; an edited file only installs what changed
        if not exact:
            print(f"note: no Python {version} here: {sys.version.split()[0]} stands in for it", flush=True)
        print(f"==> building stack {name!r} in {env.relative_to(ROOT)} (Python {version}; a few minutes)", flush=True)
        subprocess.run([interpreter, "-m", "venv", str(env)], check=True)
        made_by.write_text(interpreter)
    # A machine-wide pip constraint (a cap on torch, say) must not decide a stack's versions: its file does.
    pip_env = {**os.environ, "PIP_CONSTRAINT": os.devnull}
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, env=pip_env)
    newest = ["--upgrade", "--upgrade-strategy", "eager"] if name == "latest" else []  # nothing held back
    subprocess.run([*pip, *newest, "-r", str(path)], check=True, env=pip_env, cwd=STACKS)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, env=pip_env)
    stamp.write_text(want)
    return python


def versions(python: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, platform, sys\n"
            f"names = {list(SHOWN)!r}\n"
            "v = {'python': platform.python_version()}\n"
            "for n in names:\n"
            "    try: v[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(v))")
    return json.loads(subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout)


def declared_ranges_hold(python: Path) -> list[str]:
    """The pyproject.toml requirements the stack's versions do not satisfy (a stack outside them tests nothing)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "from packaging.requirements import Requirement\n"
            "bad = []\n"
            "for line in m.requires('course_lib') or []:\n"
            "    r = Requirement(line)\n"
            "    if r.marker and not r.marker.evaluate({'extra': ''}): continue\n"
            "    try: have = m.version(r.name)\n"
            "    except m.PackageNotFoundError: bad.append(f'{r.name}: missing'); continue\n"
            "    if not r.specifier.contains(have, prereleases=True):\n"
            "        bad.append(f'{r.name} {have} not {r.specifier}')\n"
            "print(json.dumps(bad))")
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if run.returncode:  # no `packaging` in the stack: pip check says the same, less precisely
        run = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
        return [line for line in run.stdout.splitlines() if "course" in line.lower()]
    return json.loads(run.stdout)


def has_xdist(python: Path) -> bool:
    return subprocess.run([str(python), "-c", "import xdist"], capture_output=True).returncode == 0


def test(name: str, pytest_args: list[str]) -> int:
    """Build the stack, run the course on it and record the result in stacks/verified/NAME.json."""
    python = build(name)
    have = versions(python)
    print("==> stack", name, ":", ", ".join(f"{k} {v}" for k, v in have.items()), flush=True)
    outside = declared_ranges_hold(python)
    if outside:
        print("pyproject.toml's ranges exclude this stack:", "; ".join(outside))
        return 1
    env = {**os.environ, "COURSE_DEVICE": "cpu", "COURSE_STACK": name}
    for var in ("COURSE_CONFIG", "COURSE_MAX_STEPS", "PYTHONPATH"):
        env.pop(var, None)
    start = time.time()
    steps = {}
    if name == "pins":  # the README's own test command: unit tests and nbval on the stored outputs
        run = subprocess.run([str(ROOT / "course"), "test", *pytest_args], env=env, cwd=ROOT)
        steps["tests and nbval"] = run.returncode
    else:
        print("==> unit tests (less those of the pinned set-up itself: tests/conftest.py)", flush=True)
        spread = ["-n", str(WORKERS)] if has_xdist(python) else []  # work units: tests/conftest.py
        run = subprocess.run([str(python), "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", *spread,
                              *pytest_args], env={**env, "OMP_NUM_THREADS": "1" if spread else "2"}, cwd=ROOT)
        steps["unit tests"] = run.returncode
    print("==> every notebook top to bottom (instructor and student copies), no error and no warning", flush=True)
    run = subprocess.run([str(python), str(ROOT / "scripts" / "stacks.py"), "notebooks"], env=env, cwd=ROOT)
    steps["notebooks"] = run.returncode
    passed = not any(steps.values())
    record = {"stack": name, "date": datetime.date.today().isoformat(), "passed": passed,
              "python_exact": find_python(python_of(stack_file(name)))[1], "versions": have,
              "steps": {k: "passed" if v == 0 else "failed" for k, v in steps.items()},
              "minutes": round((time.time() - start) / 60, 1)}
    VERIFIED.mkdir(exist_ok=True)
    (VERIFIED / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"==> stack {name}: {'passed' if passed else 'FAILED'} ({record['minutes']} min);"
          f" recorded in {(VERIFIED / f'{name}.json').relative_to(ROOT)}", flush=True)
    if passed:
        write_readme()
    return 0 if passed else 1


WORKERS = 2  # notebooks (and pytest-xdist workers) at a time, one kernel thread each: 2 cores kept busy


def run_notebook(path: Path) -> tuple[str | None, list[str]]:
    """Run one notebook top to bottom in this Python, its stored outputs cleared: (error or None, warnings)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import nbformat
    from nbexec import notebook_client

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    error = None
    try:
        notebook_client(nb, path.parent, timeout=600).execute()
    except Exception as exc:  # CellExecutionError, a timeout, a dead kernel
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    warned = sorted({line.strip() for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                     if out.output_type == "stream" and out.name == "stderr"
                     for line in out.text.splitlines() if re.search(r"Warning\b", line)})
    return error, warned


def run_notebooks() -> int:
    """Run every instructor and student notebook, WORKERS at a time (a process each, one kernel thread each);
    report any error or warning a cell prints."""
    paths = [p for folder in ("notebooks", "student") for p in sorted((ROOT / folder).glob("[0-9][0-9]*_*.ipynb"))]
    env = {**os.environ, "COURSE_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    running, failures = {}, 0

    def finish(proc) -> int:
        path, began = running.pop(proc)
        report = json.loads(proc.stdout.read() or '{"error": "no report", "warned": []}')
        status = "error: " + report["error"] if report["error"] else ("warned" if report["warned"] else "ok")
        print(f"  {path.relative_to(ROOT)}: {status} ({time.perf_counter() - began:.0f} s)", flush=True)
        for line in report["warned"]:
            print("     ", line[:300])
        return int(bool(report["error"] or report["warned"]))

    for path in paths:
        while len(running) >= WORKERS:
            done = [proc for proc in running if proc.poll() is not None]
            if not done:
                time.sleep(0.5)
            for proc in done:
                failures += finish(proc)
        proc = subprocess.Popen([sys.executable, __file__, "notebook", str(path)], env=env, stdout=subprocess.PIPE,
                                text=True)
        running[proc] = (path, time.perf_counter())
    while running:
        proc = next(iter(running))
        proc.wait()
        failures += finish(proc)
    return 1 if failures else 0


def verified_line() -> str:
    """One line per verified stack: its versions and the date of the run (README and website)."""
    parts = []
    for name in NAMES:
        path = VERIFIED / f"{name}.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text())
        if not r["passed"]:
            continue
        v = r["versions"]
        python = f"Python {v['python']}" + ("" if r.get("python_exact", True) else " (standing in)")
        libs = ", ".join(f"{k} {v[k]}" for k in ("torch", "numpy", "scikit-learn", "matplotlib", "ipywidgets",
                                                  "ipykernel") if k in v)
        parts.append(f"**{name}** ({python}, {libs}; {r['date']})")
    return "Verified with: " + "; ".join(parts) + "." if parts else ""


def write_readme() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{verified_line()}\n{README_END}{tail}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["test"] and len(argv) >= 2:
        return test(argv[1], argv[2:])
    if argv[:1] == ["build"] and len(argv) == 2:
        print(build(argv[1]))
        return 0
    if argv[:1] == ["notebooks"]:
        return run_notebooks()
    if argv[:1] == ["notebook"] and len(argv) == 2:
        error, warned = run_notebook(Path(argv[1]))
        print(json.dumps({"error": error, "warned": warned}))
        return 0
    if argv[:1] == ["readme"]:
        write_readme()
        return 0
    print(__doc__.split("\n\n")[1])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
