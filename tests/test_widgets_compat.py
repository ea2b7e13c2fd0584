"""The notebooks' widgets work with Colab's ipywidgets 7.7 as well as with the pinned ipywidgets 8.

Every name a notebook imports from ipywidgets, every widget it builds and every ``interact(...)`` call it
makes is rebuilt under both versions, in one subprocess per version (every notebook in turn) whose ``sys.path``
starts with the version's folder (``./course setup test`` installs 7.7 into ``.venv/ipywidgets7``, from
``tests/ipywidgets7.txt``). Warnings
are errors there, so an argument a widget does not know (traitlets only warns about it) fails the test.
Widget arguments that depend on the notebook's state are checked by name against the widget's traits.
"""

import ast
import functools
import inspect
import json
import os
import subprocess
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import ipywidgets
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.py"))
IPYWIDGETS7 = ROOT / ".venv" / "ipywidgets7"

PROBE = r'''
import json, sys, traceback, warnings
import matplotlib  # imported before warnings become errors: their own deprecations are not the widgets'
matplotlib.use("Agg")
import matplotlib.pyplot as plt
warnings.simplefilter("error")
warnings.filterwarnings("ignore", message=".*ipykernel.comm.Comm.*")  # ipywidgets 7 on a new ipykernel
import ipywidgets
from ipywidgets import fixed, interact
from IPython.display import display
from course_lib.widgets import LiveFigure


def build(w):
    cls = getattr(ipywidgets, w["class"])
    unknown = [k for k in [*w["kwargs"], *w["state_kwargs"]] if k not in cls.class_trait_names()]
    assert not unknown, f"{w['where']}: {w['class']} has no trait {unknown} in ipywidgets {ipywidgets.__version__}"
    return cls(**w["kwargs"]) if not w["state_kwargs"] else None


class StubView:  # a view whose update accepts the notebook's control names
    def __init__(self):
        self.fig, ax = plt.subplots(figsize=(2, 1))
        (self.line,) = ax.plot([0, 1], [0, 1])
        self.animated, self.calls = [self.line], 0
    def update(self, **values):
        self.calls += 1
        self.line.set_ydata([0, self.calls % 3])
    def describe(self, **values):
        return f"A stub line that moves on every update, for the values {values}."


def check(spec):
    for name in spec["imports"]:
        getattr(ipywidgets, name)
    for call in spec["interacts"]:
        controls = {}
        for name, arg in call["controls"].items():
            widget = build(arg) if isinstance(arg, dict) else arg
            controls[name] = fixed(0) if widget is None else widget
        stub = eval(f"lambda {', '.join(call['params'])}: None")
        interact(stub, **controls)
    for call in spec["live"]:
        controls = {name: build(arg) for name, arg in call["controls"].items()}
        live = LiveFigure(StubView(), **{k: v for k, v in controls.items() if v is not None})
        bundle = live.mimebundle()
        assert {"image/png", "application/vnd.jupyter.widget-view+json"} <= set(bundle), bundle.keys()
        display(live)
        for name, control in live.controls.items():  # every control drives a redraw
            before, options = live.view.calls, getattr(control, "options", None)
            if options:
                values = [v[1] if isinstance(v, tuple) else v for v in options]
                control.value = values[-1] if control.value != values[-1] else values[0]
            elif hasattr(control, "max"):
                control.value = control.max if control.value != control.max else control.min
            else:
                continue
            assert live.view.calls == before + 1, (name, ipywidgets.__version__)
    plt.close("all")
    return f"{ipywidgets.__version__} {len(spec['interacts'])} {len(spec['live'])}"


for notebook, spec in json.loads(sys.stdin.read()).items():  # every notebook in one interpreter: one start-up
    try:
        result = check(spec)
    except Exception:
        result = "FAILED " + traceback.format_exc()
    print("\nRESULT " + json.dumps({notebook: result}))
'''


def widget_spec(node, where, widget_names):
    """A widget constructor call, e.g. ``IntSlider(value=1, max=9)``, as JSON (state-dependent values by name)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in widget_names):
        return None
    literal, state = {}, []
    for kw in node.keywords:
        try:
            literal[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            state.append(kw.arg)
    return {"class": node.func.id, "kwargs": literal, "state_kwargs": state, "where": where}


def factory_spec(node, namespace, where):
    """A control built by a course_lib function, e.g. ``toy_steps_slider()``: the constructor call it returns,
    with the module constants it names (``options=TOY_STEP_COUNTS``) replaced by their values.
    Returns ``(spec, ipywidgets names the function imports)``, or ``(None, [])`` for anything else."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in namespace):
        return None, []
    func = namespace[node.func.id]
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "ipywidgets"
             for a in n.names]
    returns = [n.value for n in ast.walk(tree) if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)]
    if len(returns) != 1:
        return None, []
    for kw in returns[0].keywords:
        if isinstance(kw.value, ast.Name) and kw.value.id in func.__globals__:
            kw.value = ast.Constant(func.__globals__[kw.value.id])
    return widget_spec(returns[0], f"{where} via {func.__name__}", set(names)), names


