"""course_lib.widgets.LiveFigure: a blitted frame is the full figure, caches and backgrounds work, errors stay shown."""

import base64
import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from ipywidgets import Dropdown, IntSlider
from PIL import Image

from course_lib.widgets import LiveFigure, figure_png


class SineView:
    """A line, an image and a title that change with ``k``; ``span`` sets the x axis (a new background)."""

    def __init__(self):
        self.fig, (self.ax, right) = plt.subplots(1, 2, figsize=(4, 2), dpi=60)
        self.x = np.linspace(0, 1, 50)
        (self.line,) = self.ax.plot(self.x, self.x)
        self.image = right.imshow(np.zeros((4, 4)), vmin=0, vmax=15, interpolation="nearest")
        self.title = self.ax.set_title("")
        self.fig.tight_layout()
        plt.close(self.fig)
        self.animated = [self.line, self.image, self.title]
        self.calls = 0

    def update(self, k: int = 1, span: int = 1):
        self.calls += 1
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.line.set_data(self.x * span, np.sin(k * self.x))
        self.image.set_data(np.arange(16).reshape(4, 4) % (k + 1))
        self.title.set_text(f"k = {k}")
        self.ax.set_xlim(0, span)
        return span

    def describe(self, k: int = 1, span: int = 1, **_) -> str:
        return f"A sine of frequency k = {k} on x from 0 to {span}, beside an image of stripes that k sets."


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def full_draw(view) -> np.ndarray:
    """The same figure drawn the ordinary way (no artist animated)."""
    animated = [a for a in view.fig.findobj() if a.get_animated()]
    for a in animated:
        a.set_animated(False)
    try:
        return pixels(figure_png(view.fig))
    finally:
        for a in animated:
            a.set_animated(True)


def make():
    return LiveFigure(SineView(), k=IntSlider(value=1, min=0, max=5), span=Dropdown(options=[1, 2], value=1))


def test_blitted_frames_equal_full_draws_across_backgrounds():
    live = make()
    for k, span in [(1, 1), (3, 1), (3, 2), (5, 2), (0, 1)]:
        live.controls["span"].value = span
        live.controls["k"].value = k
        got = pixels(live.image.value)
        assert live.view.title.get_text() == f"k = {k}"
        diff = np.abs(got - full_draw(live.view)).max(-1)
        # identical but for the pixels where a tick mark crosses a spine beside an image (a few, slightly darker)
        assert (diff > 0).sum() <= 8 and diff.max() <= 16, (k, span, (diff > 0).sum(), diff.max())
    assert set(live._backgrounds) == {1, 2}  # one background per axis span, drawn once each


def test_frames_are_cached_by_control_values():
    live = make()
    first = live.image.value
    live.controls["k"].value = 4
    calls = live.view.calls
    assert live.image.value != first
    live.controls["k"].value = 1
    assert live.image.value == first and live.view.calls == calls  # from the cache, no update


def test_warm_renders_every_choice_and_restores_the_values():
    live = make()
    live.controls["k"].value = 2
    live.warm()
    assert live.values() == {"k": 2, "span": 1}
    assert {key for key in live.cache} >= {(("k", 2), ("span", 1)), (("k", 2), ("span", 2))}


def test_an_error_in_the_view_is_shown_and_the_widget_survives():
    live = LiveFigure(SineView(), k=IntSlider(value=1, min=-1, max=5))
    good = live.image.value
    live.controls["k"].value = -1
    assert "ValueError" in live.status.value and "k must be >= 0" in live.status.value
    assert live.image.value == good
    live.controls["k"].value = 2
    assert live.status.value == "" and live.image.value != good


def test_the_output_carries_a_static_png_beside_the_widget_view():
    live = make()
    bundle = live.mimebundle()
    assert base64.b64decode(bundle["image/png"]) == live.image.value
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "live-figure" in live.widget._dom_classes


def test_fixed_arguments_reach_the_view():
    class Recorder(SineView):
        def update(self, k=1, span=1, label=""):
            self.label = label
            return super().update(k, span)

    live = LiveFigure(Recorder(), fixed={"label": "digits"}, k=IntSlider(value=1, min=0, max=3))
    assert live.view.label == "digits"


@pytest.mark.parametrize("dpi", [60, 100])
def test_figure_png_has_the_figure_size_in_pixels(dpi):
    fig, _ = plt.subplots(figsize=(3, 2), dpi=dpi)
    assert pixels(figure_png(fig)).shape == (2 * dpi, 3 * dpi, 3)
    plt.close(fig)


def test_the_view_figure_is_closed_so_a_notebook_shows_it_once():
    class OpenView:  # a view that forgets to close its figure
        def __init__(self):
            self.fig, ax = plt.subplots()
            (self.line,) = ax.plot([0, 1])

        def update(self, k):
            self.line.set_ydata([0, k])

        def describe(self, k):
            return f"A line from 0 to k = {k}, which rises as k grows."

    view = OpenView()
    assert plt.fignum_exists(view.fig.number)
    LiveFigure(view, k=IntSlider(value=1, min=0, max=5))
    assert not plt.fignum_exists(view.fig.number)


def test_a_view_must_describe_itself():
    class Mute:  # a view without describe(**values)
        def __init__(self):
            self.fig, _ = plt.subplots()

        def update(self, k):
            pass

    with pytest.raises(TypeError, match="describe"):
        LiveFigure(Mute(), k=IntSlider(value=1, min=0, max=5))


def test_every_control_has_a_label_its_name_unless_given():
    """A slider without a label has no accessible name: a screen reader says only "slider"."""
    live = LiveFigure(SineView(), k=IntSlider(value=1, min=0, max=5),
                      span=Dropdown(options=[1, 2], value=1, description="x span"))
    assert live.controls["k"].description == "k"
    assert live.controls["span"].description == "x span"


def test_the_output_text_is_the_views_description_of_the_current_values():
    live = make()
    assert live.mimebundle()["text/plain"] == "A sine of frequency k = 1 on x from 0 to 1, beside an image of " \
                                              "stripes that k sets."
    live.controls["k"].value = 4
    live.controls["span"].value = 2
    assert live.mimebundle()["text/plain"].startswith("A sine of frequency k = 4 on x from 0 to 2")
    assert live.output_metadata()["course_lib_live_figure"] == {"view": "SineView", "values": {"k": "4", "span": "2"}}
