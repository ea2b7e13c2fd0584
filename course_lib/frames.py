"""Static frames of a live figure, for pages without a kernel (the course website).

A ``LiveFigure`` redraws its view when a student moves a control; a static page has no Python to do that. So
when a notebook is run to refresh its stored outputs (``./course notebooks``), each live figure also renders
itself over a grid of its controls' values, through the same view and the same ``LiveFigure.render`` the
widget calls, and writes the frames next to an index::

    site/frames/<notebook>/<k>/index.json     controls (name, kind, values, labels, default), frames, and alts
                                              (each frame's description in words, the view's ``describe``)
    site/frames/<notebook>/<k>/<i>.png        one PNG per frame

``k`` counts the notebook's live figures in the order they are shown. The website (``scripts/build_site.py``)
puts a small plain-JavaScript slider over them. Which frames: every value of a choice control (dropdown,
toggle buttons, checkbox), a grid of at most ``MAX_VALUES`` values of a slider; all combinations when there
are at most ``MAX_FRAMES`` of them, otherwise each control's values with the others at their starting values.
Frames are rendered starting values first, then nearest first, until ``budget_s`` runs out (a view that
computes, say sampling with 1,000 steps, gets the frames the budget affords; the page says which are missing).

Export happens only where ``COURSE_FRAMES_DIR`` names a folder; students' runs never pay for it.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import time
from pathlib import Path

MAX_VALUES = 25
MAX_FRAMES = 60
ENV = "COURSE_FRAMES_DIR"
_shown = {"count": 0}  # live figures shown so far in this kernel


def _choices(control) -> list:
    options = getattr(control, "_options_full", None)  # ipywidgets 7 and 8: (label, value) pairs
    if options:
        return [value for _, value in options]
    return list(getattr(control, "options", []))


def _grid(values: list, current, n: int) -> list:
    """At most ``n`` of ``values`` (in order), evenly spread, always with the first, the last and ``current``."""
    if len(values) <= n:
        return list(values)
    picks = {round(i * (len(values) - 1) / (n - 2)) for i in range(n - 1)}
    keep = [v for i, v in enumerate(values) if i in picks]
    if current in values and current not in keep:
        keep.append(current)
    return sorted(keep, key=values.index)


def control_values(control, max_values: int = MAX_VALUES) -> tuple[str, list]:
    """``(kind, values)`` of one ipywidgets control: kind "select" (a menu) or "slider" (ordered values)."""
    import ipywidgets

    current = control.value
    if isinstance(control, ipywidgets.SelectMultiple):  # the current selection, nothing, and each single option
        values = [tuple(current), ()] + [(v,) for v in _choices(control)]
        return "select", list(dict.fromkeys(values))
    if isinstance(control, ipywidgets.Checkbox):
        return "select", [False, True]
    if isinstance(control, ipywidgets.SelectionSlider):
        return "slider", _grid(_choices(control), current, max_values)
    if hasattr(control, "options"):
        return "select", _choices(control)
    if isinstance(control, (ipywidgets.IntSlider, ipywidgets.FloatSlider)):
        step = control.step or 1
        n = int((control.max - control.min) / step + 1e-9) + 1
        values = [control.min + i * step for i in range(n)]
        if values[-1] < control.max:
            values.append(control.max)
        values = [int(v) if isinstance(control, ipywidgets.IntSlider) else round(v, 10) for v in values]
        return "slider", _grid(values, current, max_values)
    return "select", [current]


def label(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) if value else "(none)"
    return str(value)


def plan(controls: dict[str, tuple[str, list]], start: dict, max_frames: int = MAX_FRAMES) -> list[dict]:
    """The value combinations to render, starting values first: every combination when there are at most
    ``max_frames``, else one control at a time (the others at their starting values), nearest values first."""
    names = list(controls)
    sizes = [len(values) for _, values in controls.values()]
    total = 1
    for size in sizes:
        total *= size
    if total <= max_frames:
        combos = [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in controls.values()))]
    else:
        combos = [dict(start)]
        for name, (_, values) in controls.items():
            combos += [{**start, name: v} for v in values if v != start[name]]

    def distance(combo: dict) -> float:
        d = 0.0
        for name, (_, values) in controls.items():
            if combo[name] != start[name]:
                i = values.index(start[name]) if start[name] in values else 0
                d += 1 + abs(values.index(combo[name]) - i) / len(values)
        return d

    unique = {json.dumps([label(c[n]) for n in names]): c for c in combos}
    return sorted(unique.values(), key=distance)


def png_for_web(png: bytes) -> bytes:
    """Re-encode a frame for the web: 256 colours (no dithering) and full compression, about 3x smaller than
    the live widget's fast PNG; a line plot or an 8x8 digit looks the same."""
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        buffer, format="png", optimize=True)
    return buffer.getvalue()


def export_frames(live, folder: Path, budget_s: float = 20.0, max_frames: int = MAX_FRAMES) -> dict:
    """Render ``live`` over its controls' grid into ``folder`` (index.json and one PNG per frame), within
    ``budget_s`` seconds; the controls are set back to their starting values after. Returns the index."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    start = live.values()
    controls = {name: control_values(c) for name, c in live.controls.items()}
    for name, (_, values) in controls.items():
        if start[name] not in values:
            values.insert(0, start[name])
    index = {"controls": [{"name": name, "kind": kind, "values": [label(v) for v in values],
                           "default": label(start[name])} for name, (kind, values) in controls.items()],
             "frames": {}, "alts": {}, "planned": 0}
    combos = plan(controls, start, max_frames)
    index["planned"] = len(combos)
    began = time.perf_counter()
    try:
        for i, combo in enumerate(combos):
            if i and time.perf_counter() - began > budget_s:
                break
            for _ in range(2):  # twice: a slider whose range follows another control (t follows T) clamps a
                for name, value in combo.items():  # value set before that control; the second pass restores it
                    live.controls[name].value = value  # as a student would: the widget renders (and caches) it
            shown = live.values()  # what the widget shows: a combination the controls cannot take stays clamped
            key = "|".join(label(shown[c["name"]]) for c in index["controls"])
            if key in index["frames"]:
                continue
            for c in index["controls"]:  # a clamped value gets its own slider position
                values = controls[c["name"]][1]
                if shown[c["name"]] not in values:
                    values.append(shown[c["name"]])
                    if c["kind"] == "slider" and all(isinstance(v, (int, float)) for v in values):
                        values.sort()
                    c["values"] = [label(v) for v in values]
            (folder / f"{i}.png").write_bytes(png_for_web(live.render()))
            index["frames"][key] = f"{i}.png"
            index["alts"][key] = live.description()  # the frame in words, for its alt text
    finally:
        for name, value in start.items():
            live.controls[name].value = value
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return index


def export_if_asked(live) -> None:
    """Called when a live figure is shown: export its frames where ``COURSE_FRAMES_DIR`` is set."""
    root = os.environ.get(ENV)
    if not root:
        return
    k = _shown["count"]
    _shown["count"] += 1
    export_frames(live, Path(root) / str(k))
