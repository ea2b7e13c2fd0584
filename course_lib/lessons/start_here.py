"""Notebook 00, start here: the slider demo (a live figure) and two small exercises that show how checks grade."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..plotting import finish
from .grading import as_float64, attempts, diagnose, graded, report

WAVE_X = np.linspace(0, 2, 400)  # the x grid of the wave demo


def wave(x, frequency: float = 1.0, damping: float = 0.0):
    """y = exp(-damping x) sin(2 pi frequency x): a sine of ``frequency`` full turns per unit of x whose
    envelope exp(-damping x) decays. Works on NumPy arrays and tensors of any shape."""
    lib = torch if isinstance(x, torch.Tensor) else np
    return lib.exp(-damping * x) * lib.sin(2 * math.pi * frequency * x)


class WaveView:
    """Widget body of notebook 00, built once: the wave and its envelope +-exp(-damping x) on [0, 2].

    ``update(frequency, damping)`` only sets the y data of the lines and the title's text (the axes never change),
    so a slider move redraws just those artists. The title gives the envelope's height at x = 2, so that a strong
    damping, whose swings look flat on the linear axis, still shows they are not 0.

    ``student``: a function ``student(x, frequency, damping)`` (exercise 2's ``wave``) drawn beside the reference,
    dotted; while it raises or returns something that is not one value per x, its line stays empty and the legend
    says why.
    """

    def __init__(self, student=None):
        import matplotlib.pyplot as plt

        self.student = student
        self.fig, ax = plt.subplots(figsize=(7, 3.2))
        # the legend names the curves, not their formula: exercise 2 asks for it
        (self.line,) = ax.plot(WAVE_X, np.zeros_like(WAVE_X), color="C0", label="the wave")
        (self.upper,) = ax.plot(WAVE_X, np.ones_like(WAVE_X), "--", color="0.5", lw=1,
                                label="its envelope (how far it may swing)")
        (self.lower,) = ax.plot(WAVE_X, -np.ones_like(WAVE_X), "--", color="0.5", lw=1)
        self.mine = None
        if student is not None:
            (self.mine,) = ax.plot(WAVE_X, np.full_like(WAVE_X, np.nan), ":", color="C3", lw=2.2, label="your wave")
        ax.set_xlim(0, 2)
        ax.set_ylim(-1.1, 1.1)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        # the legend sits below the axes, where it hides no data
        self.legend = ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
        self.title = ax.set_title(" ")
        self.fig.tight_layout()
        self.animated = [self.line, self.upper, self.lower, self.title]
        if self.mine is not None:
            self.animated.append(self.mine)
        plt.close(self.fig)  # closed: the inline backend must not show it a second time

    def _student_curve(self, frequency: float, damping: float):
        """The student's curve on ``WAVE_X`` and the legend's label for it (why it is missing, if it is)."""
        try:
            y = self.student(torch.as_tensor(WAVE_X), frequency, damping)
            y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y, dtype=float)
        except NotImplementedError:
            return None, "your wave (not written yet)"
        except Exception as err:  # a student's bug must not break the widget
            return None, f"your wave (it raises {type(err).__name__})"
        if y.shape != WAVE_X.shape:
            return None, f"your wave (shape {y.shape}, not one value per x)"
        return y, "your wave"

    def describe(self, frequency: float = 1.0, damping: float = 0.0) -> str:
        mine = " Your wave (red, dotted) is drawn over it: where the two differ, your function does." \
            if self.mine is not None else ""
        return (f"A wave on x from 0 to 2 (blue) with frequency = {frequency} and damping = {damping}, between "
                "its envelope (grey, dashed), which sets how far it may swing. Count its full turns, and watch "
                f"how fast its swings die out as the damping grows.{mine}")

    def update(self, frequency: float = 1.0, damping: float = 0.0) -> str | None:
        """Set the lines for these values; returns the name of the background (the student line's legend label,
        which changes when the student's function starts or stops working; None without a student line)."""
        envelope = np.exp(-damping * WAVE_X)
        self.line.set_ydata(wave(WAVE_X, frequency, damping))
        self.upper.set_ydata(envelope)
        self.lower.set_ydata(-envelope)
        self.title.set_text(f"frequency = {frequency:.1f}, damping = {damping:.1f} "
                            f"(envelope at x = 2: {envelope[-1]:.2g})")
        if self.mine is not None:
            y, label = self._student_curve(frequency, damping)
            self.mine.set_ydata(np.full_like(WAVE_X, np.nan) if y is None else y)
            self.legend.get_texts()[-1].set_text(label)
            return label
        return None


def plot_wave(frequency: float = 1.0, damping: float = 0.0, student=None):
    """The figure of ``WaveView`` for one setting, as a static figure (to call with fixed arguments); with
    ``student``, that function's curve beside the reference."""
    view = WaveView(student)
    view.update(frequency, damping)
    return finish(view.fig, view.describe(frequency, damping))


def wave_widget(frequency: float = 2.0, damping: float = 0.5, student=None):
    """Notebook 00's live figure: frequency (0.5-5) and damping (0-3) sliders over ``WaveView`` (with ``student``:
    that function's curve beside the reference)."""
    from ipywidgets import FloatSlider

    from ..widgets import LiveFigure

    return LiveFigure(WaveView(student), frequency=FloatSlider(value=frequency, min=0.5, max=5.0, step=0.5),
                      damping=FloatSlider(value=damping, min=0.0, max=3.0, step=0.5))


def demo_widgets() -> dict:
    """Notebook 00's widget, with the notebook's controls, ranges and defaults (no stand-in needed: it computes
    nothing)."""
    return {"wave": wave_widget()}


# ----------------------------------------------------------------------------- exercises

def _number_diagnosis(answer, words: str) -> str:
    """What is wrong with ``answer``, an attempt at a number described by ``words`` ("two plus two")."""
    if isinstance(answer, str):
        return (f"`answer` is the text {answer!r}, not a number: quotes make text (and + glues texts together: "
                "'1' + '1' is '11'). Write the numbers without quotes.")
    if not isinstance(answer, (int, float)) or isinstance(answer, bool):
        return f"`answer` should be a number, it is a {type(answer).__name__}."
    return f"`answer` is {answer}, which is not {words}."


@graded
def check_hello(answer) -> None:
    """00, exercise 1: the answer is 2 + 2. Shows the tiers: what is wrong, then a hint, then what to read."""
    return report(not isinstance(answer, (str, bool)) and answer == 4, "You know how exercises work.",
                  _number_diagnosis(answer, "two plus two"),
                  formula="what does Python give for two plus two? Store that number (not a string) in `answer`.",
                  reference="the Python tutorial, Sec. 3.1.1 (Numbers): https://docs.python.org/3/tutorial/introduction.html")


@graded
def check_demo(answer) -> None:
    """The exercise of ``demo_hint_tiers`` (none of the notebook's): ``answer`` is the number of seconds in an
    hour, 60 * 60."""
    diagnosis = _number_diagnosis(answer, "the number of seconds in an hour")
    if isinstance(answer, int) and not isinstance(answer, bool) and answer == 60:
        diagnosis += " That is the number of seconds in a minute (or of minutes in an hour)."
    return report(not isinstance(answer, (str, bool)) and answer == 3600, "That is 60 minutes of 60 seconds.",
                  diagnosis, formula="an hour has 60 minutes, and each minute 60 seconds.",
                  reference="the SI Brochure (BIPM 2019), Table 8: the hour and the minute, in seconds")


@graded
def check_wave(fn) -> None:
    """00, exercise 2: ``fn(x, frequency, damping)`` must draw the widget's curve, ``wave`` (a sine of ``frequency``
    full turns per unit of x, under an envelope that decays exponentially at the rate ``damping``).

    Hints climb from a question (what the curve must do) to the idea, then to a textbook section; they never name
    the function that holds the solution."""
    x = torch.linspace(0, 2, 9, dtype=torch.float64)
    frequency, damping = 1.5, 0.75
    want = wave(x, frequency, damping)
    got = fn(x, frequency, damping)
    mistakes = {
        "the frequency is off by a factor 2 pi: `frequency` counts full turns per unit of x, and one turn is "
        "2 pi radians.": torch.exp(-damping * x) * torch.sin(frequency * x),
        "the wave grows instead of decaying: check the sign inside the exponential.":
            torch.exp(damping * x) * torch.sin(2 * math.pi * frequency * x),
        "the damping is missing: the envelope should shrink as x grows.": torch.sin(2 * math.pi * frequency * x),
        "the envelope multiplies the angle: the shrinking should act on how far the wave swings, not on how fast "
        "it turns.": torch.sin(2 * math.pi * frequency * x * torch.exp(-damping * x)),
        "that is a cosine: the wave starts at 0 when x = 0.": torch.exp(-damping * x) * torch.cos(
            2 * math.pi * frequency * x),
    }
    diagnosis = diagnose(got, want, mistakes)
    if diagnosis is not None and diagnosis not in mistakes and not diagnosis.startswith(("the shape", "expected")):
        values = as_float64(got)
        if values is not None and torch.isfinite(values).all():
            gap = (values.reshape(-1) - want).abs()
            worst = int(gap.argmax())
            diagnosis = (f"the values differ: the largest difference, {float(gap[worst]):.3g}, is at "
                         f"x = {float(x[worst]):g} (frequency = {frequency}, damping = {damping}).")
        diagnosis = (f"{diagnosis} Try your function by hand with frequency = 1 and damping = 0: is it 0 at x = 0, "
                     "rising, and back at 0 after one full turn at x = 1? Then with damping = 1: does each swing "
                     "shrink by the same factor per unit of x?")
    return report(diagnosis is None, "That is the wave the sliders above draw.", diagnosis or "",
                  formula=("how many radians make one full turn of a sine? And which function shrinks by the same "
                           "factor over every unit of x? The shrinking multiplies the sine from outside."),
                  reference=("Feynman, Leighton and Sands, The Feynman Lectures on Physics, Vol. I, Sec. 24-2 "
                             "(damped oscillations: a sine under a decaying exponential envelope)"))


def demo_hint_tiers() -> None:
    """Show how a check answers three wrong tries in a row (first what is wrong, then a hint, then what to read)
    on a demonstration exercise that is none of the notebook's (the number of seconds in an
    hour), then forget those tries."""
    print("Demonstration exercise: set `answer` to the number of seconds in an hour.\n")
    for wrong in ("60 * 60", 60, 360):
        print(f">>> check_demo({wrong!r})")
        check_demo(wrong)
    attempts.pop("check_demo", None)