def params_of(func, namespace):
    if isinstance(func, ast.Lambda):
        return [a.arg for a in func.args.args]
    return list(inspect.signature(eval(ast.unparse(func), namespace)).parameters)  # a course_lib function


def notebook_spec(path: Path) -> dict:
    tree = ast.parse(path.read_text())
    imports, namespace = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "ipywidgets":
            imports += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module.startswith("course_lib"):
            module = import_module(node.module)
            for a in node.names:  # a name, or a submodule such as ``lessons.residual_in_diffusion``
                value = getattr(module, a.name, None) or import_module(f"{node.module}.{a.name}")
                namespace[a.asname or a.name] = value
    interacts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "interact":
            where = f"{path.name}:{node.lineno}"
            controls = {}
            for kw in node.keywords:
                spec = widget_spec(kw.value, where, set(imports))
                if spec is None:
                    try:
                        spec = ast.literal_eval(kw.value)  # an abbreviation such as (0, 10)
                    except ValueError:
                        pytest.fail(f"{where}: control {kw.arg} is neither a widget nor a literal")
                controls[kw.arg] = spec
            interacts.append({"params": params_of(node.args[0], namespace), "controls": controls})
    live = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "LiveFigure":
            where = f"{path.name}:{node.lineno}"
            controls = {}
            for kw in node.keywords:
                if kw.arg in ("fixed", "cache_size"):
                    continue
                spec = widget_spec(kw.value, where, set(imports))
                if spec is None:
                    spec, names = factory_spec(kw.value, namespace, where)
                    imports += [n for n in names if n not in imports]
                if spec is None:
                    pytest.fail(f"{where}: LiveFigure control {kw.arg} is neither an ipywidgets constructor call "
                                "nor a course_lib function returning one")
                controls[kw.arg] = spec
            live.append({"controls": controls})
    return {"imports": imports, "interacts": interacts, "live": live}


def probe(specs: dict, first_on_path: Path | None = None) -> dict[str, str]:
    """Run PROBE on ``specs`` (``{notebook: spec}``) in one new interpreter, ``first_on_path`` (an ipywidgets
    version) ahead of site-packages. Returns ``{notebook: "VERSION N_INTERACTS N_LIVE"}``, or a traceback that
    starts with "FAILED"."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if first_on_path:
        env["PYTHONPATH"] = str(first_on_path)
    out = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps(specs), capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    results = {}
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            results.update(json.loads(line[len("RESULT "):]))
    return results


@functools.cache
def probed(version: str) -> dict[str, str]:
    """Every notebook's widgets built under ``version`` (one interpreter for all of them)."""
    specs = {path.stem: notebook_spec(path) for path in NOTEBOOKS}
    if version.startswith("7"):
        if not (IPYWIDGETS7 / "ipywidgets").is_dir():
            pytest.fail(f"ipywidgets 7.7 is missing from {IPYWIDGETS7}: run ./course setup test")
        return probe(specs, IPYWIDGETS7)
    return probe(specs)


def test_every_widget_call_is_found():
    for path in NOTEBOOKS:
        spec = notebook_spec(path)
        assert len(spec["interacts"]) == path.read_text().count("interact("), path.name
        assert len(spec["live"]) == path.read_text().count("LiveFigure("), path.name
    assert sum(len(notebook_spec(p)["interacts"]) + len(notebook_spec(p)["live"]) for p in NOTEBOOKS) >= 6


def test_a_failing_notebook_fails_alone():
    """One notebook's error is reported as its own, and the probe goes on to the next one."""
    bad = {"imports": ["NoSuchWidget"], "interacts": [], "live": []}
    good = {"imports": ["IntSlider"], "interacts": [], "live": []}
    results = probe({"bad": bad, "good": good})
    assert results["bad"].startswith("FAILED") and "NoSuchWidget" in results["bad"]
    assert results["good"] == f"{ipywidgets.__version__} 0 0"


@pytest.mark.parametrize("version", ["8 (pinned)", "7.7 (Colab)"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widgets_build_under_both_ipywidgets(path, version):
    spec = notebook_spec(path)
    out = probed(version).get(path.stem, "no result")
    assert not out.startswith("FAILED"), out
    assert out.startswith("7.7." if version.startswith("7") else ipywidgets.__version__), out
    assert out.split()[1:3] == [str(len(spec["interacts"])), str(len(spec["live"]))]
