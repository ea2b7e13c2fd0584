"""Live figures: a matplotlib figure built once and redrawn in place while a student moves a slider.

``interact(show_x, ...)`` rebuilds the whole figure on every tick and the inline backend then encodes it
twice (``bbox_inches="tight"`` draws once to measure): hundreds of milliseconds, so the picture trails the
hand. A *view* instead builds its figure once and, on each change, only updates its artists
(``set_data``, ``set_ydata``, ``set_text``); ``LiveFigure`` draws it on the Agg canvas, encodes one PNG
(fast compression) and puts the bytes in an ``ipywidgets.Image``. Rendered frames are cached by control
values, so going back to a value costs nothing.

A view is any object with a ``fig``, an ``update(**values)`` method and a ``describe(**values)`` method, which
says in words what the figure shows for those values (the output's text, the website's alt text: a reader who
cannot see the picture gets it; written from the values, never from computed numbers, so that it is the same on
every machine)::

    class WaveView:
        def __init__(self):
            self.fig, ax = plt.subplots()
            (self.line,) = ax.plot(x, np.sin(x))
        def update(self, frequency):
            self.line.set_ydata(np.sin(frequency * x))
        def describe(self, frequency):
            return f"A sine wave of frequency {frequency} against x: count its turns."

    LiveFigure(WaveView(), frequency=FloatSlider(value=1, min=0.5, max=5))

A view that lists its changing artists in ``animated`` (LiveFigure marks them animated) is redrawn by
blitting: the rest of the figure (axes, ticks, labels, whose text layout is most of a draw's cost) is drawn
once and restored, and only the animated artists are drawn again. When ``update`` also changes the rest (new
axis limits, say), it returns a key naming that background (for example T); each background is drawn once
and kept, and ``warm()`` draws them all up front.

The same output cell also carries the figure as a plain PNG: JupyterLab, Colab and VS Code show the live
widget, while GitHub, nbviewer and nbval (which cannot run widgets) show the figure for the default values.
The widgets used are common to ipywidgets 7.7 (Colab) and 8.
"""

from __future__ import annotations

import base64
import io
import time
from collections import OrderedDict

PNG_OPTIONS = {"compress_level": 1}  # zlib level 1: several times faster to encode than the default 6
# A live figure's output carries this key in its metadata (``{"view": <view class>, "values": {...}}``): how a
# tool that reads a stored notebook (the website's builder) finds live figures. Its text is the view's description.
OUTPUT_KEY = "course_lib_live_figure"


def is_live_figure(output: dict) -> bool:
    """Whether ``output`` (a stored notebook output, as a dict) is a ``LiveFigure``'s."""
    return OUTPUT_KEY in (output.get("metadata") or {})


def agg_canvas(fig):
    """``fig``'s Agg canvas (the inline backend's and ipympl's figures already have one)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return fig.canvas if hasattr(fig.canvas, "copy_from_bbox") else FigureCanvasAgg(fig)


def canvas_png(canvas) -> bytes:
    """Encode what ``canvas`` last drew as PNG bytes (RGB, fast compression)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB").save(
        buffer, format="png", **PNG_OPTIONS)
    return buffer.getvalue()


def figure_png(fig) -> bytes:
    """Draw all of ``fig`` once on its Agg canvas and encode it (no tight bounding box: a live figure's layout
    is fixed when it is built, so one draw suffices)."""
    canvas = agg_canvas(fig)
    canvas.draw()
    return canvas_png(canvas)


