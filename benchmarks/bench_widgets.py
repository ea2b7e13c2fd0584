"""How fast every widget of every notebook answers: from a control's new value to the PNG bytes the browser
receives (artists updated, canvas drawn or blitted, PNG encoded).

    python benchmarks/bench_widgets.py [--repeat 1]

Each lesson module's ``demo_widgets()`` builds its notebook's widgets (same controls and ranges, on small
stand-in inputs). Every control is moved through up to 12 values spread over its range (every option of a
dropdown) with the others at their defaults, with the frame cache emptied first, so a repeated value is not
served from it. A control built with ``continuous_update=False``, or named in the view's ``computes``, computes
(target: median under 500 ms); every other control only looks up or plots (target: median under 100 ms).
Two threads, like a Binder CPU.

Writes ``benchmarks/results/widgets.json`` and prints a table, with the "before" column from
``benchmarks/results/widgets_before.json`` (``bench_widgets_interact.py``) where it has the same widget.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "widgets.json"
BEFORE = ROOT / "benchmarks" / "results" / "widgets_before.json"
TARGET_MS = {"view": 100, "compute": 500}


def control_values(control, most: int = 12) -> list:
    """Values to move ``control`` through: every option, or up to ``most`` slider values spread over its range."""
    if hasattr(control, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        if type(control).__name__ == "SelectMultiple":
            return [(v,) for v in values] + [tuple(values[:2])]
        return values
    if hasattr(control, "max"):
        if isinstance(control.value, bool):
            return [not control.value, control.value]
        grid = np.linspace(control.min, control.max, most)
        step = getattr(control, "step", None) or 1
        values = sorted({type(control.value)(control.min + round((g - control.min) / step) * step) for g in grid})
        return [v for v in values if control.min <= v <= control.max]
    if isinstance(getattr(control, "value", None), bool):
        return [not control.value, control.value]
    return []


def kind(live, name: str) -> str:
    """"compute" for a control built with ``continuous_update=False`` or named in the view's ``computes``."""
    control = live.controls[name]
    computes = getattr(control, "continuous_update", True) is False or name in getattr(live.view, "computes", ())
    return "compute" if computes else "view"


def sweep(live, name: str, repeat: int = 1) -> dict:
    control = live.controls[name]
    start_value = control.value
    times = []
    for _ in range(repeat):
        for value in control_values(control):
            if value == control.value:
                continue
            live.cache.clear()
            start = time.perf_counter()
            control.value = value
            times.append(1000 * (time.perf_counter() - start))
            if live.status.value:
                raise RuntimeError(f"{name}={value!r}: {live.status.value}")
    live.cache.clear()
    control.value = start_value
    return {"kind": kind(live, name), "median_ms": round(float(np.median(times)), 1),
            "p90_ms": round(float(np.percentile(times, 90)), 1), "n": len(times),
            "png_kb": round(len(live.image.value) / 1024, 1)}


def before_for(before: dict, module: str, control: str) -> dict | None:
    """The "before" row of the same notebook and control name (the old widgets had other names)."""
    number = next((p.name.split("_")[0] for p in (ROOT / "notebooks").glob(f"[0-9][0-9]*_{module}.py")), None)
    rows = [controls[control] for name, controls in before.items() if name[:2] == number and control in controls]
    return rows[0] if len(rows) == 1 else None


def lesson_modules() -> list[str]:
    import course_lib.lessons as lessons

    return [m.name for m in pkgutil.iter_modules(lessons.__path__) if m.name != "grading"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=1, help="sweeps per control")
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(2)
    from course_lib.lessons import setup_notebook

    setup_notebook(0)
    before = json.loads(BEFORE.read_text())["widgets"] if BEFORE.exists() else {}
    results = {}
    for module_name in lesson_modules():
        module = importlib.import_module(f"course_lib.lessons.{module_name}")
        if not hasattr(module, "demo_widgets"):
            continue
        start = time.perf_counter()
        widgets = module.demo_widgets()
        built = time.perf_counter() - start
        for widget_name, live in widgets.items():
            results[widget_name] = {"module": module_name, "build_s": round(built, 2),
                                    "controls": {name: sweep(live, name, args.repeat) for name in live.controls}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": platform.machine(), "threads": 2, "widgets": results}, indent=1) + "\n")

    print("| widget | control | kind | before median / p90 (ms) | after median / p90 (ms) | target | |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    for widget_name, widget in results.items():
        for name, r in widget["controls"].items():
            old = before_for(before, widget["module"], name)
            old_text = f"{old['median_ms']:.0f} / {old['p90_ms']:.0f}" if old else "(new)"
            ok = r["median_ms"] < TARGET_MS[r["kind"]]
            failed += not ok
            print(f"| {widget_name} | {name} | {r['kind']} | {old_text} | {r['median_ms']:.0f} / {r['p90_ms']:.0f} | "
                  f"< {TARGET_MS[r['kind']]} | {'✓' if ok else '✗'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
