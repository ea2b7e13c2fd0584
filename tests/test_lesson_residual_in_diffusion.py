"""Notebook 07's lesson module: its samples widget and its exercises' checks (course_lib.lessons.grading)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib.lessons import grading
from course_lib.lessons import residual_in_diffusion as capstone
from course_lib.lessons.residual_in_diffusion import SWEEP_VARIANTS, SamplesView, Variant, load_results


@pytest.fixture(autouse=True)
def fresh_attempts():
    grading.attempts.clear()
    yield
    grading.attempts.clear()


@pytest.fixture(scope="module")
def rows():
    return load_results()[1]


# ----------------------------------------------------------------------------- the samples widget

def test_demo_widget_follows_every_control():
    live = capstone.demo_widgets()["capstone samples"]
    assert set(live.controls) == {"a", "b", "seed"}
    assert list(live.controls["a"].options) == [v.name for v in capstone.VARIANTS if v in SWEEP_VARIANTS]
    for name, value in [("a", "plain / skip=none"), ("b", "residual, default init / skip=none"), ("seed", 3)]:
        before = live.image.value
        live.controls[name].value = value
        assert live.status.value == "" and live.image.value != before, name


def test_samples_view_shows_the_chosen_variants_and_seed(rows):
    view = SamplesView(rows)
    view.update("residual / skip=add", "plain / skip=add", seed=2)
    a, b = Variant("residual", "add"), Variant("plain", "add")
    _, shown = view.grid(a, 2)
    assert shown == 0  # the shipped file stores samples of seed 0 only: the grid says which seed it shows
    assert np.array_equal(view.images[0].get_array(), view.grids[(a, 0)])
    assert "seed 0" in view.titles[0].get_text() and "seed 2 not stored" in view.titles[0].get_text()
    fd_a, fd_b = a.by_seed(rows, "fd")[2], b.by_seed(rows, "fd")[2]
    assert list(view.chosen.get_ydata()) == [fd_a, fd_b]
    assert f"seed 2: {fd_a - fd_b:+.0f}" in view.difference.get_text()
    assert view.images[0].get_interpolation() == "nearest"


def test_samples_view_uses_the_chosen_seed_when_it_has_samples(rows):
    rows = [dict(r) for r in rows]
    donor = next(r for r in rows if "samples" in r and r["kind"] == "plain" and r["skip"] == "none")
    target = next(r for r in rows if r["seed"] == 1 and r["kind"] == "residual" and r["skip"] == "concat")
    target["samples"] = donor["samples"]
    view = SamplesView(rows)
    view.update("residual / skip=concat", "plain / skip=none", seed=1)
    assert np.array_equal(view.images[0].get_array(), view.grids[(Variant("residual", "concat"), 1)])
    assert "not stored" not in view.titles[0].get_text()


def test_show_samples_is_a_static_figure(rows):
    fig = capstone.show_samples(rows, "residual / skip=none", "plain / skip=none", seed=4)
    assert len(fig.axes) == 3 and "seed 4" in fig.axes[2].get_title()
