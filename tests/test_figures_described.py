"""Every figure is described in words (issue 27): a reader who cannot see the picture (a screen reader, the website's
alt text, a diff of a notebook) gets what it shows and what to see in it.

* ``plotting.finish(fig, description)`` puts the description in the notebook output's ``text/plain``, beside the
  inline backend's PNG (instead of ``<Figure size 560x256 with 1 Axes>``);
* a ``LiveFigure``'s output text is its view's ``describe(**values)`` for the current values (instead of a repr);
* each website frame of a live figure has its description in ``index.json``'s ``alts``.
"""

import json
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "student").glob("*.ipynb"))
FRAMES = sorted((ROOT / "site" / "frames").glob("*/*/index.json"))
MIN_WORDS = 8


def undescribed(text: str) -> str | None:
    """Why ``text`` does not describe a figure (None when it does)."""
    if text.startswith("<Figure"):
        return "matplotlib's repr"
    if text.startswith("LiveFigure("):
        return "LiveFigure's repr"
    if re.search(r"\.png\b", text):
        return "a file name"
    if len(text.split()) < MIN_WORDS:
        return f"fewer than {MIN_WORDS} words"
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_figure_in_a_notebook_is_described(path):
    nb = json.loads(path.read_text())
    bad, figures = [], 0
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" not in data:
                continue
            figures += 1
            text = "".join(data.get("text/plain", ""))
            why = undescribed(text)
            if why:
                bad.append(f"cell {i}: {why}: {text[:80]!r}")
    assert not bad, f"{path.name}: {figures} figures, undescribed:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", FRAMES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_every_frame_of_a_live_figure_has_its_alt_text(path):
    index = json.loads(path.read_text())
    alts, names = index.get("alts", {}), [c["name"] for c in index["controls"]]
    assert set(alts) == set(index["frames"]), "index.json needs one alt per frame"
    for key, alt in alts.items():
        assert undescribed(alt) is None, (key, alt)
        values = key.split("|") if names else []
        assert len(values) == len(names), key
        for name, value in zip(names, values):
            if value not in ("True", "False"):  # a checkbox is described in words ("beside its residual twin")
                assert value in alt, f"frame {key}: the alt text does not give {name} = {value}: {alt!r}"
    if len(alts) > 1:
        assert len(set(alts.values())) > 1, "every frame has the same alt text"


@pytest.fixture
def shell_with_inline_png():
    """IPython's display formatter with the inline backend's PNG formatter registered, as in a notebook kernel."""
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    shell = InteractiveShell.instance()
    set_matplotlib_formats("png")
    return shell


def test_a_finished_figure_shows_its_png_and_its_description(shell_with_inline_png):
    from course_lib.plotting import finish

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    description = "A line falling from 1 to 0 against x: read its slope."
    assert finish(fig, description) is fig and fig.description == description
    bundle, _ = shell_with_inline_png.display_formatter.format(fig)
    assert bundle["text/plain"] == description
    assert bundle["image/png"]  # still drawn by the inline backend's formatter
    plain, _ = shell_with_inline_png.display_formatter.format(plt.figure())
    assert plain["text/plain"].startswith("<Figure")  # an undescribed figure: what the tests above reject


def test_a_figure_needs_a_description():
    from course_lib.plotting import finish

    fig = plt.figure()
    with pytest.raises(TypeError):
        finish(fig)  # the description is required
    with pytest.raises(ValueError, match="description"):
        finish(fig, "a figure")


def test_a_live_figure_describes_the_values_its_controls_hold():
    from ipywidgets import FloatSlider

    from course_lib.lessons.start_here import WaveView
    from course_lib.widgets import LiveFigure, is_live_figure

    live = LiveFigure(WaveView(), frequency=FloatSlider(value=2.0, min=0.5, max=5.0, step=0.5),
                      damping=FloatSlider(value=0.5, min=0.0, max=3.0, step=0.5))
    first = live.mimebundle()["text/plain"]
    assert "frequency = 2.0" in first and "damping = 0.5" in first and undescribed(first) is None
    live.controls["frequency"].value = 4.5
    live.controls["damping"].value = 3.0
    bundle = live.mimebundle()
    assert "frequency = 4.5" in bundle["text/plain"] and "damping = 3.0" in bundle["text/plain"]
    assert bundle["text/plain"] == live.description() and "image/png" in bundle
    assert is_live_figure({"data": bundle, "metadata": live.output_metadata()})
    assert not is_live_figure({"data": bundle, "metadata": {}})


def test_exported_frames_carry_each_frames_description(tmp_path):
    from ipywidgets import Dropdown, IntSlider

    from course_lib.frames import export_frames
    from course_lib.lessons.forward_diffusion import ForwardView, t_follows_T
    from course_lib.widgets import LiveFigure

    live = t_follows_T(LiveFigure(ForwardView(), t=IntSlider(value=10, min=0, max=99),
                                  schedule=Dropdown(options=["linear", "cosine"], value="linear"),
                                  T=Dropdown(options=[50, 100], value=100)))
    index = export_frames(live, tmp_path, budget_s=60)
    assert set(index["alts"]) == set(index["frames"])
    for key, alt in index["alts"].items():
        t, schedule, T = key.split("|")
        assert f"t = {t} of T = {T} with the {schedule} schedule" in alt, (key, alt)
    # t past T - 1 cannot be shown (the t slider follows T): such a frame is keyed, and described, by the t shown
    assert all(int(key.split("|")[0]) < int(key.split("|")[2]) for key in index["frames"])
    assert any(key.endswith("|50") for key in index["frames"]) and "99" in index["controls"][0]["values"]
    assert json.loads((tmp_path / "index.json").read_text())["alts"] == index["alts"]