class LiveFigure:
    """Controls above a figure that follows them. ``controls`` are ipywidgets value widgets, by the name of the
    view's ``update`` argument they drive; ``fixed`` are further ``update`` arguments that never change.

    A control built without a ``description`` is labelled with its name (what the website's static slider shows).

    The view's ``describe(**values)`` (the controls' and ``fixed`` values) says what the figure shows for them:
    the output's text (``mimebundle``) and each website frame's alt text (``frames.export_frames``).

    A control whose update takes long (it computes rather than looks up) should be built with
    ``continuous_update=False``, and a view names such controls in ``computes`` (a set of names: the benchmark
    holds them to 500 ms rather than 100 ms); while an update runs, a line under the controls says "computing...".
    """

    def __init__(self, view, cache_size: int = 512, fixed: dict | None = None, **controls):
        import ipywidgets
        import matplotlib.pyplot as plt

        if not callable(getattr(view, "describe", None)):
            raise TypeError(f"{type(view).__name__} has no describe(**values): a live figure must say what it shows")
        plt.close(view.fig)  # shown through the widget only: the inline backend would draw it a second time
        for name, control in controls.items():
            if not control.description:  # a control's label is also its name for a screen reader
                control.description = name
        self.view, self.controls, self.fixed = view, controls, dict(fixed or {})
        self.cache: OrderedDict[tuple, bytes] = OrderedDict()
        self.cache_size = cache_size
        self.last_seconds = 0.0
        self._backgrounds: dict = {}
        self._current = None
        self.status = ipywidgets.HTML(value="")
        self._on_top = []  # spines of axes that hold animated artists: a full draw puts them over the data
        for artist in getattr(view, "animated", ()):
            artist.set_animated(True)  # left out of full draws, drawn over the stored background
            if artist.axes is not None and artist.axes.axison:  # an axis-off panel draws no spines
                self._on_top += [s for s in artist.axes.spines.values() if s.get_visible() and s not in self._on_top]
        for spine in self._on_top:
            spine.set_animated(True)
        self.image = ipywidgets.Image(format="png", value=self.render())
        for control in controls.values():
            control.observe(self._changed, names="value")
        self.widget = ipywidgets.VBox([*controls.values(), self.status, self.image])
        self.widget.add_class("live-figure")  # how the browser test finds it

    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def description(self) -> str:
        """What the figure shows for the current values, in words (the view's ``describe``)."""
        return self.view.describe(**self.values(), **self.fixed)

    def render(self) -> bytes:
        """PNG bytes of the figure for the current values (from the cache when it was drawn before)."""
        values = self.values()
        key = tuple(values.items())
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        background = self.view.update(**values, **self.fixed)
        png = self.draw(background)
        self.cache[key] = png
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return png

    def draw(self, background=None) -> bytes:
        """The figure as PNG: all of it for a view without ``animated`` artists; otherwise the background named
        ``background`` (drawn once, then restored) under the animated artists, drawn anew."""
        fig = self.view.fig
        canvas = agg_canvas(fig)
        if not getattr(self.view, "animated", None):
            canvas.draw()
            return canvas_png(canvas)
        background = self._current if background is None else background
        if background not in self._backgrounds:
            canvas.draw()  # skips animated artists
            self._backgrounds[background] = canvas.copy_from_bbox(fig.bbox)
        else:
            canvas.restore_region(self._backgrounds[background])
        self._current = background
        for artist in [*self.view.animated, *self._on_top]:
            (artist.axes or fig).draw_artist(artist)
        return canvas_png(canvas)

    def warm(self) -> LiveFigure:
        """Render every combination of the choice controls (dropdowns, toggle buttons) at the current slider
        values, so that the first move to another option is already cached; returns self."""
        import itertools

        choices = {name: [v for _, v in getattr(c, "_options_full", [])] or list(getattr(c, "options", []))
                   for name, c in self.controls.items() if hasattr(c, "options")}
        start = self.values()
        for combo in itertools.product(*choices.values()):
            for name, value in zip(choices, combo):
                self.controls[name].value = value
        for name, value in start.items():
            self.controls[name].value = value
        return self

    def _changed(self, change=None) -> None:
        start = time.perf_counter()
        self.status.value = "<i>computing...</i>"
        try:
            self.image.value = self.render()
            self.status.value = ""
        except Exception as err:  # keep the widget alive and say what went wrong
            self.status.value = f"<b>{type(err).__name__}:</b> {err}"
        self.last_seconds = time.perf_counter() - start

    def mimebundle(self) -> dict:
        """The widget view plus a PNG of the current figure for renderers without widgets, and the figure's
        description for the current values as its text."""
        bundle = {"text/plain": self.description(),
                  "image/png": base64.b64encode(self.image.value).decode("ascii")}
        model_id = getattr(self.widget, "model_id", None)
        if model_id is not None:
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2, "version_minor": 0, "model_id": model_id}
        return bundle

    def output_metadata(self) -> dict:
        """The output's metadata: ``OUTPUT_KEY`` names the view and the values it shows."""
        from .frames import label

        return {OUTPUT_KEY: {"view": type(self.view).__name__,
                             "values": {name: label(value) for name, value in self.values().items()}}}

    def _ipython_display_(self) -> None:  # ipywidgets 7.7 and 8 alike
        from IPython.display import display

        from .frames import export_if_asked

        display(self.mimebundle(), raw=True, metadata=self.output_metadata())
        export_if_asked(self)  # static frames for the website, only where COURSE_FRAMES_DIR is set
