"""Notebook 00's lesson module: the wave's live figure and the two exercises' checks (tiers and diagnoses)."""

import math

import matplotlib.figure
import numpy as np
import pytest
import torch

from course_lib.lessons import grading
from course_lib.lessons import start_here as lesson


def test_plot_wave_is_the_view_at_fixed_values_with_labelled_axes():
    fig = lesson.plot_wave(2.0, 0.5)
    assert isinstance(fig, matplotlib.figure.Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lesson.wave(lesson.WAVE_X, 2.0, 0.5))
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "sin" not in legend and "exp" not in legend, "the legend must not give exercise 2's formula away"


def test_wave_view_update_touches_only_animated_artists():
    view = lesson.WaveView()
    view.update(frequency=3.0, damping=1.0)
    np.testing.assert_allclose(view.upper.get_ydata(), np.exp(-lesson.WAVE_X))
    assert view.title.get_text() == "frequency = 3.0, damping = 1.0 (envelope at x = 2: 0.14)"
    assert set(view.animated) == {view.line, view.upper, view.lower, view.title}
    view.update(frequency=2.0, damping=3.0)  # swings that look flat on the linear axis are not 0
    assert view.title.get_text().endswith("(envelope at x = 2: 0.0025)")


def test_the_students_wave_is_drawn_beside_the_reference_and_never_breaks_the_widget():
    def stub(x, frequency, damping):
        raise NotImplementedError

    labels = {}
    for name, fn in (("right", lesson.wave), ("stub", stub), ("bug", lambda x, f, d: x / 0 + [1]),
                     ("short", lambda x, f, d: x[:3])):
        view = lesson.WaveView(fn)
        labels[name] = view.update(frequency=1.0, damping=1.0)
        assert labels[name] == view.legend.get_texts()[-1].get_text()
        if name == "right":
            np.testing.assert_allclose(view.mine.get_ydata(), lesson.wave(lesson.WAVE_X, 1.0, 1.0))
        else:
            assert np.isnan(view.mine.get_ydata()).all(), name
    assert labels == {"right": "your wave", "stub": "your wave (not written yet)",
                      "bug": "your wave (it raises TypeError)", "short": "your wave (shape (3,), not one value per x)"}
    live = lesson.wave_widget(student=stub)
    live.controls["damping"].value = 1.0
    assert live.image.value and not live.status.value
    assert lesson.WaveView().update(1.0, 1.0) is None  # no student line: one background


def test_demo_widget_redraws_for_every_control():
    live = lesson.demo_widgets()["wave"]
    assert set(live.controls) == {"frequency", "damping"}
    assert live.values() == {"frequency": 2.0, "damping": 0.5}  # the notebook's defaults
    for name, value in (("frequency", 4.0), ("damping", 2.0)):
        before = live.image.value
        live.controls[name].value = value
        assert live.image.value != before and not live.status.value, name


def test_check_hello_accepts_four(capsys):
    lesson.check_hello(2 + 2)
    lesson.check_hello(4.0)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("wrong, diagnosis", [("2" + "2", "quotes make text"), ("4", "not a number"),
                                              (5, "is 5, which is not two plus two"), ([4], "should be a number")])
def test_check_hello_diagnoses(wrong, diagnosis, capsys):
    lesson.check_hello(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and diagnosis in out and "Hint:" not in out


def test_check_hello_escalates_and_says_not_yet_on_none(capsys):
    lesson.check_hello(None)
    assert "still `None`" in capsys.readouterr().out
    lesson.check_hello(5)
    assert "Hint: what does Python give for two plus two?" in capsys.readouterr().out  # second miss: the formula
    lesson.check_hello(3)
    out = capsys.readouterr().out
    assert "Python tutorial, Sec. 3.1.1" in out and "start_here.py" not in out  # third: what to read, not the code


def test_demo_hint_tiers_shows_three_tiers_and_forgets_them(capsys):
    lesson.demo_hint_tiers()
    out = capsys.readouterr().out
    assert out.count("Not yet") == 3 and "Hint: an hour has 60 minutes" in out and "Read the SI Brochure" in out
    assert "check_demo" not in grading.attempts and "check_hello" not in grading.attempts
    lesson.check_demo(5)
    assert "Hint:" not in capsys.readouterr().out


def test_demo_hint_tiers_gives_away_no_exercise_of_the_notebook(capsys):
    lesson.demo_hint_tiers()
    out = capsys.readouterr().out
    assert "check_hello" not in out and "2 + 2" not in out and "= 4" not in out  # exercise 1
    assert "sin" not in out and "exp" not in out and "pi" not in out  # exercise 2


def test_check_demo_accepts_3600_and_names_a_minute(capsys):
    lesson.check_demo(60)
    assert "seconds in a minute" in capsys.readouterr().out
    lesson.check_demo(60 * 60)
    assert capsys.readouterr().out.startswith("✅")


def test_check_wave_accepts_reference_and_other_formulations(capsys):
    lesson.check_wave(lesson.wave)
    assert capsys.readouterr().out.startswith("✅ Correct! That is the wave")
    lesson.check_wave(lesson.wave)
    lesson.check_wave(lambda x, f, d: torch.exp(-d * x.float()) * torch.sin(2 * math.pi * f * x.float()))
    lesson.check_wave(lambda x, f, d: np.exp(-d * x.numpy()) * np.sin(2 * np.pi * f * x.numpy()))
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda x, f, d: torch.exp(-d * x) * torch.sin(f * x), "factor 2 pi"),
    (lambda x, f, d: torch.exp(d * x) * torch.sin(2 * math.pi * f * x), "grows instead of decaying"),
    (lambda x, f, d: torch.sin(2 * math.pi * f * x), "damping is missing"),
    (lambda x, f, d: torch.exp(-d * x) * torch.cos(2 * math.pi * f * x), "cosine"),
    (lambda x, f, d: torch.sin(2 * math.pi * f * x * torch.exp(-d * x)), "not on how fast"),
    (lambda x, f, d: x[:3], "shape"),
])
def test_check_wave_names_each_mistake_then_escalates(wrong, diagnosis, capsys):
    lesson.check_wave(wrong)
    out = capsys.readouterr().out
    assert diagnosis in out and "Hint:" not in out
    lesson.check_wave(wrong)
    assert "Hint: how many radians make one full turn" in capsys.readouterr().out
    lesson.check_wave(wrong)
    out = capsys.readouterr().out
    assert "Feynman Lectures on Physics, Vol. I, Sec. 24-2" in out and "start_here.py" not in out


def test_check_wave_asks_a_question_when_no_known_mistake_matches(capsys):
    lesson.check_wave(lambda x, f, d: x * 0 + 1)
    out = capsys.readouterr().out
    assert "flat index" not in out and "is at x = 0.5 (frequency = 1.5" in out  # an x, not an array index
    assert "0 at x = 0" in out and "same factor per unit of x" in out and "exp(" not in out and "2 pi" not in out


def test_check_wave_says_not_yet_on_stub(capsys):
    def stub(x, frequency, damping):
        raise NotImplementedError

    lesson.check_wave(stub)
    assert "replace the `raise NotImplementedError`" in capsys.readouterr().out
